//! Cursors: opaque, signed page positions. A cursor names the page it leads to and the index entry
//! that page starts after (or, going back, before), and is bound to the listing it was issued for,
//! so a deep page costs what the first page costs and a cursor cannot be moved to another listing.
//!
//! Wire form: `base64url(claims JSON) "." base64url(HMAC-SHA256(claims JSON))`.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::request::MAX_PAGE;
use crate::domain::{Anchor, ObjectId, PageRequest, Position, SortDirection, Timestamp};
use crate::error::Error;

/// How long a cursor stays usable; older ones are refused as stale.
const CURSOR_LIFETIME_SECONDS: i64 = 3600;
/// Issuers' clocks may run this far ahead of ours.
const CLOCK_SKEW_SECONDS: i64 = 60;
/// Longer than any cursor this service issues: the longest anchor is a display-name sort key (128
/// characters of up to 4 bytes) with both filters set, about 1,100 characters once encoded.
const MAX_CURSOR_CHARS: usize = 2048;
const VERSION: u8 = 1;

pub struct CursorKey(hmac::Key);

/// The listing a cursor is bound to. Short names keep cursors short; they never leave this module.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Listing {
    /// Organization, user and policy filters, sort, visibility, limit.
    o: String,
    u: Option<String>,
    p: Option<String>,
    s: String,
    d: bool,
    l: u64,
}

impl Listing {
    fn of(organization: &ObjectId, request: &PageRequest) -> Self {
        let direction = match request.sort.direction {
            SortDirection::Ascending => "asc",
            SortDirection::Descending => "desc",
        };
        let id = |id: &Option<ObjectId>| id.as_ref().map(|id| id.as_str().to_string());
        Self {
            o: organization.as_str().to_string(),
            u: id(&request.filter.user),
            p: id(&request.filter.policy),
            s: format!("{}:{direction}", request.sort.field.name()),
            d: request.show_deleted,
            l: request.limit,
        }
    }
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Claims {
    v: u8,
    #[serde(flatten)]
    listing: Listing,
    /// The page the cursor leads to.
    n: u64,
    /// The anchor: token id, its sort key, and whether the page lies before it.
    i: String,
    k: String,
    b: bool,
    /// Issued at, seconds since the epoch.
    t: i64,
}

fn invalid(reason: &str) -> Error {
    Error::invalid("cursor", reason)
}

fn malformed() -> Error {
    invalid("is not a cursor this service issued")
}

/// The two base64url parts of a cursor, decoded; checked with the other parameters, before the
/// organization is looked up.
pub fn check_form(raw: &str) -> Result<(Vec<u8>, Vec<u8>), Error> {
    if raw.len() > MAX_CURSOR_CHARS {
        return Err(malformed());
    }
    let (payload, tag) = raw.split_once('.').ok_or_else(malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| malformed())?;
    Ok((payload, tag))
}

impl CursorKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// A cursor to page `page` of the listing `request` describes, starting from `anchor`.
    pub fn issue(
        &self,
        organization: &ObjectId,
        request: &PageRequest,
        page: u64,
        anchor: &Anchor,
        now: Timestamp,
    ) -> String {
        let claims = Claims {
            v: VERSION,
            listing: Listing::of(organization, request),
            n: page,
            i: anchor.from.token.as_str().to_string(),
            k: anchor.from.sort_key.clone(),
            b: anchor.backward,
            t: now.timestamp(),
        };
        let payload = serde_json::to_vec(&claims).expect("claims always serialise");
        let tag = hmac::sign(&self.0, &payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The page and anchor of a cursor, once it is shown to be ours, unaltered, fresh, and issued
    /// for this very listing.
    pub fn open(
        &self,
        raw: &str,
        organization: &ObjectId,
        request: &PageRequest,
        now: Timestamp,
    ) -> Result<(u64, Anchor), Error> {
        let (payload, tag) = check_form(raw)?;
        hmac::verify(&self.0, &payload, &tag)
            .map_err(|_| invalid("is not a cursor this service issued, or it was altered"))?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| malformed())?;
        if claims.v != VERSION {
            return Err(invalid(
                "was issued by another version of this service; start again from page 1",
            ));
        }
        match now.timestamp().checked_sub(claims.t) {
            Some(age) if age > CURSOR_LIFETIME_SECONDS => {
                return Err(invalid(
                    "has expired (cursors last one hour); start again from page 1",
                ));
            }
            Some(age) if age >= -CLOCK_SKEW_SECONDS => {}
            _ => return Err(invalid("is dated in the future")),
        }
        if !(1..=MAX_PAGE).contains(&claims.n) {
            return Err(malformed());
        }
        if claims.listing != Listing::of(organization, request) {
            return Err(invalid(
                "was issued for another listing: give the organization, mdm-user, win-policy, sort, show-deleted and limit it was issued with",
            ));
        }
        let token = ObjectId::parse(&claims.i).map_err(|_| malformed())?;
        Ok((
            claims.n,
            Anchor {
                from: Position {
                    token,
                    sort_key: claims.k,
                },
                backward: claims.b,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::domain::{Filter, Sort, SortField};

    fn key() -> CursorKey {
        CursorKey::new(b"0123456789abcdef0123456789abcdef")
    }

    fn org(n: u8) -> ObjectId {
        ObjectId::parse(&format!("{n:024x}")).unwrap()
    }

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
    }

    fn anchor() -> Anchor {
        Anchor {
            from: Position {
                token: org(9),
                sort_key: "2026-12-01T00:00:00.000Z#000000000000000000000009".into(),
            },
            backward: false,
        }
    }

    fn issued(request: &PageRequest) -> String {
        key().issue(&org(1), request, 7, &anchor(), now())
    }

    fn refusal(result: Result<(u64, Anchor), Error>) -> String {
        match result {
            Err(Error::InvalidParameter(message)) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_cursor_opens_to_its_page_and_anchor() {
        let request = PageRequest::default();
        let opened = key().open(&issued(&request), &org(1), &request, now());
        assert_eq!(opened.unwrap(), (7, anchor()));
    }

    #[test]
    fn an_altered_or_foreign_signed_cursor_is_refused() {
        let request = PageRequest::default();
        let cursor = issued(&request);
        let (payload, tag) = cursor.split_once('.').unwrap();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["n"] = 1000.into();
        let altered = format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        let other_key = CursorKey::new(b"another-secret-another-secret-xx").issue(
            &org(1),
            &request,
            7,
            &anchor(),
            now(),
        );
        for bad in [
            altered,
            other_key,
            "x".into(),
            "a.b".into(),
            format!("{cursor}x"),
        ] {
            let message = refusal(key().open(&bad, &org(1), &request, now()));
            assert!(message.contains("'cursor'"), "{message}");
        }
    }

    #[test]
    fn a_cursor_only_opens_for_the_listing_it_was_issued_for() {
        let request = PageRequest::default();
        let cursor = issued(&request);
        let others = [
            PageRequest {
                limit: 11,
                ..PageRequest::default()
            },
            PageRequest {
                show_deleted: true,
                ..PageRequest::default()
            },
            PageRequest {
                sort: Sort {
                    field: SortField::CreatedAt,
                    direction: SortDirection::Ascending,
                },
                ..PageRequest::default()
            },
            PageRequest {
                filter: Filter {
                    user: Some(org(5)),
                    policy: None,
                },
                ..PageRequest::default()
            },
        ];
        for other in &others {
            let message = refusal(key().open(&cursor, &org(1), other, now()));
            assert!(message.contains("another listing"), "{message}");
        }
        let message = refusal(key().open(&cursor, &org(2), &request, now()));
        assert!(message.contains("another listing"), "{message}");
    }

    /// Signs `claims` as the service would: what only a holder of the key could send.
    fn signed(claims: &serde_json::Value) -> String {
        let payload = serde_json::to_vec(claims).unwrap();
        let tag = hmac::sign(&key().0, &payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    #[test]
    fn signed_but_impossible_claims_are_refused_not_a_panic() {
        let request = PageRequest::default();
        let cursor = issued(&request);
        let payload = URL_SAFE_NO_PAD
            .decode(cursor.split_once('.').unwrap().0)
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let with = |field: &str, value: serde_json::Value| {
            let mut claims = claims.clone();
            claims[field] = value;
            signed(&claims)
        };
        for bad in [
            with("t", i64::MIN.into()),
            with("t", i64::MAX.into()),
            with("n", 0.into()),
            with("n", u64::MAX.into()),
            with("n", (MAX_PAGE + 1).into()),
        ] {
            let message = refusal(key().open(&bad, &org(1), &request, now()));
            assert!(message.contains("'cursor'"), "{message}");
        }
    }

    #[test]
    fn the_longest_cursor_this_service_issues_is_accepted_back() {
        // A display-name sort key of 128 four-byte characters, both filters, every flag set.
        let name: String = "\u{1F600}".repeat(128);
        let request = PageRequest {
            sort: Sort {
                field: SortField::DisplayName,
                direction: SortDirection::Descending,
            },
            filter: Filter {
                user: Some(org(7)),
                policy: Some(org(8)),
            },
            show_deleted: true,
            limit: 100,
            ..PageRequest::default()
        };
        let anchor = Anchor {
            from: Position {
                token: org(9),
                sort_key: format!("1{name}\u{1}{}", org(9)),
            },
            backward: true,
        };
        let cursor = key().issue(&org(1), &request, MAX_PAGE, &anchor, now());
        assert!(cursor.len() <= MAX_CURSOR_CHARS, "{} chars", cursor.len());
        assert_eq!(
            key().open(&cursor, &org(1), &request, now()).unwrap(),
            (MAX_PAGE, anchor)
        );
    }

    #[test]
    fn a_cursor_goes_stale_after_its_lifetime() {
        let request = PageRequest::default();
        let cursor = issued(&request);
        let lifetime = Duration::seconds(CURSOR_LIFETIME_SECONDS);
        assert!(key()
            .open(&cursor, &org(1), &request, now() + lifetime)
            .is_ok());
        let late = now() + lifetime + Duration::seconds(1);
        let message = refusal(key().open(&cursor, &org(1), &request, late));
        assert!(message.contains("expired"), "{message}");
        let early = now() - Duration::seconds(CLOCK_SKEW_SECONDS + 1);
        assert!(key().open(&cursor, &org(1), &request, early).is_err());
    }
}

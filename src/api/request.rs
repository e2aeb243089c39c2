//! Parsing and validation of the request: path, method and every query parameter.
//! The same rules hold whichever event source the request came through.

use lambda_http::http::Method;
use lambda_http::{Request, RequestExt};
use percent_encoding::percent_decode_str;

use super::cursor::check_form;
use crate::domain::{Filter, ObjectId, PageRequest, Sort, SortDirection, SortField};
use crate::error::Error;

const PARAMETERS: [&str; 7] = [
    "page",
    "limit",
    "sort",
    "mdm-user",
    "win-policy",
    "show-deleted",
    "cursor",
];
pub const REQUIRED_PERMISSION: &str = "mdm.windows.enrollmentToken.list";
pub const MAX_LIMIT: u64 = 100;
/// The largest integer a JSON client (a JavaScript number) holds exactly.
pub const MAX_PAGE: u64 = 9_007_199_254_740_991;
const MAX_SLUG_CHARS: usize = 128;
/// The route after any stage or base-path prefix; `{}` is the organization.
const ROUTE: [&str; 7] = [
    "v1",
    "organizations",
    "{}",
    "mdm",
    "windows",
    "enterprise",
    "enrollment-tokens",
];

/// The organization as the path names it: its id or its slug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationRef(String);

impl OrganizationRef {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let valid = (3..=MAX_SLUG_CHARS).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(Self(raw.to_string()))
        } else {
            Err(Self::invalid())
        }
    }

    fn invalid() -> Error {
        Error::invalid(
            "organizationId",
            "must be a 24-character hexadecimal id or a slug of 3 to 128 letters, digits or hyphens",
        )
    }

    /// The id, when the reference has the form of one (a slug may have it too).
    pub fn as_id(&self) -> Option<ObjectId> {
        ObjectId::parse(&self.0).ok()
    }

    pub fn as_slug(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRequest {
    pub organization: OrganizationRef,
    pub page: PageRequest,
    /// A cursor as given; it is opened once the organization is known.
    pub cursor: Option<String>,
}

/// The organization segment, as given, once the path is this route and the method GET. Checked
/// before authentication, so that a wrong route or method is reported as such.
pub fn route(request: &Request) -> Result<String, Error> {
    let organization = organization_segment(request)?;
    if request.method() != Method::GET {
        return Err(Error::MethodNotAllowed);
    }
    Ok(organization)
}

/// The organization reference and every query parameter, validated.
pub fn parse_request(request: &Request, organization: &str) -> Result<ListRequest, Error> {
    let organization = percent_decode_str(organization)
        .decode_utf8()
        .map_err(|_| OrganizationRef::invalid())
        .and_then(|decoded| OrganizationRef::parse(&decoded))?;
    let query = request.query_string_parameters();
    let single = |name: &'static str| -> Result<Option<String>, Error> {
        match query.all(name) {
            None => Ok(None),
            Some(values) if values.len() > 1 => {
                Err(Error::invalid(name, "must be given at most once"))
            }
            Some(values) => Ok(values.first().map(|value| value.to_string())),
        }
    };
    let non_empty = |name: &'static str| -> Result<Option<String>, Error> {
        match single(name)? {
            Some(value) if value.is_empty() => Err(Error::invalid(name, "must not be empty")),
            other => Ok(other),
        }
    };
    let page = match non_empty("page")? {
        None => 1,
        Some(raw) => parse_integer(&raw)
            .filter(|page| (1..=MAX_PAGE).contains(page))
            .ok_or_else(|| {
                Error::invalid("page", &format!("must be an integer from 1 to {MAX_PAGE}"))
            })?,
    };
    let limit = match non_empty("limit")? {
        None => 10,
        Some(raw) => parse_integer(&raw)
            .filter(|limit| *limit <= MAX_LIMIT)
            .ok_or_else(|| {
                Error::invalid(
                    "limit",
                    "must be an integer from 0 to 100 (0 returns totals only)",
                )
            })?,
    };
    let sort = match single("sort")? {
        None => Sort::default(),
        Some(raw) if raw.is_empty() => Sort::default(),
        Some(raw) => parse_sort(&raw)?,
    };
    let id = |name: &'static str| -> Result<Option<ObjectId>, Error> {
        non_empty(name)?
            .map(|raw| {
                ObjectId::parse(&raw)
                    .map_err(|_| Error::invalid(name, "must be a 24-character hexadecimal id"))
            })
            .transpose()
    };
    let filter = Filter {
        user: id("mdm-user")?,
        policy: id("win-policy")?,
    };
    let show_deleted = match non_empty("show-deleted")? {
        None => false,
        Some(raw) => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => {
                return Err(Error::invalid(
                    "show-deleted",
                    "must be true, false, 1 or 0",
                ))
            }
        },
    };
    let cursor = non_empty("cursor")?;
    if let Some(cursor) = &cursor {
        if query.all("page").is_some() {
            return Err(Error::invalid(
                "cursor",
                "cannot be combined with page (the cursor names its page)",
            ));
        }
        check_form(cursor)?;
    }
    Ok(ListRequest {
        organization,
        page: PageRequest {
            page,
            limit,
            sort,
            filter,
            show_deleted,
            anchor: None,
        },
        cursor,
    })
}

/// Room for every parameter at its longest valid value (a cursor is at most 2,048 characters); a
/// client cannot make one log line larger than this by sending huge or repeated values.
const MAX_LOGGED_PARAMETERS_CHARS: usize = 4096;

/// The parameters this endpoint reads, as given, for the request log (never anything else a client
/// may have put in the query), cut to a bounded length.
pub fn logged_parameters(request: &Request) -> String {
    let query = request.query_string_parameters();
    let mut parts = Vec::new();
    for name in PARAMETERS {
        for value in query.all(name).unwrap_or_default() {
            parts.push(format!("{name}={value}"));
        }
    }
    let logged = parts.join("&");
    match logged.char_indices().nth(MAX_LOGGED_PARAMETERS_CHARS) {
        Some((cut, _)) => format!(
            "{}…({} more characters)",
            &logged[..cut],
            logged[cut..].chars().count()
        ),
        None => logged,
    }
}

/// Digits only: no sign, no spaces, no exponent; too large to hold counts as invalid.
fn parse_integer(raw: &str) -> Option<u64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

fn parse_sort(raw: &str) -> Result<Sort, Error> {
    let invalid = || {
        let fields: Vec<&str> = SortField::ALL.iter().map(|field| field.name()).collect();
        Error::invalid(
            "sort",
            &format!(
                "must be one of {}, optionally followed by :asc or :desc",
                fields.join(", ")
            ),
        )
    };
    let (name, direction) = match raw.split_once(':') {
        None => (raw, SortDirection::Ascending),
        Some((name, "asc")) => (name, SortDirection::Ascending),
        Some((name, "desc")) => (name, SortDirection::Descending),
        Some(_) => return Err(invalid()),
    };
    let field = SortField::from_name(name).ok_or_else(invalid)?;
    Ok(Sort { field, direction })
}

/// The organization segment: from the path parameters when the source gives them, else from the
/// path, where a stage or custom-domain base path may stand before the route.
fn organization_segment(request: &Request) -> Result<String, Error> {
    let from_parameters = request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first("organizationId"))
        .map(str::to_string);
    match from_parameters {
        Some(value) => Ok(value),
        None => {
            let path = match request.raw_http_path() {
                "" => request.uri().path().to_string(),
                raw => raw.to_string(),
            };
            route_organization(&path).ok_or(Error::RouteNotFound)
        }
    }
}

/// Segments a stage plus a custom-domain base path may add before the route.
const MAX_PREFIX_SEGMENTS: usize = 3;

fn route_organization(path: &str) -> Option<String> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = trimmed.strip_prefix('/')?.split('/').collect();
    let split = segments.len().checked_sub(ROUTE.len())?;
    let (prefix, tail) = segments.split_at(split);
    let plain_prefix = prefix.len() <= MAX_PREFIX_SEGMENTS
        && prefix.iter().all(|segment| {
            !segment.is_empty()
                && !ROUTE.contains(segment)
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.$".contains(&b))
        });
    if !plain_prefix {
        return None;
    }
    let mut organization = None;
    for (segment, expected) in tail.iter().zip(ROUTE) {
        if expected == "{}" {
            organization = Some(segment.to_string());
        } else if percent_decode_str(segment).decode_utf8().ok()? != expected {
            return None;
        }
    }
    organization
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with_query(pairs: &[(&str, String)]) -> Request {
        let mut query: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in pairs {
            query
                .entry(name.to_string())
                .or_default()
                .push(value.clone());
        }
        Request::default().with_query_string_parameters(query)
    }

    #[test]
    fn logged_parameters_are_the_endpoints_own_and_bounded_in_length() {
        let short = with_query(&[("limit", "5".into()), ("secret", "x".into())]);
        assert_eq!(logged_parameters(&short), "limit=5");

        let huge = with_query(&[("cursor", "é".repeat(70_000)), ("page", "2".into())]);
        let logged = logged_parameters(&huge);
        assert!(logged.starts_with("page=2&cursor=éé"), "{}", &logged[..20]);
        assert!(logged.ends_with("…(65918 more characters)"));
        assert_eq!(
            logged.chars().count(),
            MAX_LOGGED_PARAMETERS_CHARS + "…(65918 more characters)".chars().count()
        );

        let repeated = with_query(&vec![("page", "1".to_string()); 10_000]);
        assert!(logged_parameters(&repeated).chars().count() < MAX_LOGGED_PARAMETERS_CHARS + 40);
    }

    #[test]
    fn route_tolerates_prefixes_and_one_trailing_slash() {
        let org = Some("acme".to_string());
        let route = "/v1/organizations/acme/mdm/windows/enterprise/enrollment-tokens";
        assert_eq!(route_organization(route), org);
        assert_eq!(route_organization(&format!("{route}/")), org);
        assert_eq!(route_organization(&format!("/prod{route}")), org);
        assert_eq!(route_organization(&format!("/base/path{route}/")), org);
        assert_eq!(route_organization(&format!("{route}//")), None);
        assert_eq!(route_organization(&format!("/a/b/c{route}")), org);
        assert_eq!(route_organization(&format!("/a/b/c/d{route}")), None);
        assert_eq!(route_organization(&format!("/%FF{route}")), None);
        assert_eq!(route_organization(&format!("{route}{route}")), None);
        assert_eq!(route_organization(&format!("/prod/v1{route}")), None);
        assert_eq!(
            route_organization(&route.replace("-tokens", "%2Dtokens")),
            org
        );
        assert_eq!(route_organization("/v1/organizations/acme"), None);
        assert_eq!(
            route_organization(&route.replace("windows", "android")),
            None
        );
        assert_eq!(
            route_organization("/v1/organizations//mdm/windows/enterprise/enrollment-tokens"),
            Some(String::new())
        );
    }

    #[test]
    fn integers_are_digits_only() {
        assert_eq!(parse_integer("007"), Some(7));
        for bad in [
            "",
            "+1",
            "-1",
            "1.0",
            "1e3",
            " 1",
            "0x10",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sort_fields_and_directions() {
        let sort = parse_sort("displayName:desc").unwrap();
        assert_eq!(
            (sort.field, sort.direction),
            (SortField::DisplayName, SortDirection::Descending)
        );
        assert_eq!(
            parse_sort("state").unwrap().direction,
            SortDirection::Ascending
        );
        for bad in [
            "name",
            "createdAt:up",
            "createdAt:ASC",
            ":desc",
            "createdAt:asc:desc",
            "a b",
        ] {
            assert!(parse_sort(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn organization_reference_forms() {
        assert!(OrganizationRef::parse("698efa6ed851667d9c0aec88")
            .unwrap()
            .as_id()
            .is_some());
        assert!(OrganizationRef::parse("acme-corp")
            .unwrap()
            .as_id()
            .is_none());
        for bad in ["ab", "acme_corp", "acme corp", "ac/me", &"a".repeat(129)] {
            assert!(OrganizationRef::parse(bad).is_err(), "{bad:?}");
        }
    }
}

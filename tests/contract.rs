//! Contract tests: every parameter rule, error and envelope rule of the API page, through the real
//! handler over a real engine.

mod common;

use chrono::Duration;
use common::oracle::{every_listing, expected};
use common::*;
use enrollment_tokens::domain::{
    Filter, ObjectId, PageRequest, Sort, SortDirection, SortField, StoredState,
};
use serde_json::{json, Value};

struct World {
    harness: Harness,
    data: Data,
    a: ObjectId,
    b: ObjectId,
    users: [ObjectId; 3],
    policies: [ObjectId; 3],
}

/// Two organizations; A has 25 tokens over two users and two policies (ties on createdAt, every
/// state, never-expiring, expired, multi-policy and legacy-only tokens); B has 5 of its own.
async fn world() -> World {
    let harness = Harness::new().await;
    let (a, b) = (oid(1), oid(2));
    let users = [oid(11), oid(12), oid(21)];
    let policies = [oid(31), oid(32), oid(41)];
    let mut data = Data {
        organizations: vec![organization(&a, "acme"), organization(&b, "globex")],
        users: vec![
            user(&a, &users[0], "ada@acme.test"),
            user(&a, &users[1], "bob@acme.test"),
            user(&b, &users[2], "eve@globex.test"),
        ],
        policies: vec![
            policy(&a, &policies[0], "Baseline"),
            policy(&a, &policies[1], "Kiosk"),
            policy(&b, &policies[2], "Globex"),
        ],
        tokens: vec![],
    };
    for n in 0..25u64 {
        let mut t = token(&a, &oid(100 + n), (n / 2) as i64);
        t.mdm_user_id = match n % 3 {
            0 => Some(users[0].clone()),
            1 => Some(users[1].clone()),
            _ => None,
        };
        match n % 4 {
            0 => assign(&mut t, &[&policies[0]]),
            1 => assign(&mut t, &[&policies[0], &policies[1]]),
            2 => t.win_policy_id = Some(policies[1].clone()),
            _ => {}
        }
        t.state = match n % 5 {
            0 => StoredState::Deleted,
            1 => StoredState::Done,
            _ => StoredState::Pending,
        };
        if n % 7 == 0 {
            t.expire_at = None;
        } else if n % 6 == 0 {
            t.expire_at = Some(t.created_at + Duration::minutes(30));
        }
        t.display_name = (n % 8 != 0).then(|| format!("Device {}", n % 6));
        t.updated_at = t.created_at + Duration::minutes((n % 4) as i64);
        data.tokens.push(t);
    }
    for n in 0..5u64 {
        let mut t = token(&b, &oid(200 + n), n as i64);
        t.mdm_user_id = Some(users[2].clone());
        assign(&mut t, &[&policies[2]]);
        data.tokens.push(t);
    }
    harness.seed(&data).await;
    harness.clock.set(epoch() + Duration::hours(2));
    World {
        harness,
        data,
        a,
        b,
        users,
        policies,
    }
}

impl World {
    async fn list(&self, query: &str) -> Reply {
        self.list_as(&self.a.to_string(), query, &bearer(&self.a, &[LIST]))
            .await
    }

    async fn list_as(&self, organization: &str, query: &str, authorization: &str) -> Reply {
        let uri = format!("{}?{query}", path(organization));
        self.harness.get(&uri, Some(authorization)).await
    }

    /// No filter, each user, each policy, pairs, and a user of nobody's.
    fn filters(&self) -> Vec<Filter> {
        vec![
            Filter::default(),
            Filter {
                user: Some(self.users[0].clone()),
                policy: None,
            },
            Filter {
                user: Some(self.users[1].clone()),
                policy: None,
            },
            Filter {
                user: None,
                policy: Some(self.policies[0].clone()),
            },
            Filter {
                user: None,
                policy: Some(self.policies[1].clone()),
            },
            Filter {
                user: Some(self.users[0].clone()),
                policy: Some(self.policies[0].clone()),
            },
            Filter {
                user: Some(self.users[1].clone()),
                policy: Some(self.policies[1].clone()),
            },
            Filter {
                user: Some(oid(999)),
                policy: None,
            },
        ]
    }

    fn oracle(&self, request: &PageRequest) -> (Vec<String>, u64) {
        let (ids, total) = expected(
            &self.data.tokens,
            &self.a,
            request,
            self.harness.clock.get(),
        );
        (ids.iter().map(ToString::to_string).collect(), total)
    }
}

fn assert_meta(data: &Value, total: u64, page: u64, limit: u64) {
    let total_pages = if limit == 0 {
        1
    } else {
        total.div_ceil(limit).max(1)
    };
    let page = if limit == 0 { 1 } else { page };
    assert_eq!(data["totalDocs"], json!(total), "{data}");
    assert_eq!(data["limit"], json!(limit));
    assert_eq!(data["page"], json!(page));
    assert_eq!(data["totalPages"], json!(total_pages));
    assert_eq!(data["hasPrevPage"], json!(limit > 0 && page > 1));
    assert_eq!(data["hasNextPage"], json!(limit > 0 && page < total_pages));
    let prev = (limit > 0 && page > 1).then(|| page - 1);
    let next = (limit > 0 && page < total_pages).then(|| page + 1);
    assert_eq!(data["prevPage"], json!(prev));
    assert_eq!(data["nextPage"], json!(next));
    assert_eq!(data["lean"], json!(true));
}

#[tokio::test]
async fn default_listing_is_live_tokens_newest_first_ten_a_page() {
    let w = world().await;
    let reply = w.list("").await;
    let (ids, total) = w.oracle(&PageRequest::default());
    assert_eq!(total, 20, "25 tokens, 5 deleted");
    assert_eq!(reply.ids(), ids);
    assert_meta(reply.data(), 20, 1, 10);
    assert_eq!(reply.body["status"], json!(true));
}

#[tokio::test]
async fn every_filter_sort_visibility_and_page_matches_the_oracle() {
    let w = world().await;
    let filters = w.filters();
    let mut checked = 0;
    for base in every_listing(&filters, 4) {
        let (_, total) = w.oracle(&base);
        let mut seen = Vec::new();
        for page in 1..=total.div_ceil(4) + 1 {
            let request = PageRequest {
                page,
                ..base.clone()
            };
            let reply = w.list(&query_of(&request)).await;
            let (ids, _) = w.oracle(&request);
            assert_eq!(reply.ids(), ids, "{}", query_of(&request));
            assert_meta(reply.data(), total, page, 4);
            seen.extend(ids);
            checked += 1;
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len() as u64, total, "no token repeated or skipped");
    }
    assert!(checked > 500, "{checked} pages checked");
}

/// The cursor in `field` of a page, if any.
fn cursor(reply: &Reply, field: &str) -> Option<String> {
    reply.data()[field].as_str().map(str::to_string)
}

#[tokio::test]
async fn cursors_walk_every_listing_forward_and_back_like_page_numbers() {
    let w = world().await;
    let filters = w.filters();
    let mut walked = 0;
    for base in every_listing(&filters, 3) {
        let (_, total) = w.oracle(&base);
        let listing = listing_query(&base);
        let mut reply = w.list(&listing).await;
        let mut page = 1;
        loop {
            let request = PageRequest {
                page,
                ..base.clone()
            };
            assert_eq!(reply.ids(), w.oracle(&request).0, "{listing} page {page}");
            assert_meta(reply.data(), total, page, 3);
            let has_next = reply.data()["hasNextPage"] == json!(true);
            assert_eq!(
                cursor(&reply, "nextCursor").is_some(),
                has_next,
                "{listing}"
            );
            assert_eq!(
                cursor(&reply, "prevCursor").is_some(),
                page > 1,
                "{listing} page {page}"
            );
            match cursor(&reply, "nextCursor") {
                Some(next) => reply = w.list(&format!("{listing}&cursor={next}")).await,
                None => break,
            }
            page += 1;
            walked += 1;
        }
        while let Some(prev) = cursor(&reply, "prevCursor") {
            reply = w.list(&format!("{listing}&cursor={prev}")).await;
            page -= 1;
            let request = PageRequest {
                page,
                ..base.clone()
            };
            assert_eq!(
                reply.ids(),
                w.oracle(&request).0,
                "{listing} back to {page}"
            );
            assert_meta(reply.data(), total, page, 3);
            walked += 1;
        }
        assert_eq!(page, 1, "{listing}: walking back ends on page 1");
    }
    assert!(walked > 200, "{walked} pages walked by cursor");
}

#[tokio::test]
async fn a_cursor_that_is_altered_foreign_stale_or_misused_is_a_400_naming_it() {
    let w = world().await;
    let next = cursor(&w.list("limit=5").await, "nextCursor").expect("page 2 exists");
    let (payload, tag) = next.split_once('.').unwrap();
    let flipped = |text: &str| {
        let mut chars: Vec<char> = text.chars().collect();
        chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let cases = [
        format!("limit=5&cursor={}.{tag}", flipped(payload)),
        format!("limit=5&cursor={payload}.{}", flipped(tag)),
        format!("limit=5&cursor={payload}"),
        "limit=5&cursor=".to_string(),
        format!("limit=5&cursor={}", "a".repeat(1025)),
        format!("limit=5&cursor={next}&cursor={next}"),
        format!("limit=5&page=2&cursor={next}"),
        format!("limit=6&cursor={next}"),
        format!("cursor={next}"),
        format!("limit=5&sort=createdAt:asc&cursor={next}"),
        format!("limit=5&show-deleted=true&cursor={next}"),
        format!("limit=5&mdm-user={}&cursor={next}", w.users[0]),
    ];
    for query in &cases {
        let message = w.list(query).await.error(400, 2001);
        assert!(message.contains("'cursor'"), "{query}: {message}");
    }
    // Another organization's listing, by a caller who may list both.
    let grants: Vec<(String, Vec<String>)> = [&w.a, &w.b]
        .iter()
        .map(|org| (org.to_string(), vec![LIST.to_string()]))
        .collect();
    let both = format!("Bearer {}", devkit::dev_token::mint(&grants, 3600));
    let reply = w
        .list_as(&w.b.to_string(), &format!("limit=5&cursor={next}"), &both)
        .await;
    assert!(reply.error(400, 2001).contains("'cursor'"));
    // The same cursor by slug is the same organization's listing.
    let reply = w
        .list_as("acme", &format!("limit=5&cursor={next}"), &both)
        .await;
    assert_eq!(reply.data()["page"], json!(2));
    // A cursor that is not even shaped like one is a parameter error, before the organization.
    let unknown = oid(77).to_string();
    for query in ["cursor=nodot", "cursor=a$b.c", "cursor=%FF.x"] {
        let reply = w.list_as(&unknown, query, &bearer(&w.a, &[LIST])).await;
        assert!(reply.error(400, 2001).contains("'cursor'"), "{query}");
    }
    // Stale after an hour.
    w.harness
        .clock
        .set(w.harness.clock.get() + Duration::seconds(3601));
    let message = w
        .list(&format!("limit=5&cursor={next}"))
        .await
        .error(400, 2001);
    assert!(message.contains("expired"), "{message}");
}

/// What a listing read: entries of its own page and the join, never a whole state's range.
#[tokio::test]
async fn every_sort_reads_only_its_page_and_its_references() {
    let w = world().await;
    let token = bearer(&w.a, &[LIST]);
    for sort in [
        "state:asc",
        "state:desc",
        "createdAt:desc",
        "expireAt:asc",
        "displayName:desc",
    ] {
        for page in [1, 2, 3] {
            let uri = format!("{}?limit=3&sort={sort}&page={page}", path(&w.a.to_string()));
            let request = lambda_http::http::Request::builder()
                .uri(&uri)
                .header("authorization", &token)
                .body(())
                .unwrap();
            let (parts, ()) = request.into_parts();
            let (response, cost) = w
                .harness
                .app
                .handle_metered(devkit::server::lambda_request(parts), "cost")
                .await;
            let reply = reply(response);
            assert_eq!(reply.ids().len(), 3, "{uri}");
            // Skipped entries, the page's entries, its tokens, at most 2 users and 2 policies,
            // and the organization and counter items.
            let most = (page - 1) * 3 + 3 + 3 + 2 + 2 + 2;
            assert!(
                cost.items_read <= most,
                "{uri}: read {} items",
                cost.items_read
            );
        }
    }
}

#[tokio::test]
async fn limit_zero_reports_exact_totals_only() {
    let w = world().await;
    for (query, total) in [
        ("limit=0".to_string(), 20),
        ("limit=0&page=7".to_string(), 20),
        ("limit=0&show-deleted=true".to_string(), 25),
        (format!("limit=0&mdm-user={}", w.users[0]), 7),
    ] {
        let reply = w.list(&query).await;
        assert_eq!(reply.ids(), Vec::<String>::new(), "{query}");
        assert_meta(reply.data(), total, 1, 0);
    }
}

#[tokio::test]
async fn a_page_past_the_end_is_empty_and_points_back() {
    let w = world().await;
    let reply = w.list("page=9&limit=10").await;
    assert!(reply.ids().is_empty());
    assert_meta(reply.data(), 20, 9, 10);
    assert_eq!(reply.data()["prevPage"], json!(8));
}

#[tokio::test]
async fn limit_one_hundred_returns_everything_on_one_page() {
    let w = world().await;
    let reply = w.list("limit=100&show-deleted=1").await;
    assert_eq!(reply.ids().len(), 25);
    assert_meta(reply.data(), 25, 1, 100);
}

#[tokio::test]
async fn items_carry_every_field_with_joined_user_and_policies() {
    let w = world().await;
    // Token 101: user 12 (bob), policies 31 and 32, DONE.
    let reply = w.list(&format!("limit=100&mdm-user={}", w.users[1])).await;
    let item = reply.item(&oid(101));
    let keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for field in [
        "id",
        "organizationId",
        "winEnterpriseId",
        "winDeviceId",
        "mdmUser",
        "displayName",
        "tags",
        "state",
        "config",
        "type",
        "subType",
        "updatedAt",
        "createdAt",
        "expireAt",
        "enrollmentLink",
        "enrollCode",
        "winPolicyId",
        "winPolicyAssignments",
        "summary",
        "sendEmail",
        "emailText",
        "segmentId",
    ] {
        assert!(keys.contains(&field), "{field} missing from {item}");
    }
    assert_eq!(
        item["mdmUser"],
        json!({ "id": w.users[1].to_string(), "email": "bob@acme.test" })
    );
    assert_eq!(item["state"], json!("DONE"));
    assert_eq!(item["segmentId"], json!(1));
    assert_eq!(item["createdAt"], json!("2026-06-01T12:00:00.000Z"));
    assert_eq!(item["summary"]["expirationTimestamp"], item["expireAt"]);
    let assignments = item["winPolicyAssignments"].as_array().unwrap();
    assert_eq!(assignments.len(), 2);
    let policy = &assignments[1]["winPolicy"];
    assert_eq!(
        assignments[1]["winPolicyId"],
        json!(w.policies[1].to_string())
    );
    assert_eq!(assignments[1]["priority"], json!(10));
    assert_eq!(policy["name"], json!("Kiosk"));
    assert_eq!(policy["version"], json!(3));
    assert_eq!(policy["segmentId"], json!(1));
    assert_eq!(policy["organizationId"], json!(w.a.to_string()));
    assert_eq!(policy["createdAt"], json!("2026-05-02T12:00:00.000Z"));
    assert!(policy["config"]["agentConfiguration"].is_object());
}

#[tokio::test]
async fn never_expiring_tokens_show_null_expiry_and_expired_ones_show_expired() {
    let w = world().await;
    let reply = w.list("limit=100").await;
    let by_id = |n: u64| reply.item(&oid(100 + n));
    // Token 7: never expires. Token 12: pending, expired 30 minutes after creation.
    assert_eq!(by_id(7)["expireAt"], Value::Null);
    assert_eq!(by_id(7)["summary"]["expirationTimestamp"], Value::Null);
    assert_eq!(by_id(7)["state"], json!("PENDING"));
    assert_eq!(by_id(12)["state"], json!("EXPIRED"));
    // Token 2 has only the legacy policy reference: no assignments, winPolicyId set.
    assert_eq!(by_id(2)["winPolicyAssignments"], json!([]));
    assert_eq!(by_id(2)["winPolicyId"], json!(w.policies[1].to_string()));
    assert_eq!(by_id(2)["mdmUser"], Value::Null);
}

#[tokio::test]
async fn expiry_is_derived_at_read_time_and_moves_the_state_order() {
    let w = world().await;
    let pending_first = "limit=100&sort=state:desc";
    let before = w.list(pending_first).await;
    w.harness.clock.set(epoch() + Duration::days(30));
    let after = w.list(pending_first).await;
    let states = |reply: &Reply| -> Vec<String> {
        reply.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(states(&before).contains(&"PENDING".to_string()));
    let after_states = states(&after);
    // Only never-expiring tokens stay PENDING, and they now lead the descending order.
    let pending = after_states.iter().filter(|s| *s == "PENDING").count();
    assert_eq!(
        pending,
        w.data
            .tokens
            .iter()
            .filter(|t| {
                t.organization_id == w.a && t.state == StoredState::Pending && t.expire_at.is_none()
            })
            .count()
    );
    assert!(after_states[..pending].iter().all(|s| s == "PENDING"));
    let (ids, _) = w.oracle(&PageRequest {
        limit: 100,
        sort: Sort {
            field: SortField::State,
            direction: SortDirection::Descending,
        },
        ..PageRequest::default()
    });
    assert_eq!(after.ids(), ids);
}

#[tokio::test]
async fn joins_show_the_current_user_and_policy_and_null_for_a_deleted_policy() {
    let w = world().await;
    let store = &w.harness.store;
    store
        .put_user(&user(&w.a, &w.users[1], "robert@acme.test"))
        .await
        .unwrap();
    let mut renamed = policy(&w.a, &w.policies[0], "Baseline v2");
    renamed.version = 4;
    store.put_policy(&renamed).await.unwrap();
    store.delete_policy(&w.a, &w.policies[1]).await.unwrap();
    let reply = w.list(&format!("limit=100&mdm-user={}", w.users[1])).await;
    let item = reply.item(&oid(101));
    assert_eq!(item["mdmUser"]["email"], json!("robert@acme.test"));
    let assignments = item["winPolicyAssignments"].as_array().unwrap();
    assert_eq!(assignments[0]["winPolicy"]["name"], json!("Baseline v2"));
    assert_eq!(assignments[0]["winPolicy"]["version"], json!(4));
    assert_eq!(assignments[1]["winPolicy"], Value::Null);
    assert_eq!(
        assignments[1]["winPolicyId"],
        json!(w.policies[1].to_string())
    );
}

#[tokio::test]
async fn writes_move_tokens_between_listings_and_totals() {
    let w = world().await;
    let store = &w.harness.store;
    let now = epoch() + Duration::hours(3);
    let total = |reply: Reply| reply.data()["totalDocs"].as_u64().unwrap();
    let p0 = format!("limit=0&win-policy={}", w.policies[0]);
    let p1 = format!("limit=0&win-policy={}", w.policies[1]);
    let (before_p0, before_p1) = (total(w.list(&p0).await), total(w.list(&p1).await));
    // Token 104: pending, policy 31 only. Move it to policy 32.
    store
        .update_token(&w.a, &oid(104), now, |t| {
            assign(t, &[&w.policies[1]]);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(total(w.list(&p0).await), before_p0 - 1);
    assert_eq!(total(w.list(&p1).await), before_p1 + 1);
    let p1_all = format!("{p1}&show-deleted=true");
    let before_revoke_all = total(w.list(&p1_all).await);
    store.revoke_token(&w.a, &oid(104), now).await.unwrap();
    assert_eq!(total(w.list(&p1).await), before_p1);
    assert_eq!(
        total(w.list(&p1_all).await),
        before_revoke_all,
        "revoked, still listed as deleted"
    );
    let reply = w.list("limit=100").await;
    assert!(!reply.ids().contains(&oid(104).to_string()));
    // Token 103: pending, no user, no policy. Complete it.
    let device = oid(777);
    store
        .complete_token(&w.a, &oid(103), &device, now)
        .await
        .unwrap();
    let reply = w.list("limit=100&sort=updatedAt:desc").await;
    let first = &reply.data()["items"][0];
    assert_eq!(first["id"], json!(oid(103).to_string()));
    assert_eq!(first["state"], json!("DONE"));
    assert_eq!(first["winDeviceId"], json!(device.to_string()));
}

#[tokio::test]
async fn every_malformed_parameter_is_a_400_that_names_it() {
    let w = world().await;
    let cases = [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=+2", "page"),
        ("page=", "page"),
        ("page=1&page=2", "page"),
        ("page=99999999999999999999999", "page"),
        ("page=9007199254740992", "page"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("limit=1&limit=1", "limit"),
        ("sort=name", "sort"),
        ("sort=createdAt:up", "sort"),
        ("sort=createdAt:ASC", "sort"),
        ("sort=:desc", "sort"),
        ("sort=createdAt&sort=state", "sort"),
        ("mdm-user=xyz", "mdm-user"),
        ("mdm-user=", "mdm-user"),
        ("mdm-user=6600000000000000000000000", "mdm-user"),
        ("win-policy=123", "win-policy"),
        ("win-policy=", "win-policy"),
        ("show-deleted=yes", "show-deleted"),
        ("show-deleted=", "show-deleted"),
        ("show-deleted=true&show-deleted=false", "show-deleted"),
    ];
    for (query, parameter) in cases {
        let message = w.list(query).await.error(400, 2001);
        assert!(
            message.contains(&format!("'{parameter}'")),
            "{query}: {message}"
        );
    }
}

#[tokio::test]
async fn lenient_forms_and_defaults() {
    let w = world().await;
    let default_ids = w.list("").await.ids();
    assert_eq!(
        w.list("sort=").await.ids(),
        default_ids,
        "empty sort is the default"
    );
    assert_eq!(
        w.list("sort=createdAt:desc&unknown=1").await.ids(),
        default_ids
    );
    assert_eq!(w.list("limit=010&page=01").await.ids(), default_ids);
    let last = w.list("page=9007199254740991").await;
    assert!(last.ids().is_empty());
    assert_eq!(last.data()["prevPage"], json!(9007199254740990u64));
    let upper = w
        .list(&format!("mdm-user={}", w.users[0].as_str().to_uppercase()))
        .await;
    let lower = w.list(&format!("mdm-user={}", w.users[0])).await;
    assert_eq!(upper.ids(), lower.ids());
    for (value, total) in [
        ("TRUE", 25),
        ("True", 25),
        ("1", 25),
        ("FALSE", 20),
        ("0", 20),
    ] {
        let reply = w.list(&format!("limit=0&show-deleted={value}")).await;
        assert_eq!(reply.data()["totalDocs"], json!(total), "{value}");
    }
    let asc = w.list("sort=createdAt").await;
    let explicit = w.list("sort=createdAt:asc").await;
    assert_eq!(asc.ids(), explicit.ids(), "no direction means ascending");
}

#[tokio::test]
async fn organization_by_id_or_slug_and_the_path_rules() {
    let w = world().await;
    let auth = bearer(&w.a, &[LIST]);
    let by_id = w.list_as(&w.a.to_string(), "", &auth).await.ids();
    assert_eq!(w.list_as("acme", "", &auth).await.ids(), by_id);
    assert_eq!(
        w.list_as("ACME", "", &auth).await.ids(),
        by_id,
        "slugs ignore case"
    );
    assert_eq!(
        w.list_as(&w.a.as_str().to_uppercase(), "", &auth)
            .await
            .ids(),
        by_id
    );
    let no_slash = format!("{PATH_PREFIX}/acme/mdm/windows/enterprise/enrollment-tokens");
    assert_eq!(w.harness.get(&no_slash, Some(&auth)).await.ids(), by_id);
    for bad in ["ab", "acme_corp", "a%20b"] {
        let message = w.list_as(bad, "", &auth).await.error(400, 2001);
        assert!(message.contains("'organizationId'"), "{message}");
    }
    // Unknown slug, unknown id granted by the token, and another organization's id and slug.
    let unknown = oid(3);
    w.list_as("nobody", "", &auth).await.error(404, 3001);
    w.list_as(&unknown.to_string(), "", &bearer(&unknown, &[LIST]))
        .await
        .error(404, 3001);
    w.list_as(&w.b.to_string(), "", &auth)
        .await
        .error(404, 3001);
    let message = w.list_as("globex", "", &auth).await.error(404, 3001);
    assert_eq!(message, "Entity not found");
}

#[tokio::test]
async fn another_organizations_filters_find_nothing() {
    let w = world().await;
    let reply = w
        .list(&format!("mdm-user={}&show-deleted=true", w.users[2]))
        .await;
    assert!(reply.ids().is_empty());
    assert_eq!(reply.data()["totalDocs"], json!(0));
    let reply = w.list(&format!("win-policy={}", w.policies[2])).await;
    assert!(reply.ids().is_empty());
    for id in w.list("limit=100&show-deleted=true").await.ids() {
        assert!(id.starts_with("660000000000000000000"), "{id}");
        let n = u64::from_str_radix(&id[8..], 16).unwrap();
        assert!(
            (100..125).contains(&n),
            "only organization A's tokens: {id}"
        );
    }
}

#[tokio::test]
async fn permissions_exact_wildcard_missing_and_foreign() {
    let w = world().await;
    let org = w.a.to_string();
    for granted in [LIST, "mdm.windows.*", "mdm.*", "*"] {
        let reply = w.list_as(&org, "", &bearer(&w.a, &[granted])).await;
        assert_eq!(reply.status, 200, "{granted}");
    }
    for granted in [
        "mdm.windows.enrollmentToken.get",
        "mdm.android.*",
        "mdm.win*",
    ] {
        let message = w
            .list_as(&org, "", &bearer(&w.a, &[granted]))
            .await
            .error(403, 4003);
        assert!(message.contains(LIST), "{message}");
    }
    w.list_as(&org, "", &bearer(&w.b, &[LIST]))
        .await
        .error(404, 3001);
    w.list_as("acme", "", &bearer(&w.b, &[LIST]))
        .await
        .error(404, 3001);
}

#[tokio::test]
async fn authentication_failures_are_401s_with_the_bearer_challenge() {
    let w = world().await;
    let claims = standard_claims(&w.a, &[LIST]);
    let valid_rs = rs256(RSA_PRIVATE, "test-rsa-1", &claims);
    assert_eq!(
        w.list_as("acme", "", &format!("Bearer {valid_rs}"))
            .await
            .status,
        200
    );
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims.clone();
        change(&mut claims);
        format!("Bearer {}", rs256(RSA_PRIVATE, "test-rsa-1", &claims))
    };
    let (header, payload, signature) = {
        let parts: Vec<&str> = valid_rs.split('.').collect();
        (
            parts[0].to_string(),
            parts[1].to_string(),
            parts[2].to_string(),
        )
    };
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let b64 = |text: &str| URL_SAFE_NO_PAD.encode(text);
    let none_header = b64(r#"{"alg":"none","typ":"JWT"}"#);
    let tampered_payload = {
        let mut forged = claims.clone();
        forged["permissions"] = json!({ w.b.to_string(): [LIST] });
        b64(&forged.to_string())
    };
    let hs_with_public_key = {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(RSA_PUBLIC.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let missing = [
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer "),
        Some("Basic dXNlcjpwYXNz"),
        Some(valid_rs.as_str()),
    ];
    for authorization in missing {
        let reply = w.harness.get(&path("acme"), authorization).await;
        assert_eq!(reply.error(401, 4002), "No auth token", "{authorization:?}");
        assert_eq!(reply.headers.get("www-authenticate").unwrap(), "Bearer");
    }
    let invalid = [
        ("garbage", "Bearer not.a.jwt".to_string()),
        ("alg none", format!("Bearer {none_header}.{payload}.")),
        (
            "tampered",
            format!("Bearer {header}.{tampered_payload}.{signature}"),
        ),
        (
            "HS256 with the public key",
            format!("Bearer {hs_with_public_key}"),
        ),
        (
            "foreign key",
            format!(
                "Bearer {}",
                rs256(FOREIGN_RSA_PRIVATE, "test-rsa-1", &claims)
            ),
        ),
        (
            "unknown kid",
            format!("Bearer {}", rs256(RSA_PRIVATE, "other", &claims)),
        ),
        ("expired", with(&|c| c["exp"] = json!(now - 120))),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "exp as string",
            with(&|c| c["exp"] = json!((now + 600).to_string())),
        ),
        ("nbf in the future", with(&|c| c["nbf"] = json!(now + 600))),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.test/")),
        ),
        ("wrong audience", with(&|c| c["aud"] = json!("other-api"))),
        ("two tokens", format!("Bearer {valid_rs} {valid_rs}")),
        (
            "dev token with another secret",
            format!(
                "Bearer {}",
                devkit::dev_token::mint_with_secret(
                    &[(w.a.to_string(), vec![LIST.into()])],
                    600,
                    "guess"
                )
            ),
        ),
    ];
    for (case, authorization) in invalid {
        let reply = w.list_as("acme", "", &authorization).await;
        assert_eq!(reply.error(401, 4004), "Invalid Token", "{case}");
        assert_eq!(
            reply.headers.get("www-authenticate").unwrap(),
            "Bearer",
            "{case}"
        );
        assert!(reply.body.get("data").is_none(), "{case}");
    }
    // Expired within the leeway still passes.
    let recent = with(&|c| c["exp"] = json!(now - 10));
    assert_eq!(w.list_as("acme", "", &recent).await.status, 200);
}

#[tokio::test]
async fn scheme_and_header_name_in_any_case_and_two_headers_refused() {
    let w = world().await;
    let jwt = bearer(&w.a, &[LIST])
        .trim_start_matches("Bearer ")
        .to_string();
    for (name, scheme) in [
        ("authorization", "bearer"),
        ("AUTHORIZATION", "BEARER"),
        ("Authorization", "BeArEr"),
    ] {
        let request = lambda_http::http::Request::builder()
            .uri(path("acme"))
            .header(name, format!("{scheme} {jwt}"))
            .body(())
            .unwrap();
        assert_eq!(w.harness.send(request).await.status, 200, "{name} {scheme}");
    }
    let request = lambda_http::http::Request::builder()
        .uri(path("acme"))
        .header("authorization", format!("Bearer {jwt}"))
        .header("authorization", format!("Bearer {jwt}"))
        .body(())
        .unwrap();
    w.harness.send(request).await.error(401, 4004);
}

#[tokio::test]
async fn wrong_method_and_unknown_route() {
    let w = world().await;
    let auth = bearer(&w.a, &[LIST]);
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(path("acme"))
        .header("authorization", &auth)
        .body(())
        .unwrap();
    let reply = w.harness.send(request).await;
    reply.error(405, 2002);
    assert_eq!(reply.headers.get("allow").unwrap(), "GET");
    // The route and the method are checked before the credentials.
    let request = lambda_http::http::Request::builder()
        .method("DELETE")
        .uri(path("acme"))
        .body(())
        .unwrap();
    w.harness.send(request).await.error(405, 2002);
    let route = "/v1/organizations/acme/mdm/windows/enterprise/enrollment-tokens/";
    for odd in [
        format!("/a/b/c/d{route}"),
        format!("/%FF{route}"),
        format!("/v1/organizations/globex/mdm/windows/enterprise/enrollment-tokens{route}"),
        route.replace("windows", "win%20dows"),
    ] {
        w.harness.get(&odd, Some(&auth)).await.error(404, 3001);
        w.harness.get(&odd, None).await.error(404, 3001);
    }
    let encoded = route.replace("enrollment-tokens", "enrollment%2Dtokens");
    assert_eq!(w.harness.get(&encoded, Some(&auth)).await.status, 200);
    assert_eq!(
        w.harness
            .get(&format!("/prod/base{route}"), Some(&auth))
            .await
            .status,
        200
    );
    let reply = w
        .harness
        .get(
            "/v1/organizations/acme/mdm/android/enterprise/enrollment-tokens",
            Some(&auth),
        )
        .await;
    reply.error(404, 3001);
}

#[tokio::test]
async fn reassigning_the_user_moves_the_token_between_user_listings() {
    let w = world().await;
    let now = epoch() + Duration::hours(3);
    // Token 100: user 11 and policy 31; move it to user 12 (the same items, rewritten).
    w.harness
        .store
        .update_token(&w.a, &oid(100), now, |t| {
            t.mdm_user_id = Some(oid(12));
            t.state = StoredState::Pending;
            Ok(())
        })
        .await
        .unwrap();
    let listed = |user: &ObjectId, policy: &ObjectId| {
        format!("limit=100&mdm-user={user}&win-policy={policy}")
    };
    let id = oid(100).to_string();
    assert!(!w
        .list(&listed(&w.users[0], &w.policies[0]))
        .await
        .ids()
        .contains(&id));
    assert!(w
        .list(&listed(&w.users[1], &w.policies[0]))
        .await
        .ids()
        .contains(&id));
}

#[tokio::test]
async fn the_openapi_check_rejects_the_sample_pages_slips() {
    let w = world().await;
    let reply = w.list("limit=1").await;
    let mut body = reply.body.clone();
    assert!(openapi::violations(reply.status, &body).is_empty());
    let item = &mut body["data"]["items"][0];
    item["segmentId"] = json!("1");
    item["createdAt"] = json!("2026-02-10T12: 00:00Z");
    let problems = openapi::violations(reply.status, &body);
    assert_eq!(problems.len(), 2, "{problems:?}");
    let error = json!({ "status": false, "error": { "code": 9999, "message": "x" } });
    assert!(!openapi::violations(lambda_http::http::StatusCode::BAD_REQUEST, &error).is_empty());
}

mod stored_data {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    async fn set(w: &World, token: u64, attribute: &str, value: AttributeValue) {
        w.harness
            .client()
            .update_item()
            .table_name(&w.harness.table)
            .key("pk", AttributeValue::S(format!("T#{}", oid(token))))
            .key("sk", AttributeValue::S("O".into()))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":v", value)
            .send()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn other_writers_shapes_are_read_where_the_meaning_is_clear() {
        let w = world().await;
        // Token 104 (pending, policy 31): numbers as strings, other precisions and offsets,
        // an attribute nobody knows, a missing optional one.
        for (attribute, value) in [
            ("segmentId", AttributeValue::S("1".into())),
            (
                "updatedAt",
                AttributeValue::S("2026-06-01T14:02:03.123456789+02:00".into()),
            ),
            ("expireAt", AttributeValue::S("2026-06-03T12:00:00Z".into())),
            ("legacyField", AttributeValue::Bool(true)),
        ] {
            set(&w, 104, attribute, value).await;
        }
        let assignments = AttributeValue::L(vec![AttributeValue::M(
            [
                (
                    "winPolicyId".to_string(),
                    AttributeValue::S(w.policies[0].to_string()),
                ),
                ("priority".to_string(), AttributeValue::S("7".into())),
            ]
            .into(),
        )]);
        set(&w, 104, "winPolicyAssignments", assignments).await;
        w.harness
            .client()
            .update_item()
            .table_name(&w.harness.table)
            .key("pk", AttributeValue::S(format!("T#{}", oid(104))))
            .key("sk", AttributeValue::S("O".into()))
            .update_expression("REMOVE tags, sendEmail")
            .send()
            .await
            .unwrap();
        let reply = w.list("limit=100").await;
        let token = reply.item(&oid(104));
        assert_eq!(token["segmentId"], json!(1));
        assert_eq!(token["updatedAt"], json!("2026-06-01T12:02:03.123Z"));
        assert_eq!(token["expireAt"], json!("2026-06-03T12:00:00.000Z"));
        assert_eq!(token["winPolicyAssignments"][0]["priority"], json!(7));
        assert_eq!(token["tags"], json!([]));
        assert_eq!(token["sendEmail"], json!(false));
        assert!(token.get("legacyField").is_none());
    }

    #[tokio::test]
    async fn unreadable_stored_data_is_a_generic_500_with_a_request_id() {
        let w = world().await;
        set(&w, 104, "state", AttributeValue::S("ARCHIVED".into())).await;
        let reply = w.list("limit=100").await;
        assert_eq!(reply.error(500, 1000), "Internal server error");
        assert_eq!(reply.body["error"]["requestId"], json!("test-request"));
        assert!(!reply.body.to_string().contains("ARCHIVED"));
        // Listings that do not reach the token still work.
        assert_eq!(w.list("limit=1&sort=createdAt:asc").await.status, 200);
    }
}

#[tokio::test]
async fn slugs_that_could_be_confused_are_refused_on_write() {
    let w = world().await;
    for slug in ["bad slug!", "ab", "660000000000000000000002", "ACME_corp"] {
        let result = w
            .harness
            .store
            .create_organization(&organization(&oid(7), slug))
            .await;
        assert!(
            matches!(
                result,
                Err(enrollment_tokens::store::WriteError::Invalid(_))
            ),
            "{slug}: {result:?}"
        );
    }
    let taken = w
        .harness
        .store
        .create_organization(&organization(&oid(7), "acme"))
        .await;
    assert!(matches!(
        taken,
        Err(enrollment_tokens::store::WriteError::AlreadyExists(_))
    ));
}

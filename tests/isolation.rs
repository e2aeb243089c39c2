//! Tenant isolation: with random data in several organizations, a token for one organization never
//! receives an item, a count or a joined user or policy of another, whatever it asks for.

mod common;

use common::oracle::expected;
use common::*;
use enrollment_tokens::domain::{
    Filter, ObjectId, PageRequest, Sort, SortDirection, SortField, StoredState,
};
use proptest::prelude::*;
use serde_json::Value;

const ORGS: u64 = 3;

/// A token: its organization, user and policies (indexes into that organization's), state.
type TokenSpec = (u64, Option<u64>, Vec<u64>, u8);

fn org_id(org: u64) -> ObjectId {
    oid(org + 1)
}
// Users and policies of different organizations never share an id.
fn user_id(org: u64, n: u64) -> ObjectId {
    oid(100 + org * 10 + n)
}
fn policy_id(org: u64, n: u64) -> ObjectId {
    oid(200 + org * 10 + n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn no_organization_sees_anything_of_another(
        specs in proptest::collection::vec(
            (0..ORGS, proptest::option::of(0..2u64), proptest::collection::vec(0..2u64, 0..3), 0..3u8),
            1..30,
        ),
        requester in 0..ORGS,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(check(specs, requester));
    }
}

async fn check(specs: Vec<TokenSpec>, requester: u64) {
    let harness = Harness::new().await;
    let mut data = Data::default();
    for org in 0..ORGS {
        let id = org_id(org);
        data.organizations
            .push(organization(&id, &format!("org-{org}")));
        for n in 0..2 {
            data.users
                .push(user(&id, &user_id(org, n), &format!("u{n}@org{org}.test")));
            data.policies
                .push(policy(&id, &policy_id(org, n), &format!("P{org}-{n}")));
        }
    }
    for (n, (org, user, policies, state)) in specs.into_iter().enumerate() {
        let mut t = token(&org_id(org), &oid(1000 + n as u64), (n % 3) as i64);
        t.mdm_user_id = user.map(|u| user_id(org, u));
        let policies: Vec<ObjectId> = policies.into_iter().map(|p| policy_id(org, p)).collect();
        assign(&mut t, &policies.iter().collect::<Vec<_>>());
        t.state = [
            StoredState::Pending,
            StoredState::Done,
            StoredState::Deleted,
        ][state as usize];
        data.tokens.push(t);
    }
    harness.seed(&data).await;
    let me = org_id(requester);
    let auth = bearer(&me, &[LIST]);
    let now = harness.clock.get();
    let mut filters = vec![Filter::default()];
    for org in 0..ORGS {
        filters.push(Filter {
            user: Some(user_id(org, 0)),
            policy: None,
        });
        filters.push(Filter {
            user: None,
            policy: Some(policy_id(org, 1)),
        });
        filters.push(Filter {
            user: Some(user_id(org, 1)),
            policy: Some(policy_id(org, 0)),
        });
    }
    for filter in filters {
        for field in [
            SortField::CreatedAt,
            SortField::State,
            SortField::DisplayName,
        ] {
            let request = PageRequest {
                page: 1,
                limit: 100,
                sort: Sort {
                    field,
                    direction: SortDirection::Descending,
                },
                filter: filter.clone(),
                show_deleted: true,
                anchor: None,
            };
            let query = query_of(&request);
            let reply = harness
                .get(
                    &format!("{}?{query}", path(&format!("org-{requester}"))),
                    Some(&auth),
                )
                .await;
            let (ids, total) = expected(&data.tokens, &me, &request, now);
            assert_eq!(reply.data()["totalDocs"], total, "{query}");
            let want: Vec<String> = ids.iter().map(ToString::to_string).collect();
            assert_eq!(reply.ids(), want, "{query}");
            for item in reply.data()["items"].as_array().unwrap() {
                assert_only_mine(item, &me, requester);
            }
        }
    }
    for other in (0..ORGS).filter(|org| *org != requester) {
        for reference in [format!("org-{other}"), org_id(other).to_string()] {
            harness
                .get(&path(&reference), Some(&auth))
                .await
                .error(404, 3001);
        }
    }
}

fn assert_only_mine(item: &Value, me: &ObjectId, requester: u64) {
    assert_eq!(item["organizationId"], me.to_string());
    if let Some(user) = item["mdmUser"]["id"].as_str() {
        let mine = (0..2).any(|n| user_id(requester, n).as_str() == user);
        assert!(mine, "user {user} of another organization");
    }
    for assignment in item["winPolicyAssignments"].as_array().unwrap() {
        let policy = &assignment["winPolicy"];
        assert_eq!(policy["organizationId"], me.to_string(), "{assignment}");
    }
}

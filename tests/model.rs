//! Model-based check: random sequences of writes (create, assign, revoke, complete, rename,
//! reassign user, let time pass so tokens expire) go to the engine and to an in-memory model;
//! afterwards every filter × visibility × sort × page lists exactly what the model says.

mod common;

use chrono::Duration;
use common::oracle::{every_listing, expected};
use common::*;
use enrollment_tokens::domain::{EnrollmentToken, Filter, ObjectId, PageRequest, StoredState};
use enrollment_tokens::store::WriteError;
use proptest::prelude::*;

const USERS: u64 = 3;
const POLICIES: u64 = 4;

#[derive(Clone, Debug)]
enum Op {
    Create {
        user: Option<u64>,
        policies: Vec<u64>,
        legacy: Option<u64>,
        minute: i64,
        expires_after: Option<i64>,
        name: Option<u8>,
    },
    Assign {
        token: usize,
        policies: Vec<u64>,
    },
    Revoke {
        token: usize,
    },
    Complete {
        token: usize,
    },
    Rename {
        token: usize,
        name: Option<u8>,
    },
    SetUser {
        token: usize,
        user: Option<u64>,
    },
    Advance {
        minutes: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let policies = proptest::collection::vec(0..POLICIES, 0..=3);
    prop_oneof![
        5 => (
            proptest::option::of(0..USERS),
            policies.clone(),
            proptest::option::weighted(0.2, 0..POLICIES),
            0..4i64, // few distinct minutes: many equal timestamps
            proptest::option::weighted(0.8, 1..240i64),
            proptest::option::weighted(0.8, 0..4u8),
        )
            .prop_map(|(user, policies, legacy, minute, expires_after, name)| Op::Create {
                user,
                policies,
                legacy,
                minute,
                expires_after,
                name,
            }),
        1 => (any::<usize>(), policies).prop_map(|(token, policies)| Op::Assign { token, policies }),
        1 => any::<usize>().prop_map(|token| Op::Revoke { token }),
        1 => any::<usize>().prop_map(|token| Op::Complete { token }),
        1 => (any::<usize>(), proptest::option::of(0..4u8))
            .prop_map(|(token, name)| Op::Rename { token, name }),
        1 => (any::<usize>(), proptest::option::of(0..USERS))
            .prop_map(|(token, user)| Op::SetUser { token, user }),
        1 => (0..120i64).prop_map(|minutes| Op::Advance { minutes }),
    ]
}

fn user_id(n: u64) -> ObjectId {
    oid(10 + n)
}

fn policy_id(n: u64) -> ObjectId {
    oid(20 + n)
}

struct Model {
    harness: Harness,
    organization: ObjectId,
    tokens: Vec<EnrollmentToken>,
}

impl Model {
    async fn new() -> Self {
        let harness = Harness::new().await;
        let organization = oid(1);
        let other = oid(2);
        let mut data = Data {
            organizations: vec![
                common::organization(&organization, "model"),
                common::organization(&other, "other"),
            ],
            ..Data::default()
        };
        for n in 0..USERS {
            data.users.push(user(
                &organization,
                &user_id(n),
                &format!("u{n}@model.test"),
            ));
        }
        for n in 0..POLICIES {
            data.policies
                .push(policy(&organization, &policy_id(n), &format!("P{n}")));
        }
        // Another organization's token, with the same creation minute: must never show up.
        data.tokens.push(token(&other, &oid(5000), 0));
        harness.seed(&data).await;
        Self {
            harness,
            organization,
            tokens: data.tokens,
        }
    }

    fn pick(&self, index: usize) -> Option<usize> {
        let own: Vec<usize> = (0..self.tokens.len())
            .filter(|i| self.tokens[*i].organization_id == self.organization)
            .collect();
        (!own.is_empty()).then(|| own[index % own.len()])
    }

    async fn apply(&mut self, op: Op) {
        let store = &self.harness.store;
        let now = self.harness.clock.get();
        let organization = self.organization.clone();
        match op {
            Op::Create {
                user,
                policies,
                legacy,
                minute,
                expires_after,
                name,
            } => {
                let id = oid(1000 + self.tokens.len() as u64);
                let mut t = token(&organization, &id, minute);
                t.created_at = now + Duration::minutes(minute);
                t.updated_at = t.created_at;
                t.expire_at = expires_after.map(|m| t.created_at + Duration::minutes(m));
                t.mdm_user_id = user.map(user_id);
                let policies: Vec<ObjectId> = policies.into_iter().map(policy_id).collect();
                assign(&mut t, &policies.iter().collect::<Vec<_>>());
                t.win_policy_id = legacy.map(policy_id);
                t.display_name = name.map(|n| format!("name {n}"));
                store.create_token(&t).await.unwrap();
                self.tokens.push(t);
            }
            Op::Advance { minutes } => {
                self.harness.clock.set(now + Duration::minutes(minutes));
            }
            other => {
                let index = match &other {
                    Op::Assign { token, .. }
                    | Op::Revoke { token }
                    | Op::Complete { token }
                    | Op::Rename { token, .. }
                    | Op::SetUser { token, .. } => self.pick(*token),
                    _ => unreachable!(),
                };
                let Some(index) = index else { return };
                let id = self.tokens[index].id.clone();
                let mut expected_token = self.tokens[index].clone();
                let result = match other {
                    Op::Assign { policies, .. } => {
                        let policies: Vec<ObjectId> = policies.into_iter().map(policy_id).collect();
                        assign(&mut expected_token, &policies.iter().collect::<Vec<_>>());
                        rewrite(store, &expected_token, now).await
                    }
                    Op::Revoke { .. } => {
                        expected_token.state = StoredState::Deleted;
                        store.revoke_token(&organization, &id, now).await
                    }
                    Op::Complete { .. } => {
                        let device = oid(9999);
                        let allowed = expected_token.state == StoredState::Pending
                            && !expected_token.is_expired(now);
                        expected_token.state = StoredState::Done;
                        expected_token.win_device_id = Some(device.clone());
                        let result = store.complete_token(&organization, &id, &device, now).await;
                        if !allowed {
                            assert!(matches!(result, Err(WriteError::Invalid(_))), "{result:?}");
                            return;
                        }
                        result
                    }
                    Op::Rename { name, .. } => {
                        expected_token.display_name = name.map(|n| format!("name {n}"));
                        rewrite(store, &expected_token, now).await
                    }
                    Op::SetUser { user, .. } => {
                        expected_token.mdm_user_id = user.map(user_id);
                        rewrite(store, &expected_token, now).await
                    }
                    _ => unreachable!(),
                };
                expected_token.updated_at = now;
                let written = result.unwrap();
                assert_eq!(written, expected_token);
                self.tokens[index] = expected_token;
            }
        }
    }

    async fn check_every_listing(&self) {
        let now = self.harness.clock.get();
        let auth = bearer(&self.organization, &[LIST]);
        let mut filters = vec![Filter::default()];
        filters.push(Filter {
            user: Some(user_id(0)),
            policy: None,
        });
        filters.push(Filter {
            user: None,
            policy: Some(policy_id(0)),
        });
        filters.push(Filter {
            user: None,
            policy: Some(policy_id(1)),
        });
        filters.push(Filter {
            user: Some(user_id(1)),
            policy: Some(policy_id(1)),
        });
        for base in every_listing(&filters, 3) {
            let (_, total) = expected(&self.tokens, &self.organization, &base, now);
            for page in 1..=total.div_ceil(3) + 1 {
                let request = PageRequest {
                    page,
                    ..base.clone()
                };
                let (ids, _) = expected(&self.tokens, &self.organization, &request, now);
                let uri = format!("{}?{}", path("model"), query_of(&request));
                let reply = self.harness.get(&uri, Some(&auth)).await;
                let want: Vec<String> = ids.iter().map(ToString::to_string).collect();
                assert_eq!(reply.ids(), want, "{uri}");
                assert_eq!(reply.data()["totalDocs"], total, "{uri}");
            }
        }
    }
}

/// Writes `target` over the stored token through the generic read-modify-write.
async fn rewrite(
    store: &enrollment_tokens::store::Store,
    target: &EnrollmentToken,
    now: enrollment_tokens::domain::Timestamp,
) -> Result<EnrollmentToken, WriteError> {
    let target = target.clone();
    store
        .update_token(
            &target.organization_id.clone(),
            &target.id.clone(),
            now,
            move |t| {
                *t = target.clone();
                Ok(())
            },
        )
        .await
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("MODEL_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(12),
        ..ProptestConfig::default()
    })]

    #[test]
    fn listings_match_the_model_after_any_sequence_of_writes(ops in proptest::collection::vec(op(), 1..32)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let mut model = Model::new().await;
            for op in ops {
                model.apply(op).await;
            }
            model.check_every_listing().await;
        });
    }
}

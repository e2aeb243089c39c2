//! The benchmark's organizations: generated from a fixed seed, bulk-loaded once into a kept
//! database file, and reused while the shape (and the stored layout) stay the same.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};
use enrollment_tokens::domain::{
    EnrollmentToken, MdmUser, ObjectId, Organization, PolicyAssignment, StoredState, Timestamp,
    WinPolicy,
};
use enrollment_tokens::store::{Store, LAYOUT_VERSION};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::engine::{remove_database, Engine};

pub const TABLE: &str = "bench";

#[derive(Clone, Debug, Hash)]
pub struct OrgShape {
    /// Short name used in the report ("100k").
    pub name: &'static str,
    /// Tokens generated; `live_only` organizations then drop the deleted ones.
    pub tokens: usize,
    pub deleted_percent: u32,
    /// The live tokens of the same generated organization: a twin with nothing deleted, so that
    /// the cost of hiding deleted tokens is measured on identical pages.
    pub live_only: bool,
}

#[derive(Clone, Debug, Hash)]
pub struct DataShape {
    pub orgs: Vec<OrgShape>,
    pub users: usize,
    pub policies: usize,
    /// Tokens with two to four policies; the others have one.
    pub multi_policy_percent: u32,
}

impl DataShape {
    /// The shape the issue asks for: 1k and 100k tokens, a half-deleted and an all-live org.
    pub fn full() -> Self {
        Self {
            orgs: vec![
                org("1k", 1_000, 10),
                org("100k", 100_000, 10),
                org("half-deleted", 20_000, 50),
                live_twin("all-live", 20_000, 50),
            ],
            users: 1_000,
            policies: 50,
            multi_policy_percent: 30,
        }
    }

    /// A tiny shape for the smoke run in the tests: same organizations, few tokens.
    pub fn quick() -> Self {
        Self {
            orgs: vec![
                org("1k", 120, 10),
                org("100k", 1_200, 10),
                org("half-deleted", 400, 50),
                live_twin("all-live", 400, 50),
            ],
            users: 40,
            policies: 8,
            multi_policy_percent: 30,
        }
    }

    pub fn total_tokens(&self) -> usize {
        self.orgs.iter().map(|org| org.tokens).sum()
    }

    fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        (LAYOUT_VERSION, self).hash(&mut hasher);
        hasher.finish()
    }
}

fn org(name: &'static str, tokens: usize, deleted_percent: u32) -> OrgShape {
    OrgShape {
        name,
        tokens,
        deleted_percent,
        live_only: false,
    }
}

fn live_twin(name: &'static str, tokens: usize, deleted_percent: u32) -> OrgShape {
    OrgShape {
        live_only: true,
        ..org(name, tokens, deleted_percent)
    }
}

/// What the scenarios need to know of a seeded organization.
#[derive(Clone, Debug)]
pub struct SeededOrg {
    pub name: &'static str,
    pub id: ObjectId,
    pub tokens: usize,
    /// The user and the policy with the most tokens, and a pair that shares many.
    pub top_user: ObjectId,
    pub top_policy: ObjectId,
}

/// Fixed so that timestamps, and so every listing, are the same in every run.
fn seed_time() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

pub fn organization_id(index: usize) -> ObjectId {
    ObjectId::from_parts(0xbe0c_0000, index as u64 + 1)
}

/// Opens the kept database for `shape` under `dir`, seeding it first when it is missing or
/// unfinished. Returns the engine and the organizations.
pub async fn open(dir: &Path, shape: &DataShape) -> anyhow::Result<(Engine, Vec<SeededOrg>)> {
    let file = dir.join(format!("bench-{:016x}.db", shape.fingerprint()));
    let beside = |suffix: &str| PathBuf::from(format!("{}{suffix}", file.display()));
    let complete = beside(".complete");
    let reuse = file.exists() && complete.exists();
    if !reuse {
        remove_database(&file)?;
        if complete.exists() {
            std::fs::remove_file(&complete)?;
        }
    }
    let engine = Engine::start(Some(&file), 0).await?;
    let store = Store::new(engine.client(), TABLE);
    let mut seeded = Vec::new();
    if reuse {
        eprintln!("reusing {}", file.display());
    } else {
        store.create_table().await?;
    }
    let bar = (!reuse).then(|| {
        let bar = ProgressBar::new(shape.total_tokens() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "seeding {bar:40} {pos}/{len} tokens ({per_sec}, eta {eta})",
            )
            .expect("static template"),
        );
        bar
    });
    for (index, org) in shape.orgs.iter().enumerate() {
        let data = generate(index, org, shape);
        if let Some(bar) = &bar {
            load(&store, &data, bar).await?;
        }
        seeded.push(data.seeded);
    }
    if let Some(bar) = bar {
        bar.finish();
        std::fs::write(&complete, format!("{shape:#?}\n"))?;
    }
    Ok((engine, seeded))
}

struct OrgData {
    seeded: SeededOrg,
    organization: Organization,
    users: Vec<MdmUser>,
    policies: Vec<WinPolicy>,
    tokens: Vec<EnrollmentToken>,
}

async fn load(store: &Store, data: &OrgData, bar: &ProgressBar) -> anyhow::Result<()> {
    store.create_organization(&data.organization).await?;
    for user in &data.users {
        store.put_user(user).await?;
    }
    for policy in &data.policies {
        store.put_policy(policy).await?;
    }
    store
        .import_tokens(&data.tokens, |done| bar.inc(done as u64))
        .await?;
    Ok(())
}

/// Picks index `i` with weight 1/(i+1): a few users and policies hold many tokens, most few.
struct Skewed(Vec<f64>);

impl Skewed {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        Self(
            (0..n)
                .map(|i| {
                    total += 1.0 / (i as f64 + 1.0);
                    total
                })
                .collect(),
        )
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        let target = rng.random_range(0.0..*self.0.last().expect("non-empty"));
        self.0.partition_point(|&cumulative| cumulative < target)
    }
}

fn generate(index: usize, shape: &OrgShape, data: &DataShape) -> OrgData {
    // Seeded by the shape, not the position, so that a live twin draws the same tokens.
    let mut rng =
        StdRng::seed_from_u64(0xbe0c ^ (shape.tokens as u64) << 8 ^ shape.deleted_percent as u64);
    let now = seed_time();
    let id = organization_id(index);
    let mut next = 0u64;
    let mut id_at = |at: Timestamp| {
        next += 1;
        ObjectId::from_parts(at.timestamp() as u32, (index as u64) << 40 | next)
    };
    let organization = Organization {
        id: id.clone(),
        slug: format!("bench-{}", shape.name),
        name: format!("Bench {}", shape.name),
    };
    let users: Vec<MdmUser> = (0..data.users)
        .map(|n| MdmUser {
            id: id_at(now - Duration::days(800)),
            organization_id: id.clone(),
            email: format!("user{n}@bench-{}.test", shape.name),
        })
        .collect();
    let policies: Vec<WinPolicy> = (0..data.policies)
        .map(|n| {
            let created = now - Duration::days(700 - n as i64);
            WinPolicy {
                id: id_at(created),
                organization_id: id.clone(),
                win_enterprise_id: None,
                name: format!("Policy {}", n + 1),
                config: json!({ "applications": [], "passwordPolicy": { "minLength": 12 } }),
                version: 1,
                segment_id: Some(1),
                created_at: created,
                updated_at: created,
            }
        })
        .collect();
    let by_user = Skewed::new(users.len());
    let by_policy = Skewed::new(policies.len());
    let tokens: Vec<EnrollmentToken> = (0..shape.tokens)
        .map(|n| {
            let created_at = now - Duration::seconds(rng.random_range(0..2 * 365 * 24 * 3600));
            let state = if rng.random_range(0..100) < shape.deleted_percent {
                StoredState::Deleted
            } else if rng.random_bool(0.2) {
                StoredState::Done
            } else {
                StoredState::Pending
            };
            let count = if rng.random_range(0..100) < data.multi_policy_percent {
                rng.random_range(2..=4)
            } else {
                1
            };
            let mut assigned: Vec<usize> = Vec::new();
            while assigned.len() < count.min(policies.len()) {
                let pick = by_policy.pick(&mut rng);
                if !assigned.contains(&pick) {
                    assigned.push(pick);
                }
            }
            let user = &users[by_user.pick(&mut rng)];
            let token_id = id_at(created_at);
            EnrollmentToken {
                id: token_id.clone(),
                organization_id: id.clone(),
                win_enterprise_id: None,
                win_device_id: None,
                mdm_user_id: Some(user.id.clone()),
                display_name: Some(format!("Laptop {:05}", n % 50_000)),
                tags: vec!["bench".into()],
                state,
                config: json!({}),
                token_type: Some("enrollment".into()),
                sub_type: Some("standard".into()),
                created_at,
                updated_at: (created_at + Duration::seconds(rng.random_range(0..86_400))).min(now),
                expire_at: rng
                    .random_bool(0.8)
                    .then(|| created_at + Duration::days(rng.random_range(1..=365))),
                enrollment_link: Some(format!("https://mdm.bench.test/enroll?token={token_id}")),
                enroll_code: Some(format!("{:06X}", rng.random_range(0..0xFF_FFFF))),
                win_policy_id: Some(policies[assigned[0]].id.clone()),
                win_policy_assignments: assigned
                    .iter()
                    .enumerate()
                    .map(|(rank, policy)| PolicyAssignment {
                        win_policy_id: policies[*policy].id.clone(),
                        priority: rank as u32 * 10,
                    })
                    .collect(),
                send_email: rng.random_bool(0.5),
                email_text: None,
                segment_id: Some(1),
            }
        })
        .filter(|token| !(shape.live_only && token.state == StoredState::Deleted))
        .collect();
    OrgData {
        seeded: SeededOrg {
            name: shape.name,
            id,
            tokens: tokens.len(),
            top_user: users[0].id.clone(),
            top_policy: policies[0].id.clone(),
        },
        organization,
        users,
        policies,
        tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::{generate, seed_time, DataShape};

    #[test]
    fn generated_tokens_are_never_updated_after_the_seed_time() {
        let shape = DataShape::quick();
        for (index, org) in shape.orgs.iter().enumerate() {
            let data = generate(index, org, &shape);
            assert!(data
                .tokens
                .iter()
                .all(|t| t.created_at <= t.updated_at && t.updated_at <= seed_time()));
        }
    }
}

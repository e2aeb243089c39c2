//! The demo organization: a few thousand tokens over several users and policies, some deleted,
//! some done, some expired, some never expiring, some with several policies or only the legacy one.
//! Generated from a fixed seed, with timestamps relative to the moment of seeding.

use chrono::Duration;
use enrollment_tokens::domain::{
    EnrollmentToken, MdmUser, ObjectId, Organization, PolicyAssignment, StoredState, Timestamp,
    WinPolicy,
};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::fixture::Fixture;

pub const DEMO_ORGANIZATION: &str = "65f1a0c0ffee000000000001";
pub const DEMO_SLUG: &str = "demo";
pub const OTHER_ORGANIZATION: &str = "65f1a0c0ffee000000000002";
pub const OTHER_SLUG: &str = "other-corp";

#[derive(Clone, Copy)]
pub struct DemoShape {
    pub tokens: usize,
    pub users: usize,
    pub policies: usize,
    /// Tokens of the second organization, there to show that listings never mix organizations.
    pub other_tokens: usize,
}

impl Default for DemoShape {
    fn default() -> Self {
        Self {
            tokens: 3000,
            users: 40,
            policies: 12,
            other_tokens: 200,
        }
    }
}

const POLICY_NAMES: [&str; 6] = [
    "Baseline",
    "Kiosk",
    "Developer",
    "Finance",
    "BitLocker",
    "Shared PC",
];
const DEVICE_KINDS: [&str; 5] = ["Laptop", "Desktop", "Surface", "Kiosk", "Workstation"];
const TAGS: [&str; 6] = [
    "engineering",
    "sales",
    "finance",
    "corporate",
    "byod",
    "lab",
];
const FIRST_NAMES: [&str; 8] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Linus",
];

pub fn demo(shape: DemoShape, now: Timestamp) -> Fixture {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut fixture = Fixture::default();
    let mut next_id = 0u64;
    let mut id_at = |at: Timestamp| {
        next_id += 1;
        ObjectId::from_parts(at.timestamp() as u32, next_id)
    };
    for (id, slug, name, tokens) in [
        (DEMO_ORGANIZATION, DEMO_SLUG, "Demo Corp", shape.tokens),
        (
            OTHER_ORGANIZATION,
            OTHER_SLUG,
            "Other Corp",
            shape.other_tokens,
        ),
    ] {
        let organization = ObjectId::parse(id).expect("constant ids are valid");
        let enterprise = id_at(now - Duration::days(400));
        fixture.organizations.push(Organization {
            id: organization.clone(),
            slug: slug.into(),
            name: name.into(),
        });
        let users: Vec<ObjectId> = (0..shape.users)
            .map(|n| {
                let user = MdmUser {
                    id: id_at(now - Duration::days(300)),
                    organization_id: organization.clone(),
                    email: format!("user{n}@{slug}.test"),
                };
                let id = user.id.clone();
                fixture.users.push(user);
                id
            })
            .collect();
        let policies: Vec<ObjectId> = (0..shape.policies)
            .map(|n| {
                let created = now - Duration::days(200 - n as i64);
                let policy = WinPolicy {
                    id: id_at(created),
                    organization_id: organization.clone(),
                    win_enterprise_id: Some(enterprise.clone()),
                    name: format!("{} {}", POLICY_NAMES[n % POLICY_NAMES.len()], n + 1),
                    config: json!({
                        "applications": [], "scripts": [], "bookmarks": [],
                        "agentConfiguration": { "enabled": n % 2 == 0 }
                    }),
                    version: (n % 4) as u64 + 1,
                    segment_id: Some((n % 3) as u64),
                    created_at: created,
                    updated_at: created + Duration::days(3),
                };
                let id = policy.id.clone();
                fixture.policies.push(policy);
                id
            })
            .collect();
        for n in 0..tokens {
            let created_at = now - Duration::seconds(rng.random_range(0..90 * 24 * 3600));
            let expire_at = (!rng.random_bool(0.1))
                .then(|| created_at + Duration::seconds(rng.random_range(60..=30 * 24 * 3600)));
            let state = match rng.random_range(0..100) {
                0..10 => StoredState::Deleted,
                10..30 => StoredState::Done,
                _ => StoredState::Pending,
            };
            let roll = rng.random_range(0..100);
            let assigned: Vec<&ObjectId> = if roll < 5 || policies.is_empty() {
                vec![]
            } else {
                let count = if roll < 75 {
                    1
                } else {
                    rng.random_range(2..=3)
                };
                policies.choose_multiple(&mut rng, count).collect()
            };
            let legacy = if roll < 5 {
                policies.choose(&mut rng).cloned()
            } else {
                assigned.first().map(|id| (*id).clone())
            };
            let user = (!rng.random_bool(0.1))
                .then(|| users.choose(&mut rng))
                .flatten();
            let first = FIRST_NAMES.choose(&mut rng).expect("non-empty");
            let kind = DEVICE_KINDS.choose(&mut rng).expect("non-empty");
            let id = id_at(created_at);
            let tag_count = rng.random_range(0..=3);
            fixture.tokens.push(EnrollmentToken {
                id: id.clone(),
                organization_id: organization.clone(),
                win_enterprise_id: Some(enterprise.clone()),
                win_device_id: (state == StoredState::Done).then(|| id_at(created_at)),
                mdm_user_id: user.cloned(),
                display_name: rng
                    .random_bool(0.95)
                    .then(|| format!("{kind} - {first} #{}", n % 500)),
                tags: TAGS
                    .choose_multiple(&mut rng, tag_count)
                    .map(|tag| tag.to_string())
                    .collect(),
                state,
                config: json!({}),
                token_type: Some("enrollment".into()),
                sub_type: Some("standard".into()),
                created_at,
                // Never after the seeding: the newest tokens were created moments ago.
                updated_at: (created_at + Duration::seconds(rng.random_range(0..3600))).min(now),
                expire_at,
                enrollment_link: Some(format!("https://mdm.{slug}.test/enroll?token={id}")),
                enroll_code: Some(format!("{:06X}", rng.random_range(0..0xFF_FFFF))),
                win_policy_id: legacy,
                win_policy_assignments: assigned
                    .iter()
                    .enumerate()
                    .map(|(rank, policy)| PolicyAssignment {
                        win_policy_id: (*policy).clone(),
                        priority: (rank as u32 + 1) * 100,
                    })
                    .collect(),
                send_email: rng.random_bool(0.5),
                email_text: rng
                    .random_bool(0.3)
                    .then(|| "Welcome! Click the link to enroll your device.".to_string()),
                segment_id: Some(rng.random_range(0..4)),
            });
        }
    }
    fixture
}

//! The fixture format: organizations, users, policies and tokens in the API's field shapes,
//! loaded through the service's own write side.
//!
//! ```json
//! {
//!   "organizations": [{ "id": "<24 hex>", "slug": "acme", "name": "Acme" }],
//!   "users":    [{ "id": "<24 hex>", "organizationId": "<24 hex>", "email": "ada@acme.test" }],
//!   "policies": [{ "id": "...", "organizationId": "...", "winEnterpriseId": "...", "name": "Baseline",
//!                  "config": {}, "version": 1, "segmentId": 1,
//!                  "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z" }],
//!   "tokens":   [{ "id": "...", "organizationId": "...", "mdmUser": { "id": "..." },
//!                  "displayName": "Laptop", "tags": ["eng"], "state": "PENDING",
//!                  "createdAt": "...", "updatedAt": "...", "expireAt": null,
//!                  "winPolicyAssignments": [{ "winPolicyId": "...", "priority": 10 }], ... }]
//! }
//! ```
//! A token's `state` is `PENDING`, `DONE` or `DELETED` (`EXPIRED` is derived from `expireAt`);
//! omitted optional fields are null. Items as the API returns them load unchanged.

use std::path::Path;

use anyhow::Context;
use enrollment_tokens::domain::{
    timestamp, EnrollmentToken, MdmUser, ObjectId, Organization, PolicyAssignment, StoredState,
    Timestamp, WinPolicy,
};
use enrollment_tokens::store::Store;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;

/// Data to load: what a fixture file holds, or what the demo generator makes.
#[derive(Default)]
pub struct Fixture {
    pub organizations: Vec<Organization>,
    pub users: Vec<MdmUser>,
    pub policies: Vec<WinPolicy>,
    pub tokens: Vec<EnrollmentToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(default)]
    organizations: Vec<Organization>,
    #[serde(default)]
    users: Vec<MdmUser>,
    #[serde(default)]
    policies: Vec<WinPolicy>,
    #[serde(default)]
    tokens: Vec<FixtureToken>,
}

/// Token writes in flight while loading.
const CONCURRENT_WRITES: usize = 8;

#[derive(Deserialize)]
struct FixtureUser {
    id: ObjectId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixtureAssignment {
    win_policy_id: ObjectId,
    #[serde(default)]
    priority: u32,
}

/// A token as the API lists it; the joined parts (user email, policy bodies, summary) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixtureToken {
    id: ObjectId,
    organization_id: ObjectId,
    win_enterprise_id: Option<ObjectId>,
    win_device_id: Option<ObjectId>,
    mdm_user: Option<FixtureUser>,
    display_name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    state: String,
    #[serde(default)]
    config: Option<Value>,
    #[serde(rename = "type")]
    token_type: Option<String>,
    sub_type: Option<String>,
    #[serde(with = "timestamp")]
    created_at: Timestamp,
    #[serde(with = "timestamp")]
    updated_at: Timestamp,
    #[serde(with = "timestamp::option", default)]
    expire_at: Option<Timestamp>,
    enrollment_link: Option<String>,
    enroll_code: Option<String>,
    win_policy_id: Option<ObjectId>,
    #[serde(default)]
    win_policy_assignments: Vec<FixtureAssignment>,
    #[serde(default)]
    send_email: bool,
    email_text: Option<String>,
    segment_id: Option<u64>,
}

impl FixtureToken {
    fn into_token(self) -> anyhow::Result<EnrollmentToken> {
        let state = match self.state.as_str() {
            "PENDING" | "EXPIRED" => StoredState::Pending,
            "DONE" => StoredState::Done,
            "DELETED" => StoredState::Deleted,
            other => anyhow::bail!("token {}: unknown state {other:?}", self.id),
        };
        Ok(EnrollmentToken {
            id: self.id,
            organization_id: self.organization_id,
            win_enterprise_id: self.win_enterprise_id,
            win_device_id: self.win_device_id,
            mdm_user_id: self.mdm_user.map(|user| user.id),
            display_name: self.display_name,
            tags: self.tags,
            state,
            config: self
                .config
                .unwrap_or_else(|| Value::Object(Default::default())),
            token_type: self.token_type,
            sub_type: self.sub_type,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expire_at: self.expire_at,
            enrollment_link: self.enrollment_link,
            enroll_code: self.enroll_code,
            win_policy_id: self.win_policy_id,
            win_policy_assignments: self
                .win_policy_assignments
                .into_iter()
                .map(|a| PolicyAssignment {
                    win_policy_id: a.win_policy_id,
                    priority: a.priority,
                })
                .collect(),
            send_email: self.send_email,
            email_text: self.email_text,
            segment_id: self.segment_id,
        })
    }
}

impl Fixture {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: FixtureFile = serde_json::from_str(&text)
            .with_context(|| format!("parsing fixture {}", path.display()))?;
        Ok(Self {
            organizations: file.organizations,
            users: file.users,
            policies: file.policies,
            tokens: file
                .tokens
                .into_iter()
                .map(FixtureToken::into_token)
                .collect::<anyhow::Result<_>>()?,
        })
    }

    /// Writes everything through the write side, organizations first, tokens last.
    pub async fn load(self, store: &Store, progress: impl Fn(u64)) -> anyhow::Result<()> {
        for organization in &self.organizations {
            store
                .create_organization(organization)
                .await
                .with_context(|| format!("organization {}", organization.id))?;
        }
        for user in &self.users {
            store
                .put_user(user)
                .await
                .with_context(|| format!("user {}", user.id))?;
        }
        for policy in &self.policies {
            store
                .put_policy(policy)
                .await
                .with_context(|| format!("policy {}", policy.id))?;
        }
        let writes = self.tokens.iter().map(|token| async move {
            store
                .create_token(token)
                .await
                .with_context(|| format!("token {}", token.id))
        });
        let mut writes = futures::stream::iter(writes).buffer_unordered(CONCURRENT_WRITES);
        while let Some(written) = writes.next().await {
            written?;
            progress(1);
        }
        Ok(())
    }

    pub fn token_count(&self) -> u64 {
        self.tokens.len() as u64
    }
}

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::{timestamp, Timestamp};
use super::ObjectId;

/// The state kept in storage. `EXPIRED` is never stored: it is derived when a token is read.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum StoredState {
    Deleted,
    Done,
    Pending,
}

impl StoredState {
    pub const ALL: [StoredState; 3] = [Self::Deleted, Self::Done, Self::Pending];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deleted => "DELETED",
            Self::Done => "DONE",
            Self::Pending => "PENDING",
        }
    }

    pub fn is_live(self) -> bool {
        self != Self::Deleted
    }
}

/// The state as the API shows it. The variants are declared in the order `sort=state:asc` lists them.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum TokenState {
    Deleted,
    Done,
    Expired,
    Pending,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAssignment {
    pub win_policy_id: ObjectId,
    #[serde(deserialize_with = "super::lenient::small_number")]
    pub priority: u32,
}

/// An enrollment token as stored: references to the user and policies, not copies of them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentToken {
    pub id: ObjectId,
    pub organization_id: ObjectId,
    pub win_enterprise_id: Option<ObjectId>,
    pub win_device_id: Option<ObjectId>,
    pub mdm_user_id: Option<ObjectId>,
    pub display_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub state: StoredState,
    #[serde(default = "super::empty_object")]
    pub config: Value,
    #[serde(rename = "type")]
    pub token_type: Option<String>,
    pub sub_type: Option<String>,
    #[serde(with = "timestamp")]
    pub created_at: Timestamp,
    #[serde(with = "timestamp")]
    pub updated_at: Timestamp,
    #[serde(with = "timestamp::option", default)]
    pub expire_at: Option<Timestamp>,
    pub enrollment_link: Option<String>,
    pub enroll_code: Option<String>,
    /// Legacy single-policy reference, kept beside `win_policy_assignments`.
    pub win_policy_id: Option<ObjectId>,
    #[serde(default)]
    pub win_policy_assignments: Vec<PolicyAssignment>,
    #[serde(default)]
    pub send_email: bool,
    pub email_text: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::optional_number")]
    pub segment_id: Option<u64>,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TokenSummary {
    #[serde(with = "timestamp::option")]
    pub expiration_timestamp: Option<Timestamp>,
}

impl EnrollmentToken {
    /// A pending token whose expiry has passed is shown as `EXPIRED`.
    pub fn shown_state(&self, now: Timestamp) -> TokenState {
        match self.state {
            StoredState::Deleted => TokenState::Deleted,
            StoredState::Done => TokenState::Done,
            StoredState::Pending if self.is_expired(now) => TokenState::Expired,
            StoredState::Pending => TokenState::Pending,
        }
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expire_at.is_some_and(|at| at <= now)
    }

    /// Every policy the token is filtered by: its assignments and the legacy `winPolicyId`.
    pub fn policy_ids(&self) -> Vec<ObjectId> {
        let mut ids: Vec<ObjectId> = self
            .win_policy_assignments
            .iter()
            .map(|assignment| assignment.win_policy_id.clone())
            .chain(self.win_policy_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    pub fn summary(&self) -> TokenSummary {
        TokenSummary {
            expiration_timestamp: self.expire_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;

    fn id(n: u64) -> ObjectId {
        ObjectId::from_parts(0x6980_0000, n)
    }

    fn token(state: StoredState, expire_at: Option<Timestamp>) -> EnrollmentToken {
        let now = Utc::now();
        EnrollmentToken {
            id: id(1),
            organization_id: id(2),
            win_enterprise_id: None,
            win_device_id: None,
            mdm_user_id: None,
            display_name: None,
            tags: vec![],
            state,
            config: crate::domain::empty_object(),
            token_type: None,
            sub_type: None,
            created_at: now,
            updated_at: now,
            expire_at,
            enrollment_link: None,
            enroll_code: None,
            win_policy_id: Some(id(3)),
            win_policy_assignments: vec![
                PolicyAssignment {
                    win_policy_id: id(4),
                    priority: 1,
                },
                PolicyAssignment {
                    win_policy_id: id(3),
                    priority: 2,
                },
            ],
            send_email: false,
            email_text: None,
            segment_id: None,
        }
    }

    #[test]
    fn pending_past_expiry_shows_expired_and_other_states_do_not() {
        let now = Utc::now();
        let past = Some(now - Duration::seconds(1));
        assert_eq!(
            token(StoredState::Pending, past).shown_state(now),
            TokenState::Expired
        );
        assert_eq!(
            token(StoredState::Pending, Some(now)).shown_state(now),
            TokenState::Expired
        );
        assert_eq!(
            token(StoredState::Pending, Some(now + Duration::seconds(1))).shown_state(now),
            TokenState::Pending
        );
        assert_eq!(
            token(StoredState::Pending, None).shown_state(now),
            TokenState::Pending
        );
        assert_eq!(
            token(StoredState::Done, past).shown_state(now),
            TokenState::Done
        );
        assert_eq!(
            token(StoredState::Deleted, past).shown_state(now),
            TokenState::Deleted
        );
    }

    #[test]
    fn policy_ids_merge_assignments_and_legacy_reference_once() {
        assert_eq!(
            token(StoredState::Done, None).policy_ids(),
            vec![id(3), id(4)]
        );
    }
}

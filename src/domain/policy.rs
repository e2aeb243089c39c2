use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::{timestamp, Timestamp};
use super::ObjectId;

/// A Windows policy, embedded whole in each assignment of the listed tokens.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WinPolicy {
    pub id: ObjectId,
    pub organization_id: ObjectId,
    pub win_enterprise_id: Option<ObjectId>,
    pub name: String,
    #[serde(default = "super::empty_object")]
    pub config: Value,
    #[serde(default, deserialize_with = "super::lenient::number")]
    pub version: u64,
    #[serde(default, deserialize_with = "super::lenient::optional_number")]
    pub segment_id: Option<u64>,
    #[serde(with = "timestamp")]
    pub created_at: Timestamp,
    #[serde(with = "timestamp")]
    pub updated_at: Timestamp,
}

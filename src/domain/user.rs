use serde::{Deserialize, Serialize};

use super::ObjectId;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MdmUser {
    pub id: ObjectId,
    pub organization_id: ObjectId,
    pub email: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: ObjectId,
    /// Lower-case, unique; the path accepts it in place of the id.
    pub slug: String,
    pub name: String,
}

//! The key design of the single table: every key, list key and sort key is built here.
//! `docs/table-design.md` is the same design as a table.

use crate::domain::{
    format_timestamp, EnrollmentToken, Filter, ObjectId, Position, SortDirection, SortField,
    StoredState,
};

/// Changes whenever the stored layout (keys, sort keys, indexes) changes, so that tools keeping a
/// local database know to seed it again.
pub const LAYOUT_VERSION: u32 = 2;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// List key of every listing the token belongs to, deleted or not.
pub const LIST_ALL: &str = "lkA";
/// List key of the listings that hide deleted tokens; absent on deleted tokens (sparse).
pub const LIST_LIVE: &str = "lkL";
pub const SORT_CREATED: &str = "skC";
pub const SORT_UPDATED: &str = "skU";
pub const SORT_EXPIRE: &str = "skE";
pub const SORT_NAME: &str = "skN";
pub const SORT_STATE: &str = "skS";
/// Optimistic-concurrency revision of a token, bumped by every write.
pub const REVISION: &str = "rev";

pub const COUNT_PENDING: &str = "nPending";
pub const COUNT_DONE: &str = "nDone";
pub const COUNT_DELETED: &str = "nDeleted";

/// Attributes the join needs, projected into the indexes that do not carry whole tokens.
pub const JOIN_ATTRIBUTES: [&str; 3] = ["mdmUserId", "winPolicyId", "winPolicyAssignments"];

/// Sorts that cannot occur in display names: ends a name inside a sort key.
const NAME_END: char = '\u{1}';

pub fn organization(id: &ObjectId) -> (String, String) {
    (format!("ORG#{id}"), "ORG".into())
}

pub fn slug(slug: &str) -> (String, String) {
    (format!("SLUG#{}", slug.to_ascii_lowercase()), "SLUG".into())
}

pub fn user(organization: &ObjectId, id: &ObjectId) -> (String, String) {
    (format!("USER#{organization}#{id}"), "USER".into())
}

pub fn policy(organization: &ObjectId, id: &ObjectId) -> (String, String) {
    (format!("POLICY#{organization}#{id}"), "POLICY".into())
}

pub fn token_partition(id: &ObjectId) -> String {
    format!("T#{id}")
}

/// The token's own item; its other items are its memberships in the filtered listings.
pub const TOKEN_CANONICAL_SK: &str = "O";

pub fn token(id: &ObjectId) -> (String, String) {
    (token_partition(id), TOKEN_CANONICAL_SK.into())
}

/// A listing a token can appear in: the organization, narrowed by user, policy or both.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub organization: ObjectId,
    pub user: Option<ObjectId>,
    pub policy: Option<ObjectId>,
}

impl Scope {
    pub fn of_filter(organization: &ObjectId, filter: &Filter) -> Self {
        Self {
            organization: organization.clone(),
            user: filter.user.clone(),
            policy: filter.policy.clone(),
        }
    }

    /// The value of `lkA` / `lkL` on the token's items of this scope.
    pub fn list_key(&self) -> String {
        let mut key = format!("T#{}", self.organization);
        if let Some(user) = &self.user {
            key.push_str("#U#");
            key.push_str(user.as_str());
        }
        if let Some(policy) = &self.policy {
            key.push_str("#P#");
            key.push_str(policy.as_str());
        }
        key
    }

    /// The sort key of the token's item for this scope (its partition key is the token's).
    pub fn member_sk(&self) -> String {
        match (&self.user, &self.policy) {
            (None, None) => TOKEN_CANONICAL_SK.into(),
            (Some(_), None) => "U".into(),
            (None, Some(policy)) => format!("P#{policy}"),
            (Some(_), Some(policy)) => format!("UP#{policy}"),
        }
    }

    pub fn counter(&self) -> (String, String) {
        (format!("COUNT#{}", self.list_key()), "COUNT".into())
    }

    /// Every scope `token` is listed in.
    pub fn all_of(token: &EnrollmentToken) -> Vec<Scope> {
        let organization = &token.organization_id;
        let scope = |user: Option<&ObjectId>, policy: Option<&ObjectId>| Scope {
            organization: organization.clone(),
            user: user.cloned(),
            policy: policy.cloned(),
        };
        let user = token.mdm_user_id.as_ref();
        let policies = token.policy_ids();
        let mut scopes = vec![scope(None, None)];
        scopes.extend(user.map(|user| scope(Some(user), None)));
        for policy in &policies {
            scopes.push(scope(None, Some(policy)));
            scopes.extend(user.map(|user| scope(Some(user), Some(policy))));
        }
        scopes
    }
}

pub fn counter_attribute(state: StoredState) -> &'static str {
    match state {
        StoredState::Pending => COUNT_PENDING,
        StoredState::Done => COUNT_DONE,
        StoredState::Deleted => COUNT_DELETED,
    }
}

/// Sort-key values of a token: `value#id`, so that equal values fall back to id order.
pub fn sort_keys(token: &EnrollmentToken) -> [(&'static str, String); 5] {
    let id = token.id.as_str();
    [
        (
            SORT_CREATED,
            format!("{}#{id}", format_timestamp(&token.created_at)),
        ),
        (
            SORT_UPDATED,
            format!("{}#{id}", format_timestamp(&token.updated_at)),
        ),
        // A token that never expires sorts before every date, as a null does in MongoDB.
        (
            SORT_EXPIRE,
            match &token.expire_at {
                None => format!("0#{id}"),
                Some(at) => format!("1{}#{id}", format_timestamp(at)),
            },
        ),
        (
            SORT_NAME,
            match &token.display_name {
                None => format!("0{NAME_END}{id}"),
                Some(name) => format!("1{name}{NAME_END}{id}"),
            },
        ),
        (SORT_STATE, state_sort_key(token)),
    ]
}

/// Stored states sort DELETED < DONE < PENDING as strings. Inside PENDING the expiry comes first
/// (never-expiring last), so the EXPIRED tokens (expiry passed) precede the PENDING ones at any
/// moment: the state order of the listing is the key order, with no read-time split.
fn state_sort_key(token: &EnrollmentToken) -> String {
    let id = token.id.as_str();
    match (token.state, &token.expire_at) {
        (StoredState::Pending, Some(at)) => format!("PENDING#1{}#{id}", format_timestamp(at)),
        (StoredState::Pending, None) => format!("PENDING#9#{id}"),
        (state, _) => format!("{}#{id}", state.as_str()),
    }
}

/// The least state sort key of a live token: live listings read the state index from here.
pub const LIVE_STATE_FROM: &str = "DONE#";

/// Display names may not hold control characters: one of them ends a name inside a sort key.
pub fn is_sortable_name(name: &str) -> bool {
    !name.chars().any(char::is_control)
}

/// The GSIs of the table. Every listing is served by an index whose partition key is a list key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    All,
    KeysOnly,
    /// The attributes the join needs.
    Join,
}

#[derive(Clone, Copy, Debug)]
pub struct IndexDef {
    pub name: &'static str,
    pub partition: &'static str,
    pub sort: &'static str,
    pub projection: Projection,
}

const fn index(
    name: &'static str,
    partition: &'static str,
    sort: &'static str,
    projection: Projection,
) -> IndexDef {
    IndexDef {
        name,
        partition,
        sort,
        projection,
    }
}

const JOIN: Projection = Projection::Join;

pub const INDEXES: [IndexDef; 11] = [
    index("all-created", LIST_ALL, SORT_CREATED, Projection::All),
    index("live-created", LIST_LIVE, SORT_CREATED, Projection::All),
    index(
        "all-created-keys",
        LIST_ALL,
        SORT_CREATED,
        Projection::KeysOnly,
    ),
    index(
        "live-created-keys",
        LIST_LIVE,
        SORT_CREATED,
        Projection::KeysOnly,
    ),
    index("all-updated", LIST_ALL, SORT_UPDATED, JOIN),
    index("live-updated", LIST_LIVE, SORT_UPDATED, JOIN),
    index("all-expire", LIST_ALL, SORT_EXPIRE, JOIN),
    index("live-expire", LIST_LIVE, SORT_EXPIRE, JOIN),
    index("all-name", LIST_ALL, SORT_NAME, JOIN),
    index("live-name", LIST_LIVE, SORT_NAME, JOIN),
    // One state index serves both visibilities: live listings start at the DONE range.
    index("all-state", LIST_ALL, SORT_STATE, JOIN),
];

fn find(name: &str) -> &'static IndexDef {
    INDEXES
        .iter()
        .find(|index| index.name == name)
        .expect("index names below are all in INDEXES")
}

/// How a listing is read: the index that skips (small entries) and the one that yields the page,
/// and where on the sort key the listing starts.
pub struct ListPlan {
    pub skip: &'static IndexDef,
    pub page: &'static IndexDef,
    pub forward: bool,
    pub sort_from: Option<&'static str>,
}

pub fn list_plan(field: SortField, direction: SortDirection, show_deleted: bool) -> ListPlan {
    let visibility = if show_deleted { "all" } else { "live" };
    let (skip, page) = match field {
        SortField::CreatedAt => (
            format!("{visibility}-created-keys"),
            format!("{visibility}-created"),
        ),
        SortField::UpdatedAt => (
            format!("{visibility}-updated"),
            format!("{visibility}-updated"),
        ),
        SortField::ExpireAt => (
            format!("{visibility}-expire"),
            format!("{visibility}-expire"),
        ),
        SortField::DisplayName => (format!("{visibility}-name"), format!("{visibility}-name")),
        SortField::State => ("all-state".into(), "all-state".into()),
    };
    let live_by_state = field == SortField::State && !show_deleted;
    ListPlan {
        skip: find(&skip),
        page: find(&page),
        forward: direction == SortDirection::Ascending,
        sort_from: live_by_state.then_some(LIVE_STATE_FROM),
    }
}

/// The key of `position` on `index` in `scope`'s listing: where a walk resumes after it.
pub fn position_key(
    index: &IndexDef,
    scope: &Scope,
    position: &Position,
) -> [(&'static str, String); 4] {
    [
        (PK, token_partition(&position.token)),
        (SK, scope.member_sk()),
        (index.partition, scope.list_key()),
        (index.sort, position.sort_key.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sort_and_visibility_has_a_plan_over_matching_keys() {
        for field in SortField::ALL {
            for direction in [SortDirection::Ascending, SortDirection::Descending] {
                for show_deleted in [false, true] {
                    let plan = list_plan(field, direction, show_deleted);
                    assert_eq!(plan.skip.partition, plan.page.partition);
                    assert_eq!(plan.skip.sort, plan.page.sort);
                    assert_ne!(plan.skip.projection, Projection::All);
                }
            }
        }
    }

    #[test]
    fn names_sort_before_their_extensions() {
        let key = |name: &str, id: &str| format!("1{name}{NAME_END}{id}");
        assert!(key("ab", "ffffffffffffffffffffffff") < key("ab#", "000000000000000000000000"));
        assert!(key("ab", "ffffffffffffffffffffffff") < key("ab ", "000000000000000000000000"));
        assert!(key("", "ffffffffffffffffffffffff") < key("a", "000000000000000000000000"));
    }
}

//! The query engine of the listing: which index walk yields which page, and the join.
//!
//! Cost model (see docs/table-design.md): totals come from counters; skipping walks small
//! index entries; the page itself is read from an index that carries whole tokens (default sort)
//! or fetched by key; users and policies are joined in one batched round trip.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::keys::{self, list_plan, Scope};
use aws_sdk_dynamodb::types::AttributeValue;

use super::read::{decode, Walk};
use super::{key_item, string_attr, Item, ReadMeter, Store};
use crate::domain::{
    EnrollmentToken, MdmUser, ObjectId, PageRequest, PolicyAssignment, Position, WinPolicy,
};
use crate::error::Error;

/// A page of tokens with what they reference, and the total of the listing.
#[derive(Debug, Default)]
pub struct ListedPage {
    pub tokens: Vec<EnrollmentToken>,
    pub users: HashMap<ObjectId, MdmUser>,
    pub policies: HashMap<ObjectId, WinPolicy>,
    pub total_docs: u64,
    /// Where the page starts and ends in the listing's order: what cursors continue from.
    pub first: Option<Position>,
    pub last: Option<Position>,
}

/// The references of an index entry that does not carry the whole token.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryRefs {
    mdm_user_id: Option<ObjectId>,
    win_policy_id: Option<ObjectId>,
    #[serde(default)]
    win_policy_assignments: Vec<PolicyAssignment>,
}

/// The entries of a page as the index yielded them, with the places of the first and the last.
#[derive(Default)]
struct Walked {
    entries: Vec<Entry>,
    first: Option<Position>,
    last: Option<Position>,
}

/// A page entry: the whole token when the index carries it, else its id and references.
enum Entry {
    Whole(Box<EnrollmentToken>),
    Refs(ObjectId, EntryRefs),
}

impl Store {
    pub async fn list_tokens(
        &self,
        organization: &ObjectId,
        request: &PageRequest,
        meter: &ReadMeter,
    ) -> Result<ListedPage, Error> {
        let scope = Scope::of_filter(organization, &request.filter);
        let header = self.read_header(organization, scope.counter(), meter);
        let needs_no_skip = request.offset() == 0 || request.anchor.is_some();
        let (counts, walked) = if request.limit > 0 && needs_no_skip {
            // Such a page does not depend on the totals: read both at once.
            let (counts, walked) = tokio::join!(header, self.page_entries(&scope, request, meter));
            (counts?, walked?)
        } else {
            let counts = header.await?;
            let walked =
                if request.limit == 0 || request.offset() >= counts.total(request.show_deleted) {
                    Walked::default()
                } else {
                    self.page_entries(&scope, request, meter).await?
                };
            (counts, walked)
        };
        let mut listed = self.join(organization, walked.entries, meter).await?;
        listed.total_docs = counts.total(request.show_deleted);
        listed.first = walked.first;
        listed.last = walked.last;
        Ok(listed)
    }

    /// The page's index entries, reached by skipping `offset` entries or from a cursor's anchor.
    async fn page_entries(
        &self,
        scope: &Scope,
        request: &PageRequest,
        meter: &ReadMeter,
    ) -> Result<Walked, Error> {
        let plan = list_plan(
            request.sort.field,
            request.sort.direction,
            request.show_deleted,
        );
        let list_key = scope.list_key();
        let walk = |index, forward| Walk {
            index,
            list_key: &list_key,
            sort_from: plan.sort_from,
            forward,
        };
        let (start, forward) = match &request.anchor {
            Some(anchor) => {
                let key = keys::position_key(plan.page, scope, &anchor.from)
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), AttributeValue::S(value)))
                    .collect();
                (Some(key), plan.forward != anchor.backward)
            }
            None => match request.offset() {
                0 => (None, plan.forward),
                offset => match self
                    .skip(walk(plan.skip, plan.forward), offset, meter)
                    .await?
                {
                    Some(start) => (Some(start), plan.forward),
                    None => return Ok(Walked::default()),
                },
            },
        };
        let mut items = self
            .take(walk(plan.page, forward), Some(request.limit), start, meter)
            .await?;
        if forward != plan.forward {
            items.reverse();
        }
        let position = |item: Option<&Item>| item.map(|item| position(item, plan.page)).transpose();
        Ok(Walked {
            first: position(items.first())?,
            last: position(items.last())?,
            entries: items
                .iter()
                .map(|item| entry(item, plan.page.projection))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Fetches what the entries do not carry (tokens, users, policies) in one batched round trip.
    async fn join(
        &self,
        organization: &ObjectId,
        entries: Vec<Entry>,
        meter: &ReadMeter,
    ) -> Result<ListedPage, Error> {
        let mut wanted_tokens = Vec::new();
        let mut users = HashSet::new();
        let mut policies = HashSet::new();
        let mut refer =
            |user: &Option<ObjectId>, legacy: &Option<ObjectId>, assigned: &[PolicyAssignment]| {
                users.extend(user.iter().cloned());
                policies.extend(legacy.iter().cloned());
                policies.extend(assigned.iter().map(|a| a.win_policy_id.clone()));
            };
        for entry in &entries {
            match entry {
                Entry::Whole(token) => refer(
                    &token.mdm_user_id,
                    &token.win_policy_id,
                    &token.win_policy_assignments,
                ),
                Entry::Refs(id, refs) => {
                    wanted_tokens.push(id.clone());
                    refer(
                        &refs.mdm_user_id,
                        &refs.win_policy_id,
                        &refs.win_policy_assignments,
                    );
                }
            }
        }
        let keys: Vec<Item> = wanted_tokens
            .iter()
            .map(keys::token)
            .chain(users.iter().map(|user| keys::user(organization, user)))
            .chain(
                policies
                    .iter()
                    .map(|policy| keys::policy(organization, policy)),
            )
            .map(key_item)
            .collect();
        let items = if keys.is_empty() {
            Vec::new()
        } else {
            self.batch_get(keys, meter).await?
        };
        let mut listed = ListedPage::default();
        let mut fetched_tokens = HashMap::new();
        for item in &items {
            let pk = string_attr(item, keys::PK).unwrap_or_default();
            if pk.starts_with("T#") {
                let token: EnrollmentToken = decode(item, "token")?;
                fetched_tokens.insert(token.id.clone(), token);
            } else if pk.starts_with("USER#") {
                let user: MdmUser = decode(item, "user")?;
                listed.users.insert(user.id.clone(), user);
            } else if pk.starts_with("POLICY#") {
                let policy: WinPolicy = decode(item, "policy")?;
                listed.policies.insert(policy.id.clone(), policy);
            }
        }
        for entry in entries {
            let token = match entry {
                Entry::Whole(token) => *token,
                Entry::Refs(id, _) => match fetched_tokens.remove(&id) {
                    Some(token) => token,
                    // An index entry outlived its token: the index lags a write. Not listed.
                    None => {
                        tracing::warn!(token = %id, "index entry without a token item");
                        continue;
                    }
                },
            };
            if &token.organization_id != organization {
                return Err(Error::Internal(format!(
                    "token {} of organization {} listed under {organization}",
                    token.id, token.organization_id
                )));
            }
            listed.tokens.push(token);
        }
        Ok(listed)
    }
}

fn entry(item: &Item, projection: keys::Projection) -> Result<Entry, Error> {
    if projection == keys::Projection::All {
        return Ok(Entry::Whole(Box::new(decode(item, "token")?)));
    }
    Ok(Entry::Refs(token_id(item)?, decode(item, "index entry")?))
}

fn token_id(item: &Item) -> Result<ObjectId, Error> {
    string_attr(item, keys::PK)
        .and_then(|pk| pk.strip_prefix("T#"))
        .and_then(|id| ObjectId::parse(id).ok())
        .ok_or_else(|| Error::Internal("index entry without a token key".into()))
}

/// The entry's place in the index's order, as the index has it (the token may have moved since).
fn position(item: &Item, index: &keys::IndexDef) -> Result<Position, Error> {
    let sort_key = string_attr(item, index.sort)
        .ok_or_else(|| Error::Internal(format!("index entry without {}", index.sort)))?;
    Ok(Position {
        token: token_id(item)?,
        sort_key: sort_key.to_string(),
    })
}

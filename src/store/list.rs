//! The query engine of the listing: which index walk yields which page, and the join.
//!
//! Cost model (see docs/table-design.md): totals come from counters; skipping walks small
//! index entries; the page itself is read from an index that carries whole tokens (default sort)
//! or fetched by key; users and policies are joined in one batched round trip.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::keys::{self, list_plan, Scope};
use super::read::{decode, Counts, Walk};
use super::{key_item, string_attr, Item, ReadMeter, Store};
use crate::domain::{
    EnrollmentToken, MdmUser, ObjectId, PageRequest, PolicyAssignment, SortDirection, SortField,
    StoredState, Timestamp, WinPolicy,
};
use crate::error::Error;

/// A page of tokens with what they reference, and the total of the listing.
#[derive(Debug, Default)]
pub struct ListedPage {
    pub tokens: Vec<EnrollmentToken>,
    pub users: HashMap<ObjectId, MdmUser>,
    pub policies: HashMap<ObjectId, WinPolicy>,
    pub total_docs: u64,
}

/// The references of an index entry that does not carry the whole token.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryRefs {
    mdm_user_id: Option<ObjectId>,
    win_policy_id: Option<ObjectId>,
    #[serde(default)]
    win_policy_assignments: Vec<PolicyAssignment>,
    #[serde(default, with = "crate::domain::timestamp::option")]
    expire_at: Option<Timestamp>,
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
        now: Timestamp,
        meter: &ReadMeter,
    ) -> Result<ListedPage, Error> {
        let scope = Scope::of_filter(organization, &request.filter);
        let list_key = scope.list_key();
        let offset = request.offset();
        let header = self.read_header(organization, scope.counter(), meter);
        let (counts, entries) =
            if request.limit > 0 && offset == 0 && request.sort.field != SortField::State {
                // The first page does not depend on the totals: read both at once.
                let (counts, entries) = tokio::join!(
                    header,
                    self.page_entries(&list_key, request, None, now, meter)
                );
                (counts?, entries?)
            } else {
                let counts = header.await?;
                let entries = if request.limit == 0 || offset >= counts.total(request.show_deleted)
                {
                    Vec::new()
                } else {
                    self.page_entries(&list_key, request, Some(counts), now, meter)
                        .await?
                };
                (counts, entries)
            };
        let mut listed = self.join(organization, entries, meter).await?;
        listed.total_docs = counts.total(request.show_deleted);
        Ok(listed)
    }

    async fn page_entries(
        &self,
        list_key: &str,
        request: &PageRequest,
        counts: Option<Counts>,
        now: Timestamp,
        meter: &ReadMeter,
    ) -> Result<Vec<Entry>, Error> {
        let plan = list_plan(
            request.sort.field,
            request.sort.direction,
            request.show_deleted,
        );
        let walk = |index| Walk {
            index,
            list_key,
            sort_prefix: None,
            forward: plan.forward,
        };
        if request.sort.field == SortField::State {
            let counts = counts.unwrap_or_default();
            return self
                .state_page(walk(plan.page), request, counts, now, meter)
                .await;
        }
        let start = match request.offset() {
            0 => None,
            offset => match self.skip(walk(plan.skip), offset, meter).await? {
                Some(start) => Some(start),
                None => return Ok(Vec::new()),
            },
        };
        let items = self
            .take(walk(plan.page), Some(request.limit), start, meter)
            .await?;
        items
            .iter()
            .map(|item| entry(item, plan.page.projection))
            .collect()
    }

    /// Sorting by state: states stored as DELETED and DONE are ranges of the state index;
    /// PENDING splits at read time into EXPIRED and PENDING, each in id order, so that range is
    /// read whole (keys and expiry only) when the page reaches into it.
    async fn state_page(
        &self,
        walk: Walk<'_>,
        request: &PageRequest,
        counts: Counts,
        now: Timestamp,
        meter: &ReadMeter,
    ) -> Result<Vec<Entry>, Error> {
        let mut states: Vec<StoredState> = StoredState::ALL
            .into_iter()
            .filter(|state| request.show_deleted || state.is_live())
            .collect();
        if request.sort.direction == SortDirection::Descending {
            states.reverse();
        }
        let window_start = request.offset();
        let window_end = window_start.saturating_add(request.limit);
        let mut entries = Vec::new();
        let mut range_start = 0u64;
        for state in states {
            let range_end = range_start + counts.of(state);
            let from = window_start.max(range_start);
            let to = window_end.min(range_end);
            if from < to {
                let prefix = keys::state_prefix(state);
                let walk = Walk {
                    sort_prefix: Some(&prefix),
                    ..walk
                };
                let (skip, take) = (from - range_start, to - from);
                let items = if state == StoredState::Pending {
                    let all = self.take(walk, None, None, meter).await?;
                    let (expired, pending): (Vec<Item>, Vec<Item>) =
                        all.into_iter()
                            .try_fold((vec![], vec![]), |mut split, item| {
                                let refs: EntryRefs = decode(&item, "state index entry")?;
                                let expired = refs.expire_at.is_some_and(|at| at <= now);
                                if expired { &mut split.0 } else { &mut split.1 }.push(item);
                                Ok::<_, Error>(split)
                            })?;
                    let ordered = match request.sort.direction {
                        SortDirection::Ascending => expired.into_iter().chain(pending),
                        SortDirection::Descending => pending.into_iter().chain(expired),
                    };
                    ordered.skip(skip as usize).take(take as usize).collect()
                } else {
                    let start = match skip {
                        0 => None,
                        skip => self.skip(walk, skip, meter).await?,
                    };
                    if skip > 0 && start.is_none() {
                        Vec::new()
                    } else {
                        self.take(walk, Some(take), start, meter).await?
                    }
                };
                for item in &items {
                    entries.push(entry(item, walk.index.projection)?);
                }
            }
            range_start = range_end;
        }
        Ok(entries)
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
    let id = string_attr(item, keys::PK)
        .and_then(|pk| pk.strip_prefix("T#"))
        .and_then(|id| ObjectId::parse(id).ok())
        .ok_or_else(|| Error::Internal("index entry without a token key".into()))?;
    Ok(Entry::Refs(id, decode(item, "index entry")?))
}

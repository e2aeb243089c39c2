//! The write side: every write of a token puts its items in all its listings and moves the
//! counters of those listings in one `TransactWriteItems`, so listings and totals never disagree.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, PutRequest, TransactWriteItem, Update,
    WriteRequest,
};
use futures::StreamExt;

use super::keys::{self, Scope};
use super::read::decode;
use super::{classify, key_item, Item, Store};
use crate::domain::{
    EnrollmentToken, MdmUser, ObjectId, Organization, StoredState, Timestamp, WinPolicy,
};
use crate::error::Error;

/// Bounded so that the largest token rewrite fits in one transaction (100 actions).
pub const MAX_POLICIES_PER_TOKEN: usize = 10;
const MAX_DISPLAY_NAME_CHARS: usize = 128;
const MAX_TRANSACTION_ACTIONS: usize = 100;
/// BatchWriteItem takes at most 25 puts.
const BATCH_WRITE_LIMIT: usize = 25;
/// Tokens a bulk-load batch holds, and batches in flight.
const IMPORT_CHUNK: usize = 200;
const IMPORT_CONCURRENCY: usize = 4;
/// Attempts of a read-modify-write that lost a race with another write of the same token.
const CONFLICT_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("another write changed the token first")]
    Conflict,
    #[error("invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] Error),
}

/// One action of a transaction, with what a failed condition on it means.
struct Action {
    item: TransactWriteItem,
    on_condition_failed: Option<WriteError>,
}

impl Store {
    pub async fn create_organization(&self, organization: &Organization) -> Result<(), WriteError> {
        let slug = &organization.slug;
        let valid = (3..=128).contains(&slug.len())
            && slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && ObjectId::parse(slug).is_err();
        if !valid {
            return Err(WriteError::Invalid(format!(
                "slug {slug:?}: 3 to 128 letters, digits or hyphens, and not shaped like an id"
            )));
        }
        let mut item = to_item(organization)?;
        item.extend(key_item(keys::organization(&organization.id)));
        let mut slug = key_item(keys::slug(&organization.slug));
        slug.insert(
            "organizationId".into(),
            AttributeValue::S(organization.id.to_string()),
        );
        let what = format!(
            "organization {} / slug {}",
            organization.id, organization.slug
        );
        self.transact(vec![
            self.put_new(item, WriteError::AlreadyExists(what.clone())),
            self.put_new(slug, WriteError::AlreadyExists(what)),
        ])
        .await
    }

    /// Creates or replaces a user. Tokens reference users, so an email change shows at once.
    pub async fn put_user(&self, user: &MdmUser) -> Result<(), WriteError> {
        let mut item = to_item(user)?;
        item.extend(key_item(keys::user(&user.organization_id, &user.id)));
        self.put_in_organization(&user.organization_id, item).await
    }

    /// Creates or replaces a policy; listed tokens embed its current version.
    pub async fn put_policy(&self, policy: &WinPolicy) -> Result<(), WriteError> {
        let mut item = to_item(policy)?;
        item.extend(key_item(keys::policy(&policy.organization_id, &policy.id)));
        self.put_in_organization(&policy.organization_id, item)
            .await
    }

    /// Deletes a policy; tokens that still reference it list it as `winPolicy: null`.
    pub async fn delete_policy(
        &self,
        organization: &ObjectId,
        id: &ObjectId,
    ) -> Result<(), WriteError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(keys::policy(organization, id))))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }

    /// Loads new tokens into organizations that have none yet: every item in batches, then each
    /// listing's counter once. Much faster than a transaction per token, and only for bulk loads
    /// (a benchmark's data, a migration) while nothing else writes those organizations; references
    /// are not checked. `progress` hears how many tokens each finished batch held.
    pub async fn import_tokens(
        &self,
        tokens: &[EnrollmentToken],
        progress: impl Fn(usize),
    ) -> Result<(), WriteError> {
        let mut counts: BTreeMap<Scope, BTreeMap<StoredState, u64>> = BTreeMap::new();
        for token in tokens {
            validate(token)?;
            for scope in Scope::all_of(token) {
                *counts
                    .entry(scope)
                    .or_default()
                    .entry(token.state)
                    .or_default() += 1;
            }
        }
        let mut batches =
            futures::stream::iter(tokens.chunks(IMPORT_CHUNK).map(|chunk| async move {
                let items = chunk
                    .iter()
                    .flat_map(|token| {
                        Scope::all_of(token)
                            .into_iter()
                            .map(move |scope| token_item(token, &scope, 1))
                    })
                    .collect();
                self.batch_write(items).await.map(|()| chunk.len())
            }))
            .buffer_unordered(IMPORT_CONCURRENCY);
        while let Some(done) = batches.next().await {
            progress(done?);
        }
        let counters = counts
            .into_iter()
            .map(|(scope, by_state)| {
                let mut item = key_item(scope.counter());
                for (state, count) in by_state {
                    item.insert(
                        keys::counter_attribute(state).into(),
                        AttributeValue::N(count.to_string()),
                    );
                }
                item
            })
            .collect();
        self.batch_write(counters).await
    }

    /// Puts every item, 25 a call, retrying what comes back unprocessed.
    async fn batch_write(&self, items: Vec<Item>) -> Result<(), WriteError> {
        for chunk in items.chunks(BATCH_WRITE_LIMIT) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .expect("the item is set");
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            for attempt in 0.. {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| WriteError::Store(classify("BatchWriteItem", e)))?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut by_table| by_table.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(WriteError::Store(Error::Unavailable(format!(
                        "BatchWriteItem: {} items still unprocessed",
                        pending.len()
                    ))));
                }
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
        }
        Ok(())
    }

    pub async fn create_token(&self, token: &EnrollmentToken) -> Result<(), WriteError> {
        validate(token)?;
        let actions = self.token_actions(None, token, 1);
        self.transact(actions).await
    }

    /// Reads the token, applies `change`, writes it back with `updatedAt = now`; retries on races.
    pub async fn update_token(
        &self,
        organization: &ObjectId,
        id: &ObjectId,
        now: Timestamp,
        change: impl Fn(&mut EnrollmentToken) -> Result<(), WriteError>,
    ) -> Result<EnrollmentToken, WriteError> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let (old, revision) = self
                .read_token(id)
                .await?
                .filter(|(token, _)| &token.organization_id == organization)
                .ok_or_else(|| WriteError::NotFound(format!("token {id}")))?;
            let mut new = old.clone();
            change(&mut new)?;
            new.id = old.id.clone();
            new.organization_id = old.organization_id.clone();
            new.updated_at = now;
            validate(&new)?;
            match self
                .transact(self.token_actions(Some(&old), &new, revision + 1))
                .await
            {
                Err(WriteError::Conflict) => continue,
                Err(other) => return Err(other),
                Ok(()) => return Ok(new),
            }
        }
        Err(WriteError::Conflict)
    }

    /// Marks a pending token used by `device`.
    pub async fn complete_token(
        &self,
        organization: &ObjectId,
        id: &ObjectId,
        device: &ObjectId,
        now: Timestamp,
    ) -> Result<EnrollmentToken, WriteError> {
        self.update_token(organization, id, now, |token| {
            if token.state != StoredState::Pending || token.is_expired(now) {
                return Err(WriteError::Invalid(format!(
                    "token {} is not pending",
                    token.id
                )));
            }
            token.state = StoredState::Done;
            token.win_device_id = Some(device.clone());
            Ok(())
        })
        .await
    }

    /// Revokes a token; it leaves every listing that hides deleted tokens.
    pub async fn revoke_token(
        &self,
        organization: &ObjectId,
        id: &ObjectId,
        now: Timestamp,
    ) -> Result<EnrollmentToken, WriteError> {
        self.update_token(organization, id, now, |token| {
            token.state = StoredState::Deleted;
            Ok(())
        })
        .await
    }

    /// The token and its revision, read strongly consistent from the table.
    pub async fn read_token(
        &self,
        id: &ObjectId,
    ) -> Result<Option<(EnrollmentToken, u64)>, WriteError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(keys::token(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let revision = item
            .get(keys::REVISION)
            .and_then(|value| value.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Ok(Some((decode(&item, "token")?, revision)))
    }

    async fn put_in_organization(
        &self,
        organization: &ObjectId,
        item: Item,
    ) -> Result<(), WriteError> {
        self.transact(vec![
            self.organization_exists(organization),
            Action {
                item: TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item))
                            .build()
                            .expect("table and item are set"),
                    )
                    .build(),
                on_condition_failed: None,
            },
        ])
        .await
    }

    fn organization_exists(&self, organization: &ObjectId) -> Action {
        self.exists(
            keys::organization(organization),
            WriteError::NotFound(format!("organization {organization}")),
        )
    }

    fn exists(&self, key: (String, String), missing: WriteError) -> Action {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .expect("table, key and condition are set");
        Action {
            item: TransactWriteItem::builder().condition_check(check).build(),
            on_condition_failed: Some(missing),
        }
    }

    fn put_new(&self, item: Item, exists: WriteError) -> Action {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("table, item and condition are set");
        Action {
            item: TransactWriteItem::builder().put(put).build(),
            on_condition_failed: Some(exists),
        }
    }

    /// Puts the token's item in each of its scopes, deletes the items of scopes it left, moves the
    /// counters, and checks that what it newly references exists.
    fn token_actions(
        &self,
        old: Option<&EnrollmentToken>,
        new: &EnrollmentToken,
        revision: u64,
    ) -> Vec<Action> {
        let new_scopes = Scope::all_of(new);
        let old_scopes = old.map(Scope::all_of).unwrap_or_default();
        let mut actions = Vec::new();
        for scope in &new_scopes {
            let item = token_item(new, scope, revision);
            let canonical = scope.member_sk() == keys::TOKEN_CANONICAL_SK;
            let mut put = Put::builder().table_name(&self.table);
            let mut on_condition_failed = None;
            if canonical {
                match old {
                    None => {
                        put = put.condition_expression("attribute_not_exists(pk)");
                        on_condition_failed =
                            Some(WriteError::AlreadyExists(format!("token {}", new.id)));
                    }
                    Some(_) => {
                        put = put
                            .condition_expression("#rev = :rev")
                            .expression_attribute_names("#rev", keys::REVISION)
                            .expression_attribute_values(
                                ":rev",
                                AttributeValue::N((revision - 1).to_string()),
                            );
                        on_condition_failed = Some(WriteError::Conflict);
                    }
                }
            }
            actions.push(Action {
                item: TransactWriteItem::builder()
                    .put(
                        put.set_item(Some(item))
                            .build()
                            .expect("table and item are set"),
                    )
                    .build(),
                on_condition_failed,
            });
        }
        // Items are keyed by scope kind, not by user: a new user rewrites the same items.
        let new_items: Vec<String> = new_scopes.iter().map(Scope::member_sk).collect();
        let left: Vec<String> = old_scopes
            .iter()
            .map(Scope::member_sk)
            .filter(|sk| !new_items.contains(sk))
            .collect();
        for sk in left {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_item((keys::token_partition(&new.id), sk))))
                .build()
                .expect("table and key are set");
            actions.push(Action {
                item: TransactWriteItem::builder().delete(delete).build(),
                on_condition_failed: None,
            });
        }
        let mut deltas: BTreeMap<&Scope, HashMap<StoredState, i64>> = BTreeMap::new();
        if let Some(old) = old {
            for scope in &old_scopes {
                *deltas
                    .entry(scope)
                    .or_default()
                    .entry(old.state)
                    .or_default() -= 1;
            }
        }
        for scope in &new_scopes {
            *deltas
                .entry(scope)
                .or_default()
                .entry(new.state)
                .or_default() += 1;
        }
        for (scope, by_state) in deltas {
            let changes: Vec<(StoredState, i64)> = StoredState::ALL
                .into_iter()
                .filter_map(|state| by_state.get(&state).map(|delta| (state, *delta)))
                .filter(|(_, delta)| *delta != 0)
                .collect();
            if changes.is_empty() {
                continue;
            }
            let mut update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_item(scope.counter())));
            let mut clauses = Vec::new();
            for (state, delta) in changes {
                let name = keys::counter_attribute(state);
                clauses.push(format!("#{name} :{name}"));
                update = update
                    .expression_attribute_names(format!("#{name}"), name)
                    .expression_attribute_values(
                        format!(":{name}"),
                        AttributeValue::N(delta.to_string()),
                    );
            }
            let update = update
                .update_expression(format!("ADD {}", clauses.join(", ")))
                .build()
                .expect("table, key and expression are set");
            actions.push(Action {
                item: TransactWriteItem::builder().update(update).build(),
                on_condition_failed: None,
            });
        }
        if old.is_none() {
            actions.push(self.organization_exists(&new.organization_id));
        }
        let organization = &new.organization_id;
        if let Some(user) = &new.mdm_user_id {
            if old.and_then(|old| old.mdm_user_id.as_ref()) != Some(user) {
                actions.push(self.exists(
                    keys::user(organization, user),
                    WriteError::NotFound(format!("user {user}")),
                ));
            }
        }
        let old_policies = old.map(EnrollmentToken::policy_ids).unwrap_or_default();
        for policy in new.policy_ids() {
            if !old_policies.contains(&policy) {
                actions.push(self.exists(
                    keys::policy(organization, &policy),
                    WriteError::NotFound(format!("policy {policy}")),
                ));
            }
        }
        actions
    }

    async fn transact(&self, actions: Vec<Action>) -> Result<(), WriteError> {
        if actions.len() > MAX_TRANSACTION_ACTIONS {
            return Err(WriteError::Invalid(format!(
                "{} actions exceed one transaction",
                actions.len()
            )));
        }
        let (items, meanings): (Vec<_>, Vec<_>) = actions
            .into_iter()
            .map(|action| (action.item, action.on_condition_failed))
            .unzip();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => {
                if let TransactWriteItemsError::TransactionCanceledException(cancelled) =
                    service.err()
                {
                    let reasons = cancelled.cancellation_reasons();
                    let mut meanings = meanings;
                    for (index, reason) in reasons.iter().enumerate() {
                        match reason.code() {
                            Some("ConditionalCheckFailed") => {
                                return Err(meanings
                                    .get_mut(index)
                                    .and_then(Option::take)
                                    .unwrap_or(WriteError::Conflict));
                            }
                            Some("TransactionConflict") => return Err(WriteError::Conflict),
                            _ => {}
                        }
                    }
                }
                Err(WriteError::Store(classify(
                    "TransactWriteItems",
                    SdkError::ServiceError(service),
                )))
            }
            Err(other) => Err(WriteError::Store(classify("TransactWriteItems", other))),
        }
    }
}

/// The item of `token` in `scope`: the whole token (so listings need no second read), its list
/// keys, its sort keys and its revision.
fn token_item(token: &EnrollmentToken, scope: &Scope, revision: u64) -> Item {
    let mut item: Item = serde_dynamo::to_item(token).expect("a token always converts to an item");
    item.extend(key_item((
        keys::token_partition(&token.id),
        scope.member_sk(),
    )));
    let list_key = scope.list_key();
    if token.state.is_live() {
        item.insert(keys::LIST_LIVE.into(), AttributeValue::S(list_key.clone()));
    }
    item.insert(keys::LIST_ALL.into(), AttributeValue::S(list_key));
    for (name, value) in keys::sort_keys(token) {
        item.insert(name.into(), AttributeValue::S(value));
    }
    item.insert(
        keys::REVISION.into(),
        AttributeValue::N(revision.to_string()),
    );
    item
}

fn validate(token: &EnrollmentToken) -> Result<(), WriteError> {
    let policies = token.policy_ids().len();
    if policies > MAX_POLICIES_PER_TOKEN {
        return Err(WriteError::Invalid(format!(
            "{policies} policies; at most {MAX_POLICIES_PER_TOKEN} per token"
        )));
    }
    if let Some(name) = &token.display_name {
        if name.chars().count() > MAX_DISPLAY_NAME_CHARS || !keys::is_sortable_name(name) {
            return Err(WriteError::Invalid(format!(
                "displayName must be at most {MAX_DISPLAY_NAME_CHARS} characters without control characters"
            )));
        }
    }
    Ok(())
}

fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, WriteError> {
    serde_dynamo::to_item(value)
        .map_err(|e| WriteError::Store(Error::Internal(format!("item encoding: {e}"))))
}

//! Read primitives: batched gets that never drop a key, and index walks that skip or take.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity, Select};
use futures::future::try_join_all;
use serde::de::DeserializeOwned;

use super::keys::{self, IndexDef, Projection};
use super::{classify, key_item, string_attr, Item, ReadMeter, Store};
use crate::domain::{ObjectId, StoredState};
use crate::error::Error;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_LIMIT: usize = 100;
/// Rounds in a row in which every key came back in `UnprocessedKeys` before giving up; the back-off
/// doubles from 25 ms. Rounds that make progress do not count (the request budget still bounds them).
const UNPROCESSED_ATTEMPTS: u32 = 6;
/// Query's `Limit` is an i32; past this a walk simply continues in further calls.
const QUERY_LIMIT_MAX: u64 = 100_000;

/// Per-scope totals kept by the write side in the same transaction as every token write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: u64,
    pub done: u64,
    pub deleted: u64,
}

impl Counts {
    pub fn total(&self, show_deleted: bool) -> u64 {
        self.pending + self.done + if show_deleted { self.deleted } else { 0 }
    }
}

/// One walk along a listing: an index, a list key, optionally a least sort key, a direction.
#[derive(Clone, Copy)]
pub struct Walk<'a> {
    pub index: &'a IndexDef,
    pub list_key: &'a str,
    pub sort_from: Option<&'a str>,
    pub forward: bool,
}

impl Store {
    /// Gets every key or fails: keys returned unprocessed are retried with back-off.
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        meter: &ReadMeter,
    ) -> Result<Vec<Item>, Error> {
        let chunks = keys
            .chunks(BATCH_GET_LIMIT)
            .map(|chunk| self.batch_get_chunk(chunk.to_vec(), meter));
        Ok(try_join_all(chunks).await?.into_iter().flatten().collect())
    }

    async fn batch_get_chunk(
        &self,
        keys: Vec<Item>,
        meter: &ReadMeter,
    ) -> Result<Vec<Item>, Error> {
        let mut found = Vec::with_capacity(keys.len());
        let mut pending = keys;
        let mut rounds_without_progress = 0;
        loop {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .build()
                .map_err(|e| Error::Internal(format!("BatchGetItem request: {e}")))?;
            let sent = Instant::now();
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            let items = output
                .responses
                .and_then(|mut by_table| by_table.remove(&self.table))
                .unwrap_or_default();
            meter.record(sent, items.len(), output.consumed_capacity.iter().flatten());
            pending = output
                .unprocessed_keys
                .and_then(|mut by_table| by_table.remove(&self.table))
                .map(|unprocessed| unprocessed.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                found.extend(items);
                return Ok(found);
            }
            rounds_without_progress = if items.is_empty() {
                rounds_without_progress + 1
            } else {
                0
            };
            found.extend(items);
            if rounds_without_progress >= UNPROCESSED_ATTEMPTS {
                return Err(Error::Unavailable(format!(
                    "BatchGetItem: {} keys still unprocessed after {UNPROCESSED_ATTEMPTS} rounds without progress",
                    pending.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(25 << rounds_without_progress.min(6))).await;
        }
    }

    /// The organization's existence and the scope's counters, in one round trip.
    pub(super) async fn read_header(
        &self,
        organization: &ObjectId,
        counter_key: (String, String),
        meter: &ReadMeter,
    ) -> Result<Counts, Error> {
        let organization_key = keys::organization(organization);
        let items = self
            .batch_get(
                vec![
                    key_item(organization_key.clone()),
                    key_item(counter_key.clone()),
                ],
                meter,
            )
            .await?;
        let has_key = |item: &Item, (pk, sk): &(String, String)| {
            string_attr(item, keys::PK) == Some(pk.as_str())
                && string_attr(item, keys::SK) == Some(sk.as_str())
        };
        if !items.iter().any(|item| has_key(item, &organization_key)) {
            return Err(Error::NotFound);
        }
        let counter = items.iter().find(|item| has_key(item, &counter_key));
        let count = |state: StoredState| {
            counter
                .and_then(|item| item.get(keys::counter_attribute(state)))
                .and_then(|value| value.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .map_or(0, |n| n.max(0) as u64)
        };
        Ok(Counts {
            pending: count(StoredState::Pending),
            done: count(StoredState::Done),
            deleted: count(StoredState::Deleted),
        })
    }

    /// The organization a slug names, if any.
    pub async fn organization_by_slug(
        &self,
        slug: &str,
        meter: &ReadMeter,
    ) -> Result<Option<ObjectId>, Error> {
        let items = self
            .batch_get(vec![key_item(keys::slug(slug))], meter)
            .await?;
        Ok(items
            .first()
            .and_then(|item| string_attr(item, "organizationId"))
            .and_then(|id| ObjectId::parse(id).ok()))
    }

    /// Walks past `count` entries; returns the key to continue from, or `None` if the listing ended.
    pub(super) async fn skip(
        &self,
        walk: Walk<'_>,
        count: u64,
        meter: &ReadMeter,
    ) -> Result<Option<Item>, Error> {
        let mut remaining = count;
        let mut start = None;
        while remaining > 0 {
            let (items, next) = self
                .query(walk, remaining.min(QUERY_LIMIT_MAX), start, true, meter)
                .await?;
            remaining -= items.len() as u64;
            match next {
                Some(next) => start = Some(next),
                None if remaining > 0 => return Ok(None),
                None => return Ok(items.last().map(|item| self.key_of(walk.index, item))),
            }
        }
        Ok(start)
    }

    /// Reads up to `limit` entries (all of them when `None`) from `start` on.
    pub(super) async fn take(
        &self,
        walk: Walk<'_>,
        limit: Option<u64>,
        mut start: Option<Item>,
        meter: &ReadMeter,
    ) -> Result<Vec<Item>, Error> {
        let mut taken = Vec::new();
        loop {
            let wanted = limit.map(|limit| limit - taken.len() as u64);
            if wanted == Some(0) {
                return Ok(taken);
            }
            let (items, next) = self
                .query(
                    walk,
                    wanted.unwrap_or(QUERY_LIMIT_MAX).min(QUERY_LIMIT_MAX),
                    start,
                    false,
                    meter,
                )
                .await?;
            taken.extend(items);
            match next {
                Some(next) => start = Some(next),
                None => return Ok(taken),
            }
        }
    }

    /// The key DynamoDB expects to continue after `item` on `index`.
    fn key_of(&self, index: &IndexDef, item: &Item) -> Item {
        [keys::PK, keys::SK, index.partition, index.sort]
            .into_iter()
            .filter_map(|name| {
                item.get(name)
                    .map(|value| (name.to_string(), value.clone()))
            })
            .collect()
    }

    async fn query(
        &self,
        walk: Walk<'_>,
        limit: u64,
        start: Option<Item>,
        keys_only: bool,
        meter: &ReadMeter,
    ) -> Result<(Vec<Item>, Option<Item>), Error> {
        let mut condition = "#lk = :lk".to_string();
        let mut names = HashMap::from([("#lk".to_string(), walk.index.partition.to_string())]);
        let mut values = HashMap::from([(
            ":lk".to_string(),
            AttributeValue::S(walk.list_key.to_string()),
        )]);
        if let Some(from) = walk.sort_from {
            condition.push_str(" AND #sk >= :from");
            names.insert("#sk".into(), walk.index.sort.into());
            values.insert(":from".into(), AttributeValue::S(from.into()));
        }
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(walk.index.name)
            .key_condition_expression(condition)
            .scan_index_forward(walk.forward)
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        // Skipping needs only keys; a projection saves transfer, not capacity.
        if keys_only && walk.index.projection != Projection::KeysOnly {
            names.insert("#pk".into(), keys::PK.into());
            names.insert("#tk".into(), keys::SK.into());
            names.insert("#sk".into(), walk.index.sort.into());
            request = request
                .select(Select::SpecificAttributes)
                .projection_expression("#pk, #tk, #lk, #sk");
        }
        let sent = Instant::now();
        let output = request
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let items = output.items.unwrap_or_default();
        meter.record(sent, items.len(), output.consumed_capacity.iter());
        Ok((items, output.last_evaluated_key))
    }
}

/// Decodes a stored item; the item's key goes to the error so the log can point at it.
pub(super) fn decode<T: DeserializeOwned>(item: &Item, what: &str) -> Result<T, Error> {
    serde_dynamo::from_item(item.clone()).map_err(|e| {
        Error::Internal(format!(
            "stored {what} {}/{} does not decode: {e}",
            string_attr(item, keys::PK).unwrap_or("?"),
            string_attr(item, keys::SK).unwrap_or("?"),
        ))
    })
}

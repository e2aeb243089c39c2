//! Scenarios, and what each costs through the real handler, through the naive strategy, and at
//! the floor.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::bail;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity, Select};
use aws_sdk_dynamodb::Client;
use enrollment_tokens::api::App;
use enrollment_tokens::store::ReadCost;
use lambda_http::Body;
use serde_json::Value;

use super::data::{SeededOrg, TABLE};
use crate::dev_token::{self, LIST_PERMISSION};

pub const ROUTE_TAIL: &str = "mdm/windows/enterprise/enrollment-tokens/";

/// One request to measure.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub org: usize,
    pub label: String,
    /// The query, less any cursor.
    pub query: String,
    /// Reach the page by cursor: the `nextCursor` of this page number first.
    pub cursor_from_page: Option<u64>,
}

/// Every scenario of one organization of `orgs` (by index).
pub fn scenarios(org: usize, seeded: &SeededOrg, with_sorts: bool) -> Vec<Scenario> {
    let mut list = Vec::new();
    let mut add = |label: &str, query: String, cursor_from_page: Option<u64>| {
        list.push(Scenario {
            org,
            label: label.to_string(),
            query,
            cursor_from_page,
        })
    };
    for limit in [10, 100] {
        for page in [1, 10, 100] {
            add(
                &format!("page {page}, limit {limit}"),
                format!("page={page}&limit={limit}"),
                None,
            );
        }
    }
    let user = format!("mdm-user={}", seeded.top_user);
    let policy = format!("win-policy={}", seeded.top_policy);
    // Each listing at pages 1, 10 and 100, and pages 10 and 100 again by cursor: the same page
    // read without skipping, so that the difference is the cost of the skip alone.
    let listings = [
        ("", "limit=10".to_string()),
        ("mdm-user, ", user.clone()),
        ("win-policy, ", policy.clone()),
        ("mdm-user + win-policy, ", format!("{user}&{policy}")),
        ("show-deleted, ", "show-deleted=true".to_string()),
    ];
    for (name, filter) in &listings {
        for page in [1, 10, 100] {
            if !name.is_empty() {
                add(
                    &format!("{name}page {page}"),
                    format!("{filter}&page={page}"),
                    None,
                );
            }
        }
    }
    for (name, filter) in &listings {
        for page in [10, 100] {
            add(
                &format!("{name}cursor to page {page}"),
                filter.clone(),
                Some(page - 1),
            );
        }
    }
    add("limit 0 (totals)", "limit=0".into(), None);
    if with_sorts {
        for field in ["createdAt", "updatedAt", "expireAt", "displayName", "state"] {
            for direction in ["asc", "desc"] {
                add(
                    &format!("sort {field}:{direction}"),
                    format!("sort={field}:{direction}"),
                    None,
                );
            }
        }
        add(
            "sort state:desc, page 100",
            "sort=state:desc&page=100".into(),
            None,
        );
    }
    list
}

/// What one scenario cost and how long it took.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub cost: ReadCost,
    pub items: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub floor_rcu: f64,
    pub naive_rcu: f64,
    pub naive_ms: f64,
}

pub struct Bench<'a> {
    pub app: &'a App,
    pub client: Client,
    pub orgs: &'a [SeededOrg],
    pub runs: usize,
}

impl Bench<'_> {
    fn token_for(&self, org: &SeededOrg) -> String {
        dev_token::mint(
            &[(org.id.to_string(), vec![LIST_PERMISSION.to_string()])],
            3600,
        )
    }

    async fn call(&self, org: &SeededOrg, query: &str) -> anyhow::Result<(Value, ReadCost, f64)> {
        let uri = format!("/v1/organizations/{}/{ROUTE_TAIL}?{query}", org.id);
        let request = lambda_http::http::Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token_for(org)))
            .body(())?;
        let (parts, ()) = request.into_parts();
        let started = Instant::now();
        let (response, cost) = self
            .app
            .handle_metered(crate::server::lambda_request(parts), "bench")
            .await;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let body: Value = match response.body() {
            Body::Text(text) => serde_json::from_str(text)?,
            other => bail!("unexpected body {other:?}"),
        };
        if !response.status().is_success() {
            bail!("{query}: {} {body}", response.status());
        }
        Ok((body, cost, elapsed))
    }

    /// The query to send: with the cursor the scenario asks for, fetched now; `None` when the
    /// listing has no such page.
    async fn query_of(&self, scenario: &Scenario) -> anyhow::Result<Option<String>> {
        let org = &self.orgs[scenario.org];
        match scenario.cursor_from_page {
            None => Ok(Some(scenario.query.clone())),
            Some(page) => {
                let (body, _, _) = self
                    .call(org, &format!("{}&page={page}", scenario.query))
                    .await?;
                Ok(body["data"]["nextCursor"]
                    .as_str()
                    .map(|cursor| format!("{}&cursor={cursor}", scenario.query)))
            }
        }
    }

    /// `None` when the scenario's page is reached by cursor and the listing is too short for it.
    pub async fn measure(
        &self,
        scenario: &Scenario,
        naive: bool,
    ) -> anyhow::Result<Option<Measured>> {
        let org = &self.orgs[scenario.org];
        let Some(query) = self.query_of(scenario).await? else {
            return Ok(None);
        };
        let (body, cost, _) = self.call(org, &query).await?;
        let mut latencies = Vec::with_capacity(self.runs);
        let mut round_trips: HashMap<u32, usize> = HashMap::new();
        for _ in 0..self.runs {
            let (_, again, elapsed) = self.call(org, &query).await?;
            if again.calls != cost.calls {
                bail!("{}: the cost changed between runs", scenario.label);
            }
            *round_trips.entry(again.round_trips).or_default() += 1;
            latencies.push(elapsed);
        }
        // Round trips are told apart by timing; a run the machine stalls may see one more.
        let mut cost = cost;
        if let Some((most_seen, _)) = round_trips
            .into_iter()
            .max_by_key(|(rounds, seen)| (*seen, u32::MAX - rounds))
        {
            cost.round_trips = most_seen;
        }
        latencies.sort_by(f64::total_cmp);
        let percentile = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        let items = body["data"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut measured = Measured {
            cost,
            items: items.len(),
            p50_ms: percentile(0.5),
            p99_ms: percentile(0.99),
            floor_rcu: self.floor(&items).await?,
            ..Measured::default()
        };
        if naive {
            let started = Instant::now();
            measured.naive_rcu = self.naive(org, scenario, &items).await?;
            measured.naive_ms = started.elapsed().as_secs_f64() * 1000.0;
        }
        Ok(Some(measured))
    }

    /// 0.5 RCU × (⌈bytes of the listed token items / 4 KB⌉ + users + policies + 1 for the total).
    async fn floor(&self, items: &[Value]) -> anyhow::Result<f64> {
        let ids: Vec<&str> = items
            .iter()
            .filter_map(|item| item["id"].as_str())
            .collect();
        let keys = ids
            .iter()
            .map(|id| {
                HashMap::from([
                    ("pk".to_string(), AttributeValue::S(format!("T#{id}"))),
                    ("sk".to_string(), AttributeValue::S("O".into())),
                ])
            })
            .collect();
        let bytes: usize = self.get_all(keys).await?.iter().map(item_size).sum();
        let (users, policies) = references(items);
        let units = bytes.div_ceil(4096) + users.len() + policies.len() + 1;
        Ok(0.5 * units as f64)
    }

    async fn get_all(
        &self,
        keys: Vec<HashMap<String, AttributeValue>>,
    ) -> anyhow::Result<Vec<HashMap<String, AttributeValue>>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .build()?;
            loop {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(TABLE, pending)
                    .send()
                    .await?;
                found.extend(
                    output
                        .responses
                        .and_then(|mut r| r.remove(TABLE))
                        .unwrap_or_default(),
                );
                match output.unprocessed_keys.and_then(|mut u| u.remove(TABLE)) {
                    Some(rest) if !rest.keys.is_empty() => pending = rest,
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    /// The usual strategy: query the organization's items with a filter, count them with
    /// `Select=COUNT`, read past `(page-1)*limit` matches, sort in memory when the order is not
    /// the index's, then fetch users and policies. Returns its read capacity.
    async fn naive(
        &self,
        org: &SeededOrg,
        scenario: &Scenario,
        listed: &[Value],
    ) -> anyhow::Result<f64> {
        let params: HashMap<String, String> = url_pairs(&scenario.query);
        let limit: usize = params.get("limit").map_or(Ok(10), |l| l.parse())?;
        let page: usize = match scenario.cursor_from_page {
            Some(before) => before as usize + 1,
            None => params.get("page").map_or(Ok(1), |p| p.parse())?,
        };
        let sort = params
            .get("sort")
            .cloned()
            .unwrap_or_else(|| "createdAt:desc".into());
        let show_deleted = params.get("show-deleted").is_some_and(|v| v == "true");
        let mut filters = Vec::new();
        let mut values = HashMap::from([(
            ":org".to_string(),
            AttributeValue::S(format!("T#{}", org.id)),
        )]);
        let mut names = HashMap::from([("#lk".to_string(), "lkA".to_string())]);
        if !show_deleted {
            filters.push("#state <> :deleted");
            names.insert("#state".into(), "state".into());
            values.insert(":deleted".into(), AttributeValue::S("DELETED".into()));
        }
        if let Some(user) = params.get("mdm-user") {
            filters.push("mdmUserId = :user");
            values.insert(":user".into(), AttributeValue::S(user.clone()));
        }
        let policy = params.get("win-policy").cloned();
        let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
        let query =
            |select_count: bool, forward: bool, start: Option<HashMap<String, AttributeValue>>| {
                let mut request = self
                    .client
                    .query()
                    .table_name(TABLE)
                    .index_name("all-created")
                    .key_condition_expression("#lk = :org")
                    .set_filter_expression(filter.clone())
                    .set_expression_attribute_names(Some(names.clone()))
                    .set_expression_attribute_values(Some(values.clone()))
                    .scan_index_forward(forward)
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total);
                if select_count {
                    request = request.select(Select::Count);
                }
                request.send()
            };
        let mut rcu = 0.0;
        // The total.
        let mut start = None;
        loop {
            let output = query(true, true, start).await?;
            rcu += output
                .consumed_capacity
                .and_then(|c| c.capacity_units)
                .unwrap_or_default();
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        // The page: read matches until the page is complete (all of them for an in-memory sort).
        let by_created = sort.starts_with("createdAt");
        let wanted = if limit == 0 { 0 } else { page * limit };
        let mut matched = 0usize;
        let mut start = None;
        while limit > 0 && (matched < wanted || !by_created) {
            let output = query(false, sort != "createdAt:desc", start).await?;
            rcu += output
                .consumed_capacity
                .and_then(|c| c.capacity_units)
                .unwrap_or_default();
            matched += output
                .items
                .unwrap_or_default()
                .iter()
                .filter(|item| policy.as_ref().is_none_or(|p| has_policy(item, p)))
                .count();
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        // The join costs what ours costs: one read per user and policy.
        let (users, policies) = references(listed);
        rcu += 0.5 * (users.len() + policies.len()) as f64;
        Ok(rcu)
    }
}

fn has_policy(item: &HashMap<String, AttributeValue>, policy: &str) -> bool {
    let legacy = item
        .get("winPolicyId")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        == Some(policy);
    let assigned = item
        .get("winPolicyAssignments")
        .and_then(|v| v.as_l().ok())
        .is_some_and(|list| {
            list.iter().any(|entry| {
                entry
                    .as_m()
                    .ok()
                    .and_then(|m| m.get("winPolicyId"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|id| id == policy)
            })
        });
    legacy || assigned
}

/// Distinct users and policies the listed items reference.
fn references(items: &[Value]) -> (HashSet<String>, HashSet<String>) {
    let mut users = HashSet::new();
    let mut policies = HashSet::new();
    for item in items {
        if let Some(user) = item["mdmUser"]["id"].as_str() {
            users.insert(user.to_string());
        }
        if let Some(policy) = item["winPolicyId"].as_str() {
            policies.insert(policy.to_string());
        }
        for assignment in item["winPolicyAssignments"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(policy) = assignment["winPolicyId"].as_str() {
                policies.insert(policy.to_string());
            }
        }
    }
    (users, policies)
}

fn url_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An item's size as DynamoDB counts it: names plus values, numbers by digits, containers with
/// their per-element overhead.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        _ => 0,
    }
}

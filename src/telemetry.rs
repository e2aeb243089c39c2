//! One summary per request: a log line (through `tracing`, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`)
//! and, in Lambda, CloudWatch metrics in the embedded metric format (one JSON line on stdout).

use std::io::Write;
use std::str::FromStr;

use serde_json::json;
use tracing_subscriber::filter::LevelFilter;

use crate::store::ReadCost;

pub const METRICS_NAMESPACE: &str = "MdmWindowsEnrollmentTokens";
const SERVICE: &str = "list-windows-enrollment-tokens";

pub struct RequestSummary<'a> {
    pub request_id: &'a str,
    pub organization: Option<&'a str>,
    pub path: &'a str,
    /// The endpoint's own query parameters only.
    pub parameters: &'a str,
    pub status: u16,
    pub error_code: Option<u32>,
    pub cost: ReadCost,
    pub duration_ms: f64,
    pub cold_start: bool,
}

/// Log lines as Lambda's logging controls ask: the level from `AWS_LAMBDA_LOG_LEVEL` (else a plain
/// level in `RUST_LOG`, else INFO), JSON objects when `AWS_LAMBDA_LOG_FORMAT=JSON`.
pub fn init_logs() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| LevelFilter::from_str(level.trim()).ok())
        .unwrap_or(LevelFilter::INFO);
    let logs = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
}

pub fn record(summary: &RequestSummary, emit_metrics: bool) {
    tracing::info!(
        request_id = summary.request_id,
        organization = summary.organization,
        path = summary.path,
        parameters = summary.parameters,
        status = summary.status,
        error_code = summary.error_code,
        dynamodb_calls = summary.cost.calls,
        dynamodb_round_trips = summary.cost.round_trips,
        consumed_rcu = summary.cost.capacity_units,
        items_read = summary.cost.items_read,
        duration_ms = summary.duration_ms,
        cold_start = summary.cold_start,
        "request"
    );
    if emit_metrics {
        let line = embedded_metrics(summary, chrono::Utc::now().timestamp_millis());
        // EMF must be a line of its own on stdout for CloudWatch to extract it.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// The embedded-metric-format document of one request.
pub fn embedded_metrics(summary: &RequestSummary, timestamp_ms: i64) -> serde_json::Value {
    let mut directives = vec![json!({
        "Namespace": METRICS_NAMESPACE,
        "Dimensions": [["Service"]],
        "Metrics": [
            { "Name": "Latency", "Unit": "Milliseconds" },
            { "Name": "ConsumedReadCapacity", "Unit": "Count" },
            { "Name": "DynamoDbCalls", "Unit": "Count" },
            { "Name": "ColdStart", "Unit": "Count" },
        ],
    })];
    let mut document = json!({
        "Service": SERVICE,
        "Latency": summary.duration_ms,
        "ConsumedReadCapacity": summary.cost.capacity_units,
        "DynamoDbCalls": summary.cost.calls,
        "ColdStart": u8::from(summary.cold_start),
        "requestId": summary.request_id,
        "status": summary.status,
    });
    if let Some(code) = summary.error_code {
        directives.push(json!({
            "Namespace": METRICS_NAMESPACE,
            "Dimensions": [["Service", "ErrorCode"]],
            "Metrics": [{ "Name": "Errors", "Unit": "Count" }],
        }));
        document["ErrorCode"] = json!(code.to_string());
        document["Errors"] = json!(1);
    }
    document["_aws"] = json!({ "Timestamp": timestamp_ms, "CloudWatchMetrics": directives });
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(error_code: Option<u32>) -> RequestSummary<'static> {
        RequestSummary {
            request_id: "r-1",
            organization: Some("65f1a0c0ffee000000000001"),
            path: "/v1/organizations/demo/mdm/windows/enterprise/enrollment-tokens/",
            parameters: "limit=2",
            status: if error_code.is_some() { 400 } else { 200 },
            error_code,
            cost: ReadCost {
                calls: 3,
                round_trips: 2,
                capacity_units: 4.5,
                items_read: 12,
            },
            duration_ms: 12.5,
            cold_start: true,
        }
    }

    #[test]
    fn every_declared_metric_has_a_value() {
        for code in [None, Some(2001)] {
            let document = embedded_metrics(&summary(code), 1_700_000_000_000);
            for directive in document["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
                for metric in directive["Metrics"].as_array().unwrap() {
                    let name = metric["Name"].as_str().unwrap();
                    assert!(document[name].is_number(), "{name} has no value");
                }
                for dimension in directive["Dimensions"][0].as_array().unwrap() {
                    assert!(document[dimension.as_str().unwrap()].is_string());
                }
            }
        }
    }

    #[test]
    fn errors_are_counted_by_code() {
        let document = embedded_metrics(&summary(Some(2001)), 0);
        assert_eq!(document["ErrorCode"], "2001");
        assert_eq!(document["Errors"], 1);
        assert_eq!(document["ColdStart"], 1);
        assert!(embedded_metrics(&summary(None), 0)
            .get("ErrorCode")
            .is_none());
    }
}

//! A loopback proxy between the AWS SDK and the engine that injects the faults real DynamoDB
//! produces and an embedded engine never does: throttling, server errors, stalls, and keys left
//! in `UnprocessedKeys`. Tests script it per operation; everything else passes through.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub enum Fault {
    /// An error response as DynamoDB sends it, e.g. (400, "ThrottlingException").
    Error {
        status: u16,
        error_type: &'static str,
    },
    /// Hold the request this long, then forward it.
    Stall(Duration),
    /// Forward, then move all but the first `keep` returned items into `UnprocessedKeys`.
    Unprocess { keep: usize },
}

impl Fault {
    pub fn throttling() -> Self {
        Self::Error {
            status: 400,
            error_type: "ThrottlingException",
        }
    }

    pub fn throughput_exceeded() -> Self {
        Self::Error {
            status: 400,
            error_type: "ProvisionedThroughputExceededException",
        }
    }

    pub fn internal_server_error() -> Self {
        Self::Error {
            status: 500,
            error_type: "InternalServerError",
        }
    }

    pub fn validation() -> Self {
        Self::Error {
            status: 400,
            error_type: "ValidationException",
        }
    }
}

#[derive(Default)]
struct Plan {
    /// Faults still to inject, per operation (`Query`, `BatchGetItem`, …), in order.
    queued: Vec<(String, VecDeque<Fault>)>,
    /// Operations that always fail this way until `clear`.
    always: Vec<(String, Fault)>,
    seen: Vec<String>,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub endpoint: String,
    plan: Arc<Mutex<Plan>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (an http://host:port URL).
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let plan = Arc::new(Mutex::new(Plan::default()));
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let upstream = upstream.to_string();
        let shared = Arc::clone(&plan);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (plan, client, upstream) =
                    (Arc::clone(&shared), client.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let (plan, client, upstream) =
                            (Arc::clone(&plan), client.clone(), upstream.clone());
                        async move {
                            Ok::<_, Infallible>(relay(request, &plan, &client, &upstream).await)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { endpoint, plan })
    }

    /// Injects `faults`, one per matching request, into the next calls of `operation`.
    pub fn inject(&self, operation: &str, faults: impl IntoIterator<Item = Fault>) {
        let mut plan = self.plan.lock().unwrap();
        plan.queued
            .push((operation.into(), faults.into_iter().collect()));
    }

    /// Fails every call of `operation` with `fault` until `clear`.
    pub fn always(&self, operation: &str, fault: Fault) {
        self.plan
            .lock()
            .unwrap()
            .always
            .push((operation.into(), fault));
    }

    pub fn clear(&self) {
        let mut plan = self.plan.lock().unwrap();
        plan.queued.clear();
        plan.always.clear();
    }

    /// The operations the proxy has seen, in order.
    pub fn seen(&self) -> Vec<String> {
        self.plan.lock().unwrap().seen.clone()
    }
}

fn next_fault(plan: &Mutex<Plan>, operation: &str) -> Option<Fault> {
    let mut plan = plan.lock().unwrap();
    plan.seen.push(operation.to_string());
    if let Some((_, fault)) = plan.always.iter().find(|(op, _)| op == operation) {
        return Some(fault.clone());
    }
    plan.queued
        .iter_mut()
        .find(|(op, faults)| op == operation && !faults.is_empty())
        .and_then(|(_, faults)| faults.pop_front())
}

async fn relay(
    request: Request<Incoming>,
    plan: &Mutex<Plan>,
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    upstream: &str,
) -> Response<Full<Bytes>> {
    let (mut parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    let fault = next_fault(plan, &operation);
    match &fault {
        Some(Fault::Error { status, error_type }) => {
            let body = json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
                "message": "injected by the test proxy",
            });
            return Response::builder()
                .status(*status)
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amzn-requestid", "fault-proxy")
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap();
        }
        Some(Fault::Stall(duration)) => tokio::time::sleep(*duration).await,
        _ => {}
    }
    let uri = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    parts.uri = uri.parse().expect("upstream URL");
    parts.headers.remove("host");
    let answer = match client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(answer) => answer,
        Err(_) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
    };
    let (mut parts, body) = answer.into_parts();
    let mut bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let (Some(Fault::Unprocess { keep }), true) = (fault, parts.status.is_success()) {
        if let Ok(mut document) = serde_json::from_slice::<Value>(&bytes) {
            unprocess(&mut document, keep);
            bytes = Bytes::from(document.to_string());
            parts.headers.remove("content-length");
            parts.headers.remove("x-amz-crc32");
        }
    }
    Response::from_parts(parts, Full::new(bytes))
}

/// Moves returned items past the first `keep` of each table into `UnprocessedKeys`.
fn unprocess(document: &mut Value, keep: usize) {
    let Some(responses) = document.get_mut("Responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut unprocessed = serde_json::Map::new();
    for (table, items) in responses.iter_mut() {
        let Some(items) = items.as_array_mut() else {
            continue;
        };
        if items.len() <= keep {
            continue;
        }
        let moved: Vec<Value> = items
            .drain(keep..)
            .map(|item| json!({ "pk": item["pk"], "sk": item["sk"] }))
            .collect();
        unprocessed.insert(table.clone(), json!({ "Keys": moved }));
    }
    document["UnprocessedKeys"] = Value::Object(unprocessed);
}

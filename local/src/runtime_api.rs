//! A minimal in-process AWS Lambda Runtime API on loopback, enough to drive a real Lambda binary
//! (lambda_runtime / lambda_http) through init and invocations and to time them.
//!
//! Implemented: `GET /2018-06-01/runtime/invocation/next` (long-poll),
//! `POST /2018-06-01/runtime/invocation/{id}/response`, `POST .../{id}/error` and
//! `POST /2018-06-01/runtime/init/error`. Every wait is bounded by a timeout, so a process that
//! never polls or never answers turns into an error instead of a hang.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// How long `first_poll`, `nth_poll` and `invoke` wait unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The deadline handed to the function, as real Lambda does with a 30 s function timeout.
const DEADLINE_MS: u64 = 30_000;

/// Real Lambda caps a synchronous payload at 6 MB; anything much bigger is a bug, not a response.
const MAX_BODY: usize = 7 * 1024 * 1024;

/// The ARN handed to the function; matches the default function name `bench_process` sets.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench-function";

const PREFIX: &str = "/2018-06-01/runtime/";

/// A running Runtime API. Dropping it stops the server and every open connection.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    timeout: Duration,
    server: JoinHandle<()>,
}

/// What the runtime reported for one invocation.
enum Outcome {
    Response(Instant, Bytes),
    Error(String),
}

/// Observable progress of the function: every `next` poll and a possible init error.
#[derive(Default)]
struct Progress {
    polls: Vec<Instant>,
    init_error: Option<String>,
}

struct Event {
    request_id: String,
    payload: Bytes,
}

struct Shared {
    sequence: AtomicU64,
    queue: mpsc::UnboundedSender<Event>,
    // Behind an async mutex so that a second concurrent `next` simply waits its turn.
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    progress: watch::Sender<Progress>,
}

/// An event that has been queued; `wait` for the function's answer.
pub struct PendingInvocation {
    request_id: String,
    answer: oneshot::Receiver<Outcome>,
    progress: watch::Receiver<Progress>,
    timeout: Duration,
}

impl RuntimeApi {
    /// Binds 127.0.0.1 on a free port and serves the Runtime API there.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (queue, events) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            sequence: AtomicU64::new(0),
            queue,
            events: tokio::sync::Mutex::new(events),
            waiting: Mutex::new(HashMap::new()),
            progress: watch::Sender::new(Progress::default()),
        });
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            shared,
            timeout: DEFAULT_TIMEOUT,
            server,
        })
    }

    /// Replaces the timeout of every later wait (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`: `host:port` without a scheme, as real Lambda sets it.
    pub fn runtime_api_env(&self) -> String {
        self.addr.to_string()
    }

    /// Queues `event` for the next `next` poll and returns at once, so the event can be waiting
    /// before the process even starts.
    pub fn submit(&self, event: Value) -> PendingInvocation {
        let n = self.shared.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let request_id = format!("00000000-0000-4000-8000-{n:012x}");
        let (tx, answer) = oneshot::channel();
        self.shared
            .waiting
            .lock()
            .unwrap()
            .insert(request_id.clone(), tx);
        // The receiver lives in `shared`, so sending cannot fail while `self` exists.
        let _ = self.shared.queue.send(Event {
            request_id: request_id.clone(),
            payload: Bytes::from(event.to_string()),
        });
        PendingInvocation {
            request_id,
            answer,
            progress: self.shared.progress.subscribe(),
            timeout: self.timeout,
        }
    }

    /// Sends `event` and waits for the function's response: when it arrived and its JSON payload.
    pub async fn invoke(&self, event: Value) -> anyhow::Result<(Instant, Value)> {
        self.submit(event).wait().await
    }

    /// When the first `GET .../invocation/next` arrived, i.e. when init finished.
    pub async fn first_poll(&self) -> anyhow::Result<Instant> {
        self.nth_poll(1).await
    }

    /// When the `n`-th (1-based) `next` poll arrived. After `k` answered invocations, poll `k + 1`
    /// means the function has finished its bookkeeping and is idle again.
    pub async fn nth_poll(&self, n: usize) -> anyhow::Result<Instant> {
        anyhow::ensure!(n >= 1, "polls are counted from 1");
        let mut progress = self.shared.progress.subscribe();
        let wait = progress.wait_for(|p| p.polls.len() >= n || p.init_error.is_some());
        let progress = tokio::time::timeout(self.timeout, wait)
            .await
            .map_err(|_| anyhow!("no `next` poll #{n} within {:?}", self.timeout))?
            .expect("the sender lives in self");
        if let Some(at) = progress.polls.get(n - 1) {
            return Ok(*at);
        }
        bail!(init_failure(progress.init_error.as_deref()))
    }

    /// The init error the function posted, if any.
    pub fn init_error(&self) -> Option<String> {
        self.shared.progress.borrow().init_error.clone()
    }

    /// How many `next` polls have arrived so far.
    pub fn polls(&self) -> usize {
        self.shared.progress.borrow().polls.len()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection too.
        self.server.abort();
    }
}

impl PendingInvocation {
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Waits for the response (or error) of this invocation, bounded by the API's timeout.
    pub async fn wait(self) -> anyhow::Result<(Instant, Value)> {
        let Self {
            request_id,
            answer,
            mut progress,
            timeout,
        } = self;
        let outcome = async {
            tokio::select! {
                outcome = answer => outcome.map_err(|_| anyhow!("Runtime API stopped")),
                // An init error means no invocation will ever be answered.
                init = progress.wait_for(|p| p.init_error.is_some()) => {
                    let init = init.expect("the sender lives in the API");
                    Err(anyhow!(init_failure(init.init_error.as_deref())))
                }
            }
        };
        let outcome = tokio::time::timeout(timeout, outcome)
            .await
            .map_err(|_| anyhow!("invocation {request_id} not answered within {timeout:?}"))??;
        match outcome {
            Outcome::Response(at, body) => {
                let payload = serde_json::from_slice(&body).with_context(|| {
                    format!(
                        "invocation {request_id}: response is not JSON: {}",
                        snippet(&body)
                    )
                })?;
                Ok((at, payload))
            }
            Outcome::Error(message) => bail!("invocation {request_id} failed: {message}"),
        }
    }
}

fn init_failure(message: Option<&str>) -> String {
    format!("init error: {}", message.unwrap_or("(none)"))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        // Reap finished connections so a long run does not accumulate handles.
        while connections.try_join_next().is_some() {}
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(route(&shared, request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    // Taken before reading anything so the timing is the moment the request reached us.
    let arrived = Instant::now();
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(StatusCode::NOT_FOUND, "unknown path");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(shared, arrived).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            let id = id.to_string();
            match read_body(request).await {
                Ok(body) => complete(shared, &id, Outcome::Response(arrived, body)),
                Err(error) => reply(StatusCode::PAYLOAD_TOO_LARGE, &error.to_string()),
            }
        }
        (&Method::POST, ["invocation", id, "error"]) => {
            let id = id.to_string();
            let message = error_message(request).await;
            complete(shared, &id, Outcome::Error(message))
        }
        (&Method::POST, ["init", "error"]) => {
            let message = error_message(request).await;
            shared
                .progress
                .send_modify(|p| p.init_error = Some(message));
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown path"),
    }
}

async fn next(shared: &Shared, arrived: Instant) -> Response<Full<Bytes>> {
    shared.progress.send_modify(|p| p.polls.push(arrived));
    // Long-poll: the runtime keeps this request open until there is work.
    let event = shared.events.lock().await.recv().await;
    let Some(event) = event else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, "Runtime API stopped");
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &event.request_id)
        .header("lambda-runtime-deadline-ms", now_ms + DEADLINE_MS)
        .header("lambda-runtime-invoked-function-arn", FUNCTION_ARN)
        .header(
            "lambda-runtime-trace-id",
            trace_id(now_ms, &event.request_id),
        )
        .body(Full::new(event.payload))
        .expect("static headers are valid")
}

/// An X-Ray style trace header; only its shape matters to the runtime.
fn trace_id(now_ms: u64, request_id: &str) -> String {
    let tail: String = request_id.chars().filter(char::is_ascii_hexdigit).collect();
    let tail = &tail[tail.len().saturating_sub(24)..];
    format!(
        "Root=1-{:08x}-{tail:0>24};Parent=0000000000000001;Sampled=0",
        now_ms / 1000
    )
}

fn complete(shared: &Shared, id: &str, outcome: Outcome) -> Response<Full<Bytes>> {
    match shared.waiting.lock().unwrap().remove(id) {
        Some(waiter) => {
            // The caller may have given up (timeout); the answer is then simply dropped.
            let _ = waiter.send(outcome);
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        None => reply(
            StatusCode::BAD_REQUEST,
            "unknown or already answered request id",
        ),
    }
}

async fn read_body(request: Request<Incoming>) -> anyhow::Result<Bytes> {
    let body = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|error| anyhow!("cannot read body: {error}"))?;
    Ok(body.to_bytes())
}

/// `errorType: errorMessage` from the runtime's error document, or the raw body if it is not one.
async fn error_message(request: Request<Incoming>) -> String {
    let header_type = request
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(error) => return error.to_string(),
    };
    let document: Option<Value> = serde_json::from_slice(&body).ok();
    let field = |name: &str| {
        document
            .as_ref()
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let kind = field("errorType").or(header_type);
    let message = field("errorMessage").unwrap_or_else(|| snippet(&body));
    match kind {
        Some(kind) => format!("{kind}: {message}"),
        None => message,
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(500) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("static headers are valid")
}

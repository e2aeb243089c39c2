//! The process benchmark against the debug `hello_lambda` baseline, and the Runtime API's
//! protocol and failure paths driven by a plain HTTP client.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use devkit::bench_process::{cold_start, ensure_success, file_size, warm_run, LambdaProcess};
use devkit::runtime_api::RuntimeApi;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

fn http_api_event() -> Value {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/apigw-http-list.json"
    ));
    serde_json::from_str(text).unwrap()
}

fn hello(event: Value) -> LambdaProcess {
    LambdaProcess {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_hello_lambda")),
        env: Vec::new(),
        event,
    }
}

#[tokio::test]
async fn hello_lambda_cold_start_and_rss() {
    let process = hello(http_api_event());
    let cold = cold_start(&process).await.unwrap();
    assert!(cold.ready <= cold.first_response, "{cold:?}");
    assert!(cold.first_response < Duration::from_secs(30), "{cold:?}");

    let warm = warm_run(&process, 20).await.unwrap();
    assert!(warm.rss_kb > 0);
    assert!(warm.cpu_per_invocation < Duration::from_secs(1), "{warm:?}");
    assert!(file_size(&process.binary).unwrap() > 0);
    // Shown with --nocapture; the library itself never prints.
    eprintln!("hello_lambda (debug): {cold:?}, after 20 invocations {warm:?}");
}

#[tokio::test]
async fn a_process_that_exits_at_once_is_an_error_not_a_hang() {
    let mut process = hello(http_api_event());
    process.binary = PathBuf::from("/bin/false");
    let started = Instant::now();
    let error = cold_start(&process).await.unwrap_err().to_string();
    assert!(error.contains("exited"), "{error}");
    let error = warm_run(&process, 1).await.unwrap_err().to_string();
    assert!(error.contains("exited"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_crash_at_init_reports_the_process_output() {
    let mut process = hello(http_api_event());
    // Overrides the default from LAMBDA_ENV; lambda_runtime panics on it before polling.
    process.env = vec![("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "lots".into())];
    let error = cold_start(&process).await.unwrap_err().to_string();
    assert!(error.contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "{error}");
}

#[tokio::test]
async fn a_missing_binary_is_an_error() {
    let mut process = hello(http_api_event());
    process.binary = PathBuf::from("/nonexistent/bootstrap");
    assert!(cold_start(&process).await.is_err());
    assert!(file_size(&process.binary).is_err());
}

#[test]
fn non_200_responses_are_errors_naming_status_and_body() {
    ensure_success(&json!({"statusCode": 200, "body": "ok"})).unwrap();
    let error = ensure_success(&json!({"statusCode": 503, "body": "{\"code\":\"Unavailable\"}"}))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("503") && error.contains("Unavailable"),
        "{error}"
    );
    assert!(ensure_success(&json!("hello")).is_err());
}

async fn call(api: &RuntimeApi, method: &str, path: &str, body: &str) -> hyper::Response<Bytes> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", api.addr()))
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let (parts, body) = client.request(request).await.unwrap().into_parts();
    hyper::Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn init_error_surfaces_with_its_message() {
    let api = RuntimeApi::start().await.unwrap();
    let pending = api.submit(json!({"any": "event"}));
    let posted = call(
        &api,
        "POST",
        "/2018-06-01/runtime/init/error",
        r#"{"errorType":"Runtime.InitError","errorMessage":"TABLE_NAME is not set"}"#,
    )
    .await;
    assert_eq!(posted.status(), 202);
    for error in [
        pending.wait().await.unwrap_err().to_string(),
        api.first_poll().await.unwrap_err().to_string(),
    ] {
        assert!(error.contains("TABLE_NAME is not set"), "{error}");
        assert!(error.contains("Runtime.InitError"), "{error}");
    }
}

#[tokio::test]
async fn protocol_next_response_and_error() {
    let api = RuntimeApi::start().await.unwrap();
    let first = api.submit(json!({"n": 1}));
    let second = api.submit(json!({"n": 2}));

    let next = call(&api, "GET", "/2018-06-01/runtime/invocation/next", "").await;
    assert_eq!(next.status(), 200);
    let header = |name: &str| next.headers()[name].to_str().unwrap().to_owned();
    let id = header("lambda-runtime-aws-request-id");
    assert_eq!(id, first.request_id());
    let deadline: u64 = header("lambda-runtime-deadline-ms").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(deadline > now + 25_000 && deadline <= now + 30_000);
    assert!(header("lambda-runtime-invoked-function-arn").starts_with("arn:aws:lambda:"));
    assert!(header("lambda-runtime-trace-id").starts_with("Root=1-"));
    assert_eq!(
        serde_json::from_slice::<Value>(next.body()).unwrap(),
        json!({"n": 1})
    );

    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    let posted = call(&api, "POST", &path, r#"{"statusCode":200}"#).await;
    assert_eq!(posted.status(), 202);
    let (answered, payload) = first.wait().await.unwrap();
    assert_eq!(payload, json!({"statusCode": 200}));
    assert!(api.first_poll().await.unwrap() <= answered);
    // A second answer for the same id is refused.
    assert_eq!(call(&api, "POST", &path, "{}").await.status(), 400);

    let next = call(&api, "GET", "/2018-06-01/runtime/invocation/next", "").await;
    let id = next.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .unwrap();
    let path = format!("/2018-06-01/runtime/invocation/{id}/error");
    let body = r#"{"errorType":"&alloc::boxed::Box<dyn Error>","errorMessage":"boom"}"#;
    assert_eq!(call(&api, "POST", &path, body).await.status(), 202);
    let error = second.wait().await.unwrap_err().to_string();
    assert!(error.contains("boom"), "{error}");
    assert_eq!(api.polls(), 2);
}

#[tokio::test]
async fn nothing_polling_times_out_instead_of_hanging() {
    let api = RuntimeApi::start()
        .await
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    let error = api.first_poll().await.unwrap_err().to_string();
    assert!(error.contains("within"), "{error}");
    let error = api.invoke(json!({})).await.unwrap_err().to_string();
    assert!(error.contains("not answered"), "{error}");
}

#[tokio::test]
async fn a_long_poll_is_answered_when_an_event_arrives() {
    let api = RuntimeApi::start().await.unwrap();
    let addr = api.addr();
    let poll = tokio::spawn(async move {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let uri = format!("http://{addr}/2018-06-01/runtime/invocation/next");
        let response = client.get(uri.parse().unwrap()).await.unwrap();
        response.into_body().collect().await.unwrap().to_bytes()
    });
    api.first_poll().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !poll.is_finished(),
        "next must block while the queue is empty"
    );
    let _pending = api.submit(json!({"late": true}));
    let body = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"late": true})
    );
}

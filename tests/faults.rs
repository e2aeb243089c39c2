//! Faults between the SDK and the engine, injected by a loopback proxy: throttling, server errors,
//! stalls, refused connections and keys left unprocessed. Bounded retries, then 503 (retryable,
//! with Retry-After) or 500; never a partial page presented as complete; the next request after
//! recovery succeeds.

mod common;

use std::time::{Duration, Instant};

use common::*;
use devkit::faults::{Fault, FaultProxy};
use enrollment_tokens::api::App;
use enrollment_tokens::config::Config;
use enrollment_tokens::domain::ObjectId;
use enrollment_tokens::store::Store;
use serde_json::json;

const QUERY: &str = "limit=5&show-deleted=true";

async fn world() -> (Harness, FaultProxy, ObjectId) {
    let (harness, proxy) = Harness::with_faults().await;
    let org = oid(1);
    let mut data = Data {
        organizations: vec![organization(&org, "acme")],
        ..Data::default()
    };
    for n in 0..4 {
        data.users
            .push(user(&org, &oid(10 + n), &format!("u{n}@acme.test")));
        data.policies
            .push(policy(&org, &oid(20 + n), &format!("P{n}")));
    }
    for n in 0..12u64 {
        let mut t = token(&org, &oid(100 + n), n as i64);
        t.mdm_user_id = Some(oid(10 + n % 4));
        assign(&mut t, &[&oid(20 + n % 4), &oid(20 + (n + 1) % 4)]);
        data.tokens.push(t);
    }
    harness.seed(&data).await;
    (harness, proxy, org)
}

async fn list(harness: &Harness, org: &ObjectId, query: &str) -> Reply {
    let uri = format!("{}?{query}", path("acme"));
    harness.get(&uri, Some(&bearer(org, &[LIST]))).await
}

#[tokio::test]
async fn transient_faults_are_retried_and_the_page_is_whole() {
    let (harness, proxy, org) = world().await;
    let baseline = list(&harness, &org, QUERY).await;
    assert_eq!(baseline.ids().len(), 5);
    for (operation, faults) in [
        ("Query", vec![Fault::throttling()]),
        (
            "Query",
            vec![Fault::throughput_exceeded(), Fault::internal_server_error()],
        ),
        ("BatchGetItem", vec![Fault::throttling()]),
        ("BatchGetItem", vec![Fault::internal_server_error()]),
        ("Query", vec![Fault::Stall(Duration::from_secs(2))]),
        ("BatchGetItem", vec![Fault::Unprocess { keep: 1 }; 4]),
        ("BatchGetItem", vec![Fault::Unprocess { keep: 0 }; 3]),
        ("BatchGetItem", vec![Fault::Unprocess { keep: 1 }; 40]),
    ] {
        proxy.inject(operation, faults.clone());
        let reply = list(&harness, &org, QUERY).await;
        assert_eq!(reply.body, baseline.body, "{operation} {faults:?}");
        proxy.clear();
    }
}

#[tokio::test]
async fn persistent_unavailability_is_a_503_with_retry_after_then_recovery() {
    let (harness, proxy, org) = world().await;
    for (operation, fault) in [
        ("Query", Fault::throttling()),
        ("Query", Fault::throughput_exceeded()),
        ("BatchGetItem", Fault::throttling()),
        ("BatchGetItem", Fault::internal_server_error()),
        ("BatchGetItem", Fault::Unprocess { keep: 0 }),
    ] {
        proxy.always(operation, fault.clone());
        let reply = list(&harness, &org, QUERY).await;
        let message = reply.error(503, 1003);
        assert_eq!(message, "Service temporarily unavailable", "{fault:?}");
        assert_eq!(reply.headers.get("retry-after").unwrap(), "1");
        assert_eq!(reply.body["error"]["requestId"], json!("test-request"));
        assert!(reply.body.get("data").is_none(), "no partial page");
        proxy.clear();
        assert_eq!(
            list(&harness, &org, QUERY).await.status,
            200,
            "recovered after {fault:?}"
        );
    }
}

#[tokio::test]
async fn a_non_retryable_error_is_a_500_without_detail() {
    let (harness, proxy, org) = world().await;
    proxy.always("Query", Fault::validation());
    let reply = list(&harness, &org, QUERY).await;
    assert_eq!(reply.error(500, 1000), "Internal server error");
    assert!(!reply.body.to_string().contains("injected"));
    let seen = proxy.seen().iter().filter(|op| *op == "Query").count();
    assert_eq!(seen, 1, "a validation error is not retried");
    proxy.clear();
    assert_eq!(list(&harness, &org, QUERY).await.status, 200);
}

#[tokio::test]
async fn retries_stop_at_the_request_budget() {
    let (harness, proxy, org) = world().await;
    let config =
        Config::from_lookup(|name| devkit::dev_token::dev_setting(&harness.table, name)).unwrap();
    let store = Store::new(devkit::engine::client_for(&proxy.endpoint), &harness.table);
    let budget = Duration::from_secs(2);
    let app = App::new(store, &config, harness.clock.clone())
        .unwrap()
        .with_default_budget(budget);
    proxy.always("Query", Fault::Stall(Duration::from_secs(5)));
    let request = lambda_http::http::Request::builder()
        .uri(format!("{}?{QUERY}", path("acme")))
        .header("authorization", bearer(&org, &[LIST]))
        .body(())
        .unwrap();
    let started = Instant::now();
    let (parts, ()) = request.into_parts();
    let response = app
        .handle(devkit::server::lambda_request(parts), "budget")
        .await;
    let elapsed = started.elapsed();
    let reply = reply(response);
    reply.error(503, 1003);
    assert!(
        elapsed < budget + Duration::from_millis(500),
        "took {elapsed:?}"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_a_503() {
    let harness = Harness::new().await;
    let org = oid(1);
    harness
        .seed(&Data {
            organizations: vec![organization(&org, "acme")],
            ..Data::default()
        })
        .await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let config =
        Config::from_lookup(|name| devkit::dev_token::dev_setting(&harness.table, name)).unwrap();
    let store = Store::new(
        devkit::engine::client_for(&format!("http://{closed}")),
        &harness.table,
    );
    let app = App::new(store, &config, harness.clock.clone()).unwrap();
    let request = lambda_http::http::Request::builder()
        .uri(path(&org.to_string()))
        .header("authorization", bearer(&org, &[LIST]))
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let reply = reply(
        app.handle(devkit::server::lambda_request(parts), "refused")
            .await,
    );
    reply.error(503, 1003);
}

#[tokio::test]
async fn an_organization_the_token_does_not_grant_costs_no_read() {
    let (harness, proxy, org) = world().await;
    let before = proxy.seen().len();
    let foreign = oid(2).to_string();
    let uri = format!("{}?{QUERY}", path(&foreign));
    let reply = harness.get(&uri, Some(&bearer(&org, &[LIST]))).await;
    reply.error(404, 3001);
    assert_eq!(
        proxy.seen().len(),
        before,
        "no DynamoDB call for an id the token does not grant"
    );
}

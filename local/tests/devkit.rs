//! The local kit: fixture files load through the write side and list as written; the demo has the
//! promised mix; the `devkit token` command mints tokens the service accepts.

use std::sync::Arc;

use devkit::demo::{demo, DemoShape, DEMO_ORGANIZATION, OTHER_ORGANIZATION};
use devkit::dev_token::dev_setting;
use devkit::engine::Engine;
use devkit::fixture::Fixture;
use enrollment_tokens::api::App;
use enrollment_tokens::config::Config;
use enrollment_tokens::domain::{StoredState, SystemClock};
use enrollment_tokens::store::Store;
use lambda_http::Body;
use serde_json::{json, Value};

const FIXTURE: &str = r#"{
  "organizations": [{ "id": "698efa6ed851667d9c0aec80", "slug": "fixture-corp", "name": "Fixture Corp" }],
  "users": [{ "id": "698efa6ed851667d9c0aec81", "organizationId": "698efa6ed851667d9c0aec80", "email": "john@fixture.test" }],
  "policies": [{ "id": "698efa6ed851667d9c0aec82", "organizationId": "698efa6ed851667d9c0aec80",
                 "winEnterpriseId": "698efa6ed851667d9c0aec83", "name": "Corporate Security Policy",
                 "config": {}, "version": 2, "segmentId": 1,
                 "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-02T00:00:00Z" }],
  "tokens": [{
    "id": "698efa6ed851667d9c0aec88", "organizationId": "698efa6ed851667d9c0aec80",
    "winEnterpriseId": "698efa6ed851667d9c0aec83", "winDeviceId": null,
    "mdmUser": { "id": "698efa6ed851667d9c0aec81", "email": "ignored@fixture.test" },
    "displayName": "Engineering Laptop - John Doe", "tags": ["engineering", "laptop"],
    "state": "PENDING", "config": {}, "type": "enrollment", "subType": "standard",
    "updatedAt": "2026-02-10T12:00:00Z", "createdAt": "2026-01-15T09:30:00Z", "expireAt": null,
    "enrollmentLink": "https://mdm.company.com/enroll?token=abc123def456", "enrollCode": "ABC123",
    "winPolicyId": "698efa6ed851667d9c0aec82",
    "winPolicyAssignments": [{ "winPolicyId": "698efa6ed851667d9c0aec82", "priority": 100 }],
    "summary": { "expirationTimestamp": null }, "sendEmail": true, "emailText": "Welcome", "segmentId": 1
  }]
}"#;

async fn app_over(engine: &Engine) -> (App, Store) {
    let store = Store::new(engine.client(), "devkit-test");
    store.create_table().await.unwrap();
    let config = Config::from_lookup(|name| dev_setting("devkit-test", name)).unwrap();
    let app = App::new(store.clone(), &config, Arc::new(SystemClock)).unwrap();
    (app, store)
}

async fn list(app: &App, organization: &str, token: &str) -> Value {
    let request = lambda_http::http::Request::builder()
        .uri(format!(
            "/v1/organizations/{organization}/mdm/windows/enterprise/enrollment-tokens/?limit=100"
        ))
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let response = app
        .handle(devkit::server::lambda_request(parts), "devkit-test")
        .await;
    assert_eq!(response.status(), 200);
    match response.into_body() {
        Body::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

fn minted_by_the_command(organization: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_devkit"))
        .args(["token", "--org", organization])
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn a_fixture_file_lists_as_written() {
    let path = std::env::temp_dir().join(format!("fixture-{}.json", std::process::id()));
    std::fs::write(&path, FIXTURE).unwrap();
    let engine = Engine::start(None, 0).await.unwrap();
    let (app, store) = app_over(&engine).await;
    Fixture::read(&path)
        .unwrap()
        .load(&store, |_| {})
        .await
        .unwrap();
    std::fs::remove_file(&path).ok();
    let token = minted_by_the_command("698efa6ed851667d9c0aec80");
    let body = list(&app, "fixture-corp", &token).await;
    let item = &body["data"]["items"][0];
    let written: Value = serde_json::from_str::<Value>(FIXTURE).unwrap()["tokens"][0].clone();
    for field in [
        "id",
        "displayName",
        "tags",
        "enrollCode",
        "enrollmentLink",
        "winPolicyId",
        "segmentId",
        "sendEmail",
    ] {
        assert_eq!(item[field], written[field], "{field}");
    }
    assert_eq!(item["createdAt"], json!("2026-01-15T09:30:00.000Z"));
    assert_eq!(
        item["mdmUser"]["email"],
        json!("john@fixture.test"),
        "joined, not copied"
    );
    assert_eq!(
        item["winPolicyAssignments"][0]["winPolicy"]["name"],
        json!("Corporate Security Policy")
    );
    assert_eq!(body["data"]["totalDocs"], json!(1));
}

#[test]
fn a_fixture_with_an_unknown_state_is_refused() {
    let path = std::env::temp_dir().join(format!("bad-fixture-{}.json", std::process::id()));
    std::fs::write(&path, FIXTURE.replace("\"PENDING\"", "\"ARCHIVED\"")).unwrap();
    let error = Fixture::read(&path).err().expect("refused");
    std::fs::remove_file(&path).ok();
    assert!(format!("{error:#}").contains("ARCHIVED"), "{error:#}");
}

#[test]
fn the_demo_has_the_promised_mix() {
    let shape = DemoShape::default();
    let seeded_at = chrono::Utc::now();
    let data = demo(shape, seeded_at);
    let ours: Vec<_> = data
        .tokens
        .iter()
        .filter(|t| t.organization_id.as_str() == DEMO_ORGANIZATION)
        .collect();
    assert_eq!(ours.len(), shape.tokens);
    assert!(data
        .tokens
        .iter()
        .any(|t| t.organization_id.as_str() == OTHER_ORGANIZATION));
    assert!(
        data.tokens
            .iter()
            .all(|t| t.created_at <= t.updated_at && t.updated_at <= seeded_at),
        "a demo token was updated before its creation or after the seeding"
    );
    let count = |f: &dyn Fn(&&&enrollment_tokens::domain::EnrollmentToken) -> bool| {
        ours.iter().filter(f).count()
    };
    let now = chrono::Utc::now();
    assert!(count(&|t| t.state == StoredState::Deleted) > 100);
    assert!(count(&|t| t.state == StoredState::Done) > 100);
    assert!(count(&|t| t.state == StoredState::Pending && t.is_expired(now)) > 100);
    assert!(count(&|t| t.expire_at.is_none()) > 100);
    assert!(count(&|t| t.win_policy_assignments.len() > 1) > 100);
    assert!(count(&|t| t.win_policy_assignments.is_empty() && t.win_policy_id.is_some()) > 10);
}

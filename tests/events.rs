//! Event-payload tests: every `events/*.json` (API Gateway REST v1, HTTP API v2, ALB, Function URL)
//! goes through lambda_http's own deserialisation into the real handler; successes must answer
//! exactly what the same query answers as a plain request, errors the documented status and code.

mod common;

use std::path::Path;

use common::*;
use devkit::demo::{demo, DemoShape, DEMO_ORGANIZATION};
use enrollment_tokens::domain::ObjectId;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Expectation {
    file: String,
    source: String,
    description: String,
    status: u16,
    same_as: Option<String>,
    code: Option<u64>,
    parameter: Option<String>,
}

fn events_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/events"))
}

#[tokio::test]
async fn every_event_payload_answers_as_its_manifest_says() {
    let harness = Harness::new().await;
    let shape = DemoShape {
        tokens: 40,
        users: 5,
        policies: 4,
        other_tokens: 5,
    };
    // Written one by one (not with the loader's parallel writes), so emulators keep up.
    let fixture = demo(shape, epoch());
    let data = Data {
        organizations: fixture.organizations,
        users: fixture.users,
        policies: fixture.policies,
        tokens: fixture.tokens,
    };
    harness.seed(&data).await;
    let manifest: Vec<Expectation> =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("manifest.json")).unwrap())
            .unwrap();
    let organization = ObjectId::parse(DEMO_ORGANIZATION).unwrap();
    let mut sources = std::collections::BTreeSet::new();
    for expectation in &manifest {
        let text = std::fs::read_to_string(events_dir().join(&expectation.file)).unwrap();
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{}: not an event lambda_http accepts: {e}",
                expectation.file
            )
        });
        let reply = reply(harness.app.handle(request, "event-test").await);
        let context = format!("{} ({})", expectation.file, expectation.description);
        assert_eq!(
            reply.status.as_u16(),
            expectation.status,
            "{context}: {}",
            reply.body
        );
        match &expectation.same_as {
            Some(query) => {
                let uri = format!("{}?{query}", path("demo"));
                let direct = harness
                    .get(&uri, Some(&bearer(&organization, &[LIST])))
                    .await;
                assert_eq!(reply.body, direct.body, "{context}");
                assert!(!reply.ids().is_empty(), "{context}: a listing with items");
            }
            None => {
                let code = expectation.code.expect("errors name their code");
                let message = reply.error(expectation.status, code);
                if let Some(parameter) = &expectation.parameter {
                    assert!(
                        message.contains(&format!("'{parameter}'")),
                        "{context}: {message}"
                    );
                }
            }
        }
        sources.insert(expectation.source.clone());
    }
    for source in ["apigw-rest", "apigw-http", "alb", "function-url"] {
        assert!(sources.contains(source), "no {source} event");
    }
    let listed: Vec<&str> = manifest.iter().map(|e| e.file.as_str()).collect();
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".json") && name != "manifest.json" {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is not in the manifest"
            );
        }
    }
}

//! Hostile input: random query strings, paths, headers and mangled event payloads through the real
//! handler. It never panics, never answers 5xx for bad input, every body is a valid envelope
//! (checked against openapi.yaml by the harness) and every 400 names the parameter at fault.

mod common;

use std::sync::OnceLock;

use common::*;
use enrollment_tokens::domain::ObjectId;
use lambda_http::http;
use proptest::prelude::*;
use serde_json::Value;

const NAMED: [&str; 8] = [
    "'page'",
    "'limit'",
    "'sort'",
    "'mdm-user'",
    "'win-policy'",
    "'show-deleted'",
    "'organizationId'",
    "'cursor'",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// One engine and organization for every case; the inputs never write.
fn harness() -> &'static (Harness, ObjectId) {
    static HARNESS: OnceLock<(Harness, ObjectId)> = OnceLock::new();
    HARNESS.get_or_init(|| {
        runtime().block_on(async {
            let harness = Harness::new().await;
            let org = oid(1);
            let mut data = Data {
                organizations: vec![organization(&org, "acme")],
                users: vec![user(&org, &oid(11), "ada@acme.test")],
                policies: vec![policy(&org, &oid(31), "Baseline")],
                ..Data::default()
            };
            for n in 0..12 {
                let mut t = token(&org, &oid(100 + n), n as i64);
                t.mdm_user_id = Some(oid(11));
                assign(&mut t, &[&oid(31)]);
                data.tokens.push(t);
            }
            harness.seed(&data).await;
            (harness, org)
        })
    })
}

fn check(reply: &Reply) {
    let status = reply.status.as_u16();
    assert!(
        status < 500,
        "bad input must not be a server error: {status} {}",
        reply.body
    );
    if status == 400 {
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            NAMED.iter().any(|name| message.contains(name)),
            "unnamed 400: {message}"
        );
    }
}

fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[0-9]{1,25}",
        "-?[0-9]{1,5}(\\.[0-9])?",
        "(createdAt|updatedAt|expireAt|displayName|state|name|)(:asc|:desc|:ASC|:|::desc)?",
        "[0-9a-fA-F]{20,28}",
        "(true|false|TRUE|1|0|yes|no|null)",
        "[ -~]{0,40}",
        "\\PC{0,20}",
        "(%[0-9A-Fa-f]{2}|%|%%|%zz|\\+){1,6}",
        // Cursor-shaped: base64url, a dot, base64url.
        "[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{0,50}",
    ]
}

fn query_string() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("page".to_string()),
        Just("limit".to_string()),
        Just("sort".to_string()),
        Just("mdm-user".to_string()),
        Just("win-policy".to_string()),
        Just("show-deleted".to_string()),
        Just("cursor".to_string()),
        "[a-zA-Z%=&-]{0,10}",
    ];
    proptest::collection::vec((name, query_value(), any::<bool>()), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(name, value, encode)| {
                let value = if encode {
                    percent_encoding::utf8_percent_encode(
                        &value,
                        percent_encoding::NON_ALPHANUMERIC,
                    )
                    .to_string()
                } else {
                    value.replace(['&', '#', ' '], "")
                };
                format!("{name}={value}")
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn organization_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("acme".to_string()),
        Just(oid(1).to_string()),
        "[a-zA-Z0-9-]{0,30}",
        "[0-9a-f]{24}",
        "(%[0-9A-Fa-f]{2}){1,8}",
        "[a-z._~!$'()*+,;=:@-]{1,12}",
    ]
}

fn authorization() -> impl Strategy<Value = Option<String>> {
    let valid = bearer(&oid(1), &[LIST]);
    let token = valid.trim_start_matches("Bearer ").to_string();
    prop_oneof![
        3 => Just(Some(valid)),
        1 => Just(None),
        1 => "[ -~]{0,60}".prop_map(Some),
        1 => ("(Bearer|bearer|BEARER|Basic|Token)", "[ ]{0,3}", "[A-Za-z0-9._-]{0,40}")
            .prop_map(|(scheme, gap, t)| Some(format!("{scheme}{gap}{t}"))),
        1 => (0..token.len()).prop_map(move |cut| Some(format!("Bearer {}", &token[..cut]))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_queries_paths_and_credentials_get_clear_answers(
        query in query_string(),
        organization in organization_segment(),
        prefix in "(/[a-z]{1,6}){0,2}",
        slash in any::<bool>(),
        auth in authorization(),
    ) {
        let (harness, _) = harness();
        let slash = if slash { "/" } else { "" };
        let uri = format!("{prefix}/v1/organizations/{organization}/mdm/windows/enterprise/enrollment-tokens{slash}?{query}");
        let Ok(request) = http::Request::builder().uri(&uri).header("authorization", auth.clone().unwrap_or_default()).body(()) else {
            return Ok(()); // not a URI any client could send
        };
        let reply = runtime().block_on(harness.send(request));
        check(&reply);
        if auth.is_none() || auth.as_deref() == Some("") {
            prop_assert_eq!(reply.status.as_u16(), 401);
        }
    }

    #[test]
    fn mangled_event_payloads_never_break_the_handler(
        file in proptest::sample::select(event_files()),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), mangled_value()), 1..4),
    ) {
        let (harness, _) = harness();
        let text = std::fs::read_to_string(events_dir().join(&file)).unwrap();
        let mut event: Value = serde_json::from_str(&text).unwrap();
        for (at, value) in edits {
            let mut paths = Vec::new();
            leaf_paths(&event, String::new(), &mut paths);
            let path = at.get(&paths).clone();
            if let Some(slot) = event.pointer_mut(&path) {
                *slot = value;
            }
        }
        // What lambda_http cannot read never reaches the handler: the runtime reports it as a
        // failed invocation. lambda_http 1.3.2 panics on an ALB query value of `[]` (no real ALB
        // sends one); the release profile unwinds so the runtime's panic layer contains that.
        let text = event.to_string();
        let parsed = std::panic::catch_unwind(|| lambda_http::request::from_str(&text));
        if let Ok(Ok(request)) = parsed {
            let response = runtime().block_on(harness.app.handle(request, "fuzz"));
            let reply = reply(response);
            check(&reply);
        }
    }
}

fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn event_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json") && name != "manifest.json")
        .collect();
    files.sort();
    files
}

fn mangled_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,30}".prop_map(Value::from),
        Just(serde_json::json!({})),
        Just(serde_json::json!([])),
        Just(serde_json::json!(["a", "b"])),
    ]
}

fn leaf_paths(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                leaf_paths(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                leaf_paths(child, format!("{at}/{index}"), out);
            }
        }
        _ => {}
    }
}

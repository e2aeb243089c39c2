//! Every body the tests receive is checked against the response schema `openapi.yaml` declares for
//! its status.

use std::sync::LazyLock;

use jsonschema::Validator;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

pub static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let text = include_str!("../../openapi.yaml");
    serde_norway::from_str(text).expect("openapi.yaml is YAML")
});

fn validator(schema: &str) -> Validator {
    // The whole document is the root so that its `#/components/...` references resolve.
    let mut root = DOCUMENT.clone();
    root["$ref"] = json!(format!("#/components/schemas/{schema}"));
    jsonschema::draft202012::new(&root).expect("the schema compiles")
}

static PAGE: LazyLock<Validator> = LazyLock::new(|| validator("PageResponse"));
static ERROR: LazyLock<Validator> = LazyLock::new(|| validator("Error"));

pub fn assert_conforms(status: StatusCode, body: &Value) {
    let errors = violations(status, body);
    assert!(
        errors.is_empty(),
        "{status} body violates openapi.yaml: {errors:?}\n{body}"
    );
}

pub fn violations(status: StatusCode, body: &Value) -> Vec<String> {
    let operation = &DOCUMENT["paths"]
        ["/v1/organizations/{organizationId}/mdm/windows/enterprise/enrollment-tokens/"]["get"];
    assert!(
        operation["responses"].get(status.as_str()).is_some(),
        "openapi.yaml declares no {status} response: {body}"
    );
    let validator = if status == StatusCode::OK {
        &*PAGE
    } else {
        &*ERROR
    };
    validator
        .iter_errors(body)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

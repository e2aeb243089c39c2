//! The table in template.yaml is the table the code creates for local runs and expects in AWS:
//! the same keys, attribute types, indexes and projections.

use enrollment_tokens::store::schema::{
    index_shapes, key_attribute_names, key_attributes, IndexShape,
};
use serde_norway::Value;

fn template() -> Value {
    serde_norway::from_str(include_str!("../template.yaml")).expect("template.yaml is YAML")
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value:?}"))
        .to_string()
}

fn key_schema(elements: &Value) -> (String, String) {
    let elements = elements.as_sequence().expect("KeySchema is a list");
    let of = |key_type: &str| {
        elements
            .iter()
            .find(|e| e["KeyType"].as_str() == Some(key_type))
            .map(|e| text(&e["AttributeName"]))
            .unwrap_or_default()
    };
    (of("HASH"), of("RANGE"))
}

#[test]
fn template_table_matches_the_code() {
    let template = template();
    let table = &template["Resources"]["TokensTable"];
    assert_eq!(table["Type"], Value::from("AWS::DynamoDB::Table"));
    let properties = &table["Properties"];
    assert_eq!(properties["BillingMode"], Value::from("PAY_PER_REQUEST"));
    let (pk, sk) = key_attributes();
    assert_eq!(
        key_schema(&properties["KeySchema"]),
        (pk.to_string(), sk.to_string())
    );

    let mut defined: Vec<(String, String)> = properties["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| (text(&d["AttributeName"]), text(&d["AttributeType"])))
        .collect();
    defined.sort();
    let mut expected: Vec<(String, String)> = key_attribute_names()
        .into_iter()
        .map(|name| (name.to_string(), "S".to_string()))
        .collect();
    expected.sort();
    assert_eq!(defined, expected, "AttributeDefinitions");

    let mut in_template: Vec<IndexShape> = properties["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|index| {
            let (partition_key, sort_key) = key_schema(&index["KeySchema"]);
            let projection = &index["Projection"];
            IndexShape {
                name: text(&index["IndexName"]),
                partition_key,
                sort_key,
                projection_type: text(&projection["ProjectionType"]),
                non_key_attributes: projection["NonKeyAttributes"]
                    .as_sequence()
                    .map(|names| names.iter().map(text).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let mut in_code = index_shapes();
    in_template.sort_by(|a, b| a.name.cmp(&b.name));
    in_code.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(in_template, in_code);
}

#[test]
fn function_reads_only_what_it_uses() {
    let template = template();
    let function = &template["Resources"]["ListTokensFunction"]["Properties"];
    assert_eq!(function["Runtime"], Value::from("provided.al2023"));
    assert_eq!(function["Handler"], Value::from("bootstrap"));
    let statements = function["Policies"][0]["Statement"].as_sequence().unwrap();
    let mut actions: Vec<String> = statements
        .iter()
        .flat_map(|s| s["Action"].as_sequence().unwrap().iter().map(text))
        .collect();
    actions.sort();
    assert_eq!(actions, ["dynamodb:BatchGetItem", "dynamodb:Query"]);
    let variables = &function["Environment"]["Variables"];
    for name in ["TABLE_NAME", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS"] {
        assert!(
            !variables[name].is_null(),
            "{name} is not set on the function"
        );
    }
}

#[test]
fn the_template_sets_every_setting_the_function_requires() {
    let template = template();
    let variables = template["Resources"]["ListTokensFunction"]["Properties"]["Environment"]
        ["Variables"]
        .as_mapping()
        .expect("the function has environment variables");
    let set: Vec<String> = variables.keys().map(text).collect();
    // Every variable the template sets stands for a value long enough for any rule.
    let config = enrollment_tokens::config::Config::from_lookup(|name| {
        set.iter().any(|n| n == name).then(|| "x".repeat(64))
    });
    assert!(config.is_ok(), "{:?} with {set:?}", config.err());
    assert!(set.contains(&"CURSOR_SECRET".to_string()));
}

//! The table definition, shared by local runs (which create it) and the SAM template (checked
//! against it by a test).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection as DynamoProjection, ProjectionType, ScalarAttributeType,
};

use super::keys::{self, Projection, INDEXES};
use super::{classify, Store};
use crate::error::Error;

/// The table's shape, in terms a test can compare with the SAM template.
#[derive(Debug, PartialEq, Eq)]
pub struct IndexShape {
    pub name: String,
    pub partition_key: String,
    pub sort_key: String,
    pub projection_type: String,
    pub non_key_attributes: Vec<String>,
}

pub fn key_attributes() -> (&'static str, &'static str) {
    (keys::PK, keys::SK)
}

pub fn index_shapes() -> Vec<IndexShape> {
    INDEXES
        .iter()
        .map(|index| {
            let (projection_type, non_key_attributes) = projection_of(index.projection);
            IndexShape {
                name: index.name.into(),
                partition_key: index.partition.into(),
                sort_key: index.sort.into(),
                projection_type: projection_type.as_str().into(),
                non_key_attributes,
            }
        })
        .collect()
}

/// Every attribute used in a key of the table or an index (all strings).
pub fn key_attribute_names() -> Vec<&'static str> {
    let mut names = vec![keys::PK, keys::SK];
    for index in &INDEXES {
        for name in [index.partition, index.sort] {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn projection_of(projection: Projection) -> (ProjectionType, Vec<String>) {
    match projection {
        Projection::All => (ProjectionType::All, vec![]),
        Projection::KeysOnly => (ProjectionType::KeysOnly, vec![]),
        Projection::Join => (
            ProjectionType::Include,
            keys::JOIN_ATTRIBUTES
                .iter()
                .map(|a| a.to_string())
                .collect(),
        ),
    }
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

impl Store {
    /// Creates the table with its indexes (local engines and tests; production uses template.yaml).
    pub async fn create_table(&self) -> Result<(), Error> {
        let definitions = key_attribute_names().into_iter().map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set")
        });
        let indexes = INDEXES.iter().map(|index| {
            let (projection_type, non_key) = projection_of(index.projection);
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.partition, KeyType::Hash))
                .key_schema(key(index.sort, KeyType::Range))
                .projection(
                    DynamoProjection::builder()
                        .projection_type(projection_type)
                        .set_non_key_attributes((!non_key.is_empty()).then_some(non_key))
                        .build(),
                )
                .build()
                .expect("name, keys and projection are set")
        });
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(keys::PK, KeyType::Hash))
            .key_schema(key(keys::SK, KeyType::Range))
            .set_attribute_definitions(Some(definitions.collect()))
            .set_global_secondary_indexes(Some(indexes.collect()))
            .send()
            .await
            .map_err(|e| classify("CreateTable", e))?;
        Ok(())
    }

    /// Whether the table exists already (a kept local database).
    pub async fn table_exists(&self) -> Result<bool, Error> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(classify("DescribeTable", error)),
        }
    }
}

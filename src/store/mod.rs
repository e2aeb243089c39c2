//! DynamoDB: the key design, every expression, and the retries. Nothing outside this module
//! sees an AWS type.

mod keys;
mod list;
mod meter;
mod read;
pub mod schema;
mod write;

use std::collections::HashMap;
use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

pub use keys::LAYOUT_VERSION;
pub use list::ListedPage;
pub use meter::{ReadCost, ReadMeter};
pub use write::WriteError;

use crate::error::Error;

type Item = HashMap<String, AttributeValue>;

/// Access to the service's table through the AWS SDK, against AWS or any compatible engine.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

/// Amazon Trust Services roots 1–4 and the Starfield root that cross-signs them: what AWS says
/// clients of its endpoints must trust.
const AWS_ROOTS: &[u8] = include_bytes!("aws-roots.pem");

/// One attempt that takes longer is abandoned and retried (a stalled connection).
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Attempts per call, throttling and server errors included, with jittered exponential back-off.
const MAX_ATTEMPTS: u32 = 3;

impl Store {
    /// Uses `client`'s endpoint and credentials with the service's own timeouts and retries.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_attempt_timeout(client, table, ATTEMPT_TIMEOUT)
    }

    /// As `new`, for an engine slower than DynamoDB (an emulator under test): an attempt abandoned
    /// while the engine still applies it would be retried on top of itself.
    pub fn with_attempt_timeout(
        client: Client,
        table: impl Into<String>,
        attempt: Duration,
    ) -> Self {
        let config = client
            .config()
            .to_builder()
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(attempt)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(50)),
            )
            .build();
        Self {
            client: Client::from_conf(config),
            table: table.into(),
        }
    }

    /// A client from the standard AWS configuration chain (`AWS_ENDPOINT_URL_DYNAMODB` included).
    /// TLS trusts only the roots that sign AWS endpoints (loading and parsing every system root
    /// certificate was most of the function's cold start), unless an endpoint of another HTTPS
    /// service is configured. Credentials come straight from the environment when it holds them,
    /// as Lambda's always does: the default chain would first build STS and IMDS clients that are
    /// never called, a third of the instructions of init.
    pub async fn from_environment(table: impl Into<String>) -> Self {
        let other_https_endpoint = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .any(|url| url.trim().to_ascii_lowercase().starts_with("https://"));
        let trust = if other_https_endpoint {
            TrustStore::default()
        } else {
            TrustStore::empty().with_pem_certificate(AWS_ROOTS)
        };
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .expect("a trust store is all the context holds");
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context)
            .build_https();
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
        if credentials_in_environment(|name| std::env::var(name).ok()) {
            loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
        }
        Self::new(Client::new(&loader.load().await), table)
    }
}

/// Whether `lookup` holds a complete static key pair, which the default chain would pick first
/// anyway; a partial one is left to the chain, which then looks further.
fn credentials_in_environment(lookup: impl Fn(&str) -> Option<String>) -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|name| lookup(name).is_some_and(|value| !value.trim().is_empty()))
}

/// Throttling and unavailability are worth a retry by the client (503); anything else is a fault (500).
fn classify<E>(operation: &str, error: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    const RETRYABLE: [&str; 5] = [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    ];
    let code = error.code().map(str::to_owned);
    let detail = format!(
        "{operation}: {}",
        error_chain(&error as &dyn std::error::Error)
    );
    match (&error, code.as_deref()) {
        (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_), _) => Error::Unavailable(detail),
        (_, Some(code)) if RETRYABLE.contains(&code) => Error::Unavailable(detail),
        _ => Error::Internal(detail),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn key_item((pk, sk): (String, String)) -> Item {
    HashMap::from([
        (keys::PK.to_string(), AttributeValue::S(pk)),
        (keys::SK.to_string(), AttributeValue::S(sk)),
    ])
}

fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    use super::{credentials_in_environment, AWS_ROOTS};

    #[test]
    fn only_a_complete_key_pair_counts_as_credentials_in_the_environment() {
        let with = |pairs: &'static [(&'static str, &'static str)]| {
            credentials_in_environment(move |name| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            })
        };
        assert!(with(&[
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "secret")
        ]));
        assert!(!with(&[("AWS_ACCESS_KEY_ID", "AKIA")]));
        assert!(!with(&[("AWS_SECRET_ACCESS_KEY", "secret")]));
        assert!(!with(&[
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", " ")
        ]));
        assert!(!with(&[]));
    }

    #[test]
    fn the_aws_roots_are_five_parsable_certificates() {
        let roots: Vec<CertificateDer> = CertificateDer::pem_slice_iter(AWS_ROOTS)
            .collect::<Result<_, _>>()
            .expect("every root parses");
        assert_eq!(roots.len(), 5);
    }
}

//! Test harness: the real handler over dynoxide embedded on a loopback port, a settable clock,
//! token minting, data builders and the reference ordering the listings must follow.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod openapi;
pub mod oracle;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use devkit::dev_token;
use devkit::engine::Engine;
use devkit::faults::FaultProxy;
use enrollment_tokens::api::App;
use enrollment_tokens::config::Config;
use enrollment_tokens::domain::{
    Clock, EnrollmentToken, MdmUser, ObjectId, Organization, PageRequest, PolicyAssignment,
    SortDirection, StoredState, Timestamp, WinPolicy,
};
use enrollment_tokens::store::Store;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lambda_http::http::{self, HeaderMap, StatusCode};
use lambda_http::Body;
use serde_json::{json, Value};

pub const PATH_PREFIX: &str = "/v1/organizations";
pub const PATH_SUFFIX: &str = "mdm/windows/enterprise/enrollment-tokens/";
pub const JWKS: &str = include_str!("../keys/jwks.json");
pub const RSA_PRIVATE: &str = include_str!("../keys/rsa-private.pem");
pub const RSA_PUBLIC: &str = include_str!("../keys/rsa-public.pem");
pub const FOREIGN_RSA_PRIVATE: &str = include_str!("../keys/foreign-rsa-private.pem");
pub const LIST: &str = "mdm.windows.enrollmentToken.list";

pub fn path(organization: &str) -> String {
    format!("{PATH_PREFIX}/{organization}/{PATH_SUFFIX}")
}

pub struct TestClock(Mutex<Timestamp>);

impl TestClock {
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap() = at;
    }

    pub fn get(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        self.get()
    }
}

/// A fixed point in time the tests count from (whole milliseconds, as stored).
pub fn epoch() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn data(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        &self.body["data"]
    }

    pub fn ids(&self) -> Vec<String> {
        self.data()["items"]
            .as_array()
            .expect("items is an array")
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// The listed item of token `id`.
    pub fn item(&self, id: &ObjectId) -> Value {
        self.data()["items"]
            .as_array()
            .expect("items is an array")
            .iter()
            .find(|item| item["id"] == id.as_str())
            .unwrap_or_else(|| panic!("token {id} is not listed"))
            .clone()
    }

    /// Asserts the error envelope with this status and code; returns the message.
    pub fn error(&self, status: u16, code: u64) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["status"], json!(false), "{}", self.body);
        assert_eq!(self.body["error"]["code"], json!(code), "{}", self.body);
        assert_eq!(
            self.headers.get("content-type").unwrap(),
            "application/json",
            "error bodies are JSON"
        );
        self.body["error"]["message"].as_str().unwrap().to_string()
    }
}

pub struct Harness {
    /// The embedded engine, unless the tests run against `AWS_ENDPOINT_URL_DYNAMODB`.
    engine: Option<Engine>,
    /// Where the engine answers (the proxy, if any, stands in front of it).
    pub engine_endpoint: String,
    pub table: String,
    pub store: Store,
    pub app: App,
    pub clock: Arc<TestClock>,
}

impl Harness {
    /// dynoxide embedded in this process, or the engine `AWS_ENDPOINT_URL_DYNAMODB` names (each
    /// harness then gets a table of its own).
    pub async fn new() -> Self {
        let (engine, endpoint) = Self::engine().await;
        Self::over(engine, endpoint.clone(), &endpoint).await
    }

    /// The service talks to the engine through a proxy that injects faults on demand.
    pub async fn with_faults() -> (Self, FaultProxy) {
        let (engine, endpoint) = Self::engine().await;
        let proxy = FaultProxy::start(&endpoint).await.expect("proxy starts");
        let harness = Self::over(engine, endpoint, &proxy.endpoint).await;
        (harness, proxy)
    }

    /// An external engine is an emulator: slower, so each attempt may take longer.
    fn external() -> bool {
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok_and(|endpoint| !endpoint.is_empty())
    }

    pub fn store_for(endpoint: &str, table: &str) -> Store {
        let client = devkit::engine::client_for(endpoint);
        if Self::external() {
            Store::with_attempt_timeout(client, table, std::time::Duration::from_secs(30))
        } else {
            Store::new(client, table)
        }
    }

    async fn engine() -> (Option<Engine>, String) {
        match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
            Ok(endpoint) if !endpoint.is_empty() => (None, endpoint),
            _ => {
                let engine = Engine::start(None, 0).await.expect("engine starts");
                let endpoint = engine.endpoint.clone();
                (Some(engine), endpoint)
            }
        }
    }

    /// A client straight to the engine (past any fault proxy).
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        devkit::engine::client_for(&self.engine_endpoint)
    }

    /// The service talks to `service_endpoint`, which leads to the engine at `engine_endpoint`.
    async fn over(engine: Option<Engine>, engine_endpoint: String, service_endpoint: &str) -> Self {
        static TABLES: AtomicU64 = AtomicU64::new(0);
        let table = format!(
            "tokens-test-{}-{}",
            std::process::id(),
            TABLES.fetch_add(1, Ordering::Relaxed)
        );
        let store = Self::store_for(service_endpoint, &table);
        store.create_table().await.expect("table created");
        let clock = Arc::new(TestClock(Mutex::new(epoch())));
        let config = Config::from_lookup(|name| match name {
            "JWT_JWKS" => Some(JWKS.to_string()),
            other => dev_token::dev_setting(&table, other),
        })
        .expect("test configuration is complete");
        let app = App::new(store.clone(), &config, clock.clone()).expect("test keys load");
        Self {
            engine,
            engine_endpoint,
            table,
            store,
            app,
            clock,
        }
    }

    /// A GET through the handler, as the local server and the Lambda runtime hand it over.
    pub async fn get(&self, uri: &str, authorization: Option<&str>) -> Reply {
        let mut builder = http::Request::builder().method("GET").uri(uri);
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        self.send(builder.body(()).unwrap()).await
    }

    pub async fn send(&self, request: http::Request<()>) -> Reply {
        let (parts, ()) = request.into_parts();
        let response = self
            .app
            .handle(devkit::server::lambda_request(parts), "test-request")
            .await;
        reply(response)
    }

    pub async fn seed(&self, data: &Data) {
        for organization in &data.organizations {
            self.store.create_organization(organization).await.unwrap();
        }
        for user in &data.users {
            self.store.put_user(user).await.unwrap();
        }
        for policy in &data.policies {
            self.store.put_policy(policy).await.unwrap();
        }
        for token in &data.tokens {
            self.store.create_token(token).await.unwrap();
        }
    }
}

pub fn reply(response: http::Response<Body>) -> Reply {
    let (parts, body) = response.into_parts();
    let text = match body {
        Body::Text(text) => text,
        Body::Binary(bytes) => String::from_utf8(bytes).unwrap(),
        Body::Empty => String::new(),
        _ => unreachable!("the handler answers text"),
    };
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    openapi::assert_conforms(parts.status, &body);
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `Bearer <HS256 dev token>` granting `permissions` in `organization`.
pub fn bearer(organization: &ObjectId, permissions: &[&str]) -> String {
    let grants = vec![(
        organization.to_string(),
        permissions.iter().map(|p| p.to_string()).collect(),
    )];
    format!("Bearer {}", dev_token::mint(&grants, 3600))
}

/// An RS256 token signed with `private_pem`, carrying `claims` as given.
pub fn rs256(private_pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

pub fn standard_claims(organization: &ObjectId, permissions: &[&str]) -> Value {
    json!({
        "iss": dev_token::DEV_ISSUER,
        "aud": dev_token::DEV_AUDIENCE,
        "sub": "tester",
        "exp": Utc::now().timestamp() + 600,
        "permissions": { organization.to_string(): permissions },
    })
}

pub fn oid(n: u64) -> ObjectId {
    ObjectId::from_parts(0x6600_0000, n)
}

/// Organizations, users, policies and tokens to seed.
#[derive(Default, Clone)]
pub struct Data {
    pub organizations: Vec<Organization>,
    pub users: Vec<MdmUser>,
    pub policies: Vec<WinPolicy>,
    pub tokens: Vec<EnrollmentToken>,
}

pub fn organization(id: &ObjectId, slug: &str) -> Organization {
    Organization {
        id: id.clone(),
        slug: slug.into(),
        name: slug.to_uppercase(),
    }
}

pub fn user(organization: &ObjectId, id: &ObjectId, email: &str) -> MdmUser {
    MdmUser {
        id: id.clone(),
        organization_id: organization.clone(),
        email: email.into(),
    }
}

pub fn policy(organization: &ObjectId, id: &ObjectId, name: &str) -> WinPolicy {
    WinPolicy {
        id: id.clone(),
        organization_id: organization.clone(),
        win_enterprise_id: Some(oid(9000)),
        name: name.into(),
        config: json!({ "applications": [], "agentConfiguration": { "enabled": true } }),
        version: 3,
        segment_id: Some(1),
        created_at: epoch() - Duration::days(30),
        updated_at: epoch() - Duration::days(29),
    }
}

/// A pending token created `minutes` after the epoch, expiring a day later.
pub fn token(organization: &ObjectId, id: &ObjectId, minutes: i64) -> EnrollmentToken {
    let created_at: DateTime<Utc> = epoch() + Duration::minutes(minutes);
    EnrollmentToken {
        id: id.clone(),
        organization_id: organization.clone(),
        win_enterprise_id: Some(oid(9000)),
        win_device_id: None,
        mdm_user_id: None,
        display_name: Some(format!("Token {minutes}")),
        tags: vec!["test".into()],
        state: StoredState::Pending,
        config: json!({}),
        token_type: Some("enrollment".into()),
        sub_type: Some("standard".into()),
        created_at,
        updated_at: created_at,
        expire_at: Some(created_at + Duration::days(1)),
        enrollment_link: Some("https://mdm.test/enroll".into()),
        enroll_code: Some("ABC123".into()),
        win_policy_id: None,
        win_policy_assignments: vec![],
        send_email: false,
        email_text: None,
        segment_id: Some(1),
    }
}

pub fn assign(token: &mut EnrollmentToken, policies: &[&ObjectId]) {
    token.win_policy_assignments = policies
        .iter()
        .enumerate()
        .map(|(rank, id)| PolicyAssignment {
            win_policy_id: (*id).clone(),
            priority: rank as u32 * 10,
        })
        .collect();
}

/// The query string that asks for `request`.
pub fn query_of(request: &PageRequest) -> String {
    format!("page={}&{}", request.page, listing_query(request))
}

/// The query string of `request`'s listing, without the page: what goes beside a cursor.
pub fn listing_query(request: &PageRequest) -> String {
    let direction = match request.sort.direction {
        SortDirection::Ascending => "asc",
        SortDirection::Descending => "desc",
    };
    let mut query = format!(
        "limit={}&sort={}:{direction}&show-deleted={}",
        request.limit,
        request.sort.field.name(),
        request.show_deleted
    );
    if let Some(user) = &request.filter.user {
        query.push_str(&format!("&mdm-user={user}"));
    }
    if let Some(policy) = &request.filter.policy {
        query.push_str(&format!("&win-policy={policy}"));
    }
    query
}

//! Local development tokens: HS256 JWTs signed with the documented local secret.
//! Any JWT library can make the same token from the values below.

use std::collections::HashMap;

use chrono::Utc;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde::Serialize;

pub const DEV_SECRET: &str = "local-dev-secret-not-for-production";
pub const DEV_CURSOR_SECRET: &str = "local-cursor-secret-not-for-production";
pub const DEV_ISSUER: &str = "https://auth.local.test/";
pub const DEV_AUDIENCE: &str = "mdm-api";
pub const LIST_PERMISSION: &str = "mdm.windows.enrollmentToken.list";

#[derive(Serialize)]
struct DevClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    permissions: HashMap<String, Vec<String>>,
}

/// A token valid for `ttl_seconds` granting `permissions` in each organization of `grants`.
pub fn mint(grants: &[(String, Vec<String>)], ttl_seconds: i64) -> String {
    mint_with_secret(grants, ttl_seconds, DEV_SECRET)
}

pub fn mint_with_secret(
    grants: &[(String, Vec<String>)],
    ttl_seconds: i64,
    secret: &str,
) -> String {
    let now = Utc::now().timestamp();
    let claims = DevClaims {
        iss: DEV_ISSUER,
        aud: DEV_AUDIENCE,
        sub: "dev-admin@local.test",
        iat: now,
        exp: now + ttl_seconds,
        permissions: grants.iter().cloned().collect(),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()).expect("any bytes make an HS256 key"),
    )
    .expect("HS256 signing of plain claims cannot fail")
}

/// The setting `name` that makes the service accept dev tokens, for `Config::from_lookup`.
pub fn dev_setting(table: &str, name: &str) -> Option<String> {
    let value = match name {
        "TABLE_NAME" => table,
        "JWT_ISSUER" => DEV_ISSUER,
        "JWT_AUDIENCE" => DEV_AUDIENCE,
        "JWT_DEV_HS256_SECRET" => DEV_SECRET,
        "CURSOR_SECRET" => DEV_CURSOR_SECRET,
        _ => return None,
    };
    Some(value.to_string())
}

//! Settings read once at start-up from the environment; a missing or bad one stops initialisation
//! with a message that names it.

use std::env;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    pub auth: AuthConfig,
    /// Signs and checks cursors; every instance of a deployment must share it.
    pub cursor_secret: String,
}

/// An HMAC-SHA256 key should be at least as long as the hash.
pub const MIN_CURSOR_SECRET_BYTES: usize = 32;

#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// JWKS JSON with the public keys that production tokens are verified against.
    pub jwks: Option<String>,
    /// HS256 secret for local development only.
    pub dev_hs256_secret: Option<String>,
    pub leeway: Duration,
}

pub const MAX_LEEWAY_SECONDS: u64 = 60;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let present = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let required = |name: &str| {
            present(name).ok_or_else(|| ConfigError(format!("{name} is required but not set")))
        };
        let leeway = match present("JWT_LEEWAY_SECONDS") {
            None => 30,
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|seconds| *seconds <= MAX_LEEWAY_SECONDS)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "JWT_LEEWAY_SECONDS must be an integer from 0 to {MAX_LEEWAY_SECONDS}"
                    ))
                })?,
        };
        let auth = AuthConfig {
            issuer: required("JWT_ISSUER")?,
            audience: required("JWT_AUDIENCE")?,
            jwks: present("JWT_JWKS"),
            dev_hs256_secret: present("JWT_DEV_HS256_SECRET"),
            leeway: Duration::from_secs(leeway),
        };
        if auth.jwks.is_none() && auth.dev_hs256_secret.is_none() {
            return Err(ConfigError(
                "JWT_JWKS (or, for local development, JWT_DEV_HS256_SECRET) is required but not set"
                    .into(),
            ));
        }
        let cursor_secret = required("CURSOR_SECRET")?;
        if cursor_secret.len() < MIN_CURSOR_SECRET_BYTES {
            return Err(ConfigError(format!(
                "CURSOR_SECRET must be at least {MIN_CURSOR_SECRET_BYTES} bytes"
            )));
        }
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            auth,
            cursor_secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const BASE: [(&str, &str); 5] = [
        ("TABLE_NAME", "t"),
        ("JWT_ISSUER", "i"),
        ("JWT_AUDIENCE", "a"),
        ("JWT_DEV_HS256_SECRET", "s"),
        ("CURSOR_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn each_missing_setting_is_named() {
        for skip in [
            "TABLE_NAME",
            "JWT_ISSUER",
            "JWT_AUDIENCE",
            "JWT_DEV_HS256_SECRET",
            "CURSOR_SECRET",
        ] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != skip).collect();
            let message = config(&pairs).unwrap_err().to_string();
            assert!(message.contains(skip), "{message}");
        }
    }

    #[test]
    fn a_short_cursor_secret_is_refused() {
        let mut pairs = BASE.to_vec();
        pairs.retain(|(k, _)| *k != "CURSOR_SECRET");
        pairs.push(("CURSOR_SECRET", "too-short"));
        let message = config(&pairs).unwrap_err().to_string();
        assert!(
            message.contains("CURSOR_SECRET must be at least 32 bytes"),
            "{message}"
        );
    }

    #[test]
    fn leeway_is_bounded() {
        let mut pairs = BASE.to_vec();
        pairs.push(("JWT_LEEWAY_SECONDS", "61"));
        assert!(config(&pairs).is_err());
        pairs.pop();
        pairs.push(("JWT_LEEWAY_SECONDS", "60"));
        assert_eq!(config(&pairs).unwrap().auth.leeway, Duration::from_secs(60));
    }
}

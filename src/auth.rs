//! Bearer-token authentication and the permission check.
//!
//! Tokens are JWTs. Production verifies them against the public keys of a JWKS (chosen by `kid`),
//! local development against an HS256 secret. Claims the service reads:
//!
//! ```json
//! { "iss": "...", "aud": "...", "exp": 1767225600, "sub": "admin@example.com",
//!   "permissions": { "<24-hex organization id>": ["mdm.windows.enrollmentToken.list"] } }
//! ```
//!
//! A permission ending in `.*` grants every permission under that prefix (`mdm.windows.*`),
//! and `*` grants all.

use std::collections::HashMap;

use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{AuthConfig, ConfigError};
use crate::domain::ObjectId;
use crate::error::Error;

/// Asymmetric algorithms a JWKS key may use. HMAC is never accepted from a JWKS, so a public key
/// can never be used as an HMAC secret.
const PUBLIC_KEY_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Debug, Deserialize)]
pub struct Claims {
    pub sub: Option<String>,
    #[serde(default)]
    pub permissions: HashMap<String, Vec<String>>,
}

impl Claims {
    /// The permissions granted in `organization`, or `None` when it is not granted at all.
    pub fn grants(&self, organization: &ObjectId) -> Option<&[String]> {
        self.permissions
            .iter()
            .find(|(org, _)| org.eq_ignore_ascii_case(organization.as_str()))
            .map(|(_, permissions)| permissions.as_slice())
    }
}

/// Whether `granted` includes `required`, exactly or through a `prefix.*` / `*` wildcard.
pub fn permits(granted: &[String], required: &str) -> bool {
    granted.iter().any(|permission| {
        permission == required
            || permission == "*"
            || permission
                .strip_suffix('*')
                .is_some_and(|prefix| prefix.ends_with('.') && required.starts_with(prefix))
    })
}

struct VerificationKey {
    key: DecodingKey,
    validation: Validation,
}

pub struct Verifier {
    by_kid: HashMap<String, VerificationKey>,
    dev_hs256: Option<VerificationKey>,
}

impl Verifier {
    pub fn new(config: &AuthConfig) -> Result<Self, ConfigError> {
        let validation_for = |algorithm: Algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.leeway = config.leeway.as_secs();
            validation.validate_nbf = true;
            validation.set_issuer(&[&config.issuer]);
            validation.set_audience(&[&config.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
            validation
        };
        let mut by_kid = HashMap::new();
        if let Some(jwks) = &config.jwks {
            let set: JwkSet = serde_json::from_str(jwks)
                .map_err(|e| ConfigError(format!("JWT_JWKS is not a JWKS document: {e}")))?;
            for jwk in &set.keys {
                let kid = jwk
                    .common
                    .key_id
                    .clone()
                    .ok_or_else(|| ConfigError("JWT_JWKS: every key needs a \"kid\"".into()))?;
                let algorithm = jwk
                    .common
                    .key_algorithm
                    .and_then(public_key_algorithm)
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "JWT_JWKS: key {kid:?} needs an \"alg\" of RS*, PS*, ES256, ES384 or EdDSA"
                        ))
                    })?;
                let key = DecodingKey::from_jwk(jwk)
                    .map_err(|e| ConfigError(format!("JWT_JWKS: key {kid:?}: {e}")))?;
                by_kid.insert(
                    kid,
                    VerificationKey {
                        key,
                        validation: validation_for(algorithm),
                    },
                );
            }
        }
        let dev_hs256 = match &config.dev_hs256_secret {
            Some(secret) => Some(VerificationKey {
                key: DecodingKey::from_secret(secret.as_bytes())
                    .map_err(|e| ConfigError(format!("JWT_DEV_HS256_SECRET: {e}")))?,
                validation: validation_for(Algorithm::HS256),
            }),
            None => None,
        };
        Ok(Self { by_kid, dev_hs256 })
    }

    /// Verifies the value of the `Authorization` header.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Claims, Error> {
        let token = bearer_token(authorization)?;
        let header = decode_header(token)
            .map_err(|e| Error::InvalidToken(format!("malformed header: {e}")))?;
        let verification = if header.alg == Algorithm::HS256 {
            self.dev_hs256
                .as_ref()
                .ok_or_else(|| Error::InvalidToken("HS256 is not accepted here".into()))?
        } else {
            let kid = header
                .kid
                .as_deref()
                .ok_or_else(|| Error::InvalidToken("no kid in header".into()))?;
            self.by_kid
                .get(kid)
                .ok_or_else(|| Error::InvalidToken(format!("unknown kid {kid:?}")))?
        };
        decode::<Claims>(token, &verification.key, &verification.validation)
            .map(|data| data.claims)
            .map_err(|e| Error::InvalidToken(e.to_string()))
    }
}

fn public_key_algorithm(algorithm: KeyAlgorithm) -> Option<Algorithm> {
    Algorithm::try_from(algorithm)
        .ok()
        .filter(|algorithm| PUBLIC_KEY_ALGORITHMS.contains(algorithm))
}

/// Extracts the token of `Bearer <token>`; the scheme is case-insensitive.
fn bearer_token(authorization: Option<&str>) -> Result<&str, Error> {
    let value = authorization.map(str::trim).unwrap_or_default();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::NoAuthToken);
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() {
        return Err(Error::NoAuthToken);
    }
    if token.contains(char::is_whitespace) || token.contains(',') {
        return Err(Error::InvalidToken("more than one token".into()));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_grant_by_prefix_only() {
        let required = "mdm.windows.enrollmentToken.list";
        let grant = |p: &str| permits(&[p.to_string()], required);
        assert!(grant(required));
        assert!(grant("mdm.windows.*"));
        assert!(grant("mdm.*"));
        assert!(grant("*"));
        assert!(!grant("mdm.windows.enrollmentToken.get"));
        assert!(!grant("mdm.win*"));
        assert!(!grant("mdm.android.*"));
        assert!(!permits(&[], required));
    }

    #[test]
    fn bearer_scheme_any_case_and_missing_forms() {
        assert_eq!(bearer_token(Some("bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("BEARER  abc ")).unwrap(), "abc");
        for missing in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer   "),
            Some("Basic abc"),
        ] {
            assert!(
                matches!(bearer_token(missing), Err(Error::NoAuthToken)),
                "{missing:?}"
            );
        }
        assert!(matches!(
            bearer_token(Some("Bearer a b")),
            Err(Error::InvalidToken(_))
        ));
        assert!(matches!(
            bearer_token(Some("Bearer a,Bearer b")),
            Err(Error::InvalidToken(_))
        ));
    }
}

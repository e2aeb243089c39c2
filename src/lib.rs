//! List all Windows enrollment tokens: the service behind
//! `GET /v1/organizations/{organizationId}/mdm/windows/enterprise/enrollment-tokens/`.
//!
//! - [`domain`]: tokens, policies, users, page requests and pages; no AWS types.
//! - [`api`]: request parsing and validation, the handler, response bodies.
//! - [`store`]: the DynamoDB key design, every expression, the query engine and the write side.
//! - [`auth`]: JWT verification and the permission check.
//! - [`error`]: the one error type and its HTTP mapping.
//! - [`telemetry`]: the per-request log line and CloudWatch metrics.

pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod lambda;
pub mod store;
pub mod telemetry;

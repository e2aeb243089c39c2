//! Local development kit for the enrollment-tokens service: an embedded DynamoDB-compatible
//! engine (dynoxide) on loopback, demo data and fixtures, dev tokens, and an HTTP server that
//! runs the Lambda's own handler. Never linked into the Lambda binary.

pub mod bench;
pub mod bench_process;
pub mod demo;
pub mod dev_token;
pub mod engine;
pub mod faults;
pub mod fixture;
pub mod runtime_api;
pub mod server;

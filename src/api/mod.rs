//! The HTTP side: request parsing and validation, the handler, the response bodies.

mod handler;
mod request;
mod response;

pub use handler::App;
pub use request::{parse_request, route, ListRequest, OrganizationRef, REQUIRED_PERMISSION};
pub use response::error_response;

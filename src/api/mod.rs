//! The HTTP side: request parsing and validation, the handler, the response bodies.

mod cursor;
mod handler;
mod request;
mod response;

pub use handler::App;

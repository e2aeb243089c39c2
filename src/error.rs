//! The one error type of the service, and the one place it becomes an HTTP status and an error code.

use lambda_http::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request parameter is malformed; the message names it and what is allowed.
    #[error("{0}")]
    InvalidParameter(String),
    #[error("Entity not found")]
    NotFound,
    #[error("Route not found")]
    RouteNotFound,
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("No auth token")]
    NoAuthToken,
    /// The reason is logged, never sent: it would help an attacker tune a forged token.
    #[error("Invalid Token")]
    InvalidToken(String),
    #[error("Permission denied: {0} required")]
    Forbidden(&'static str),
    /// The database throttled or could not be reached; the client may retry.
    #[error("Service temporarily unavailable")]
    Unavailable(String),
    /// Anything else; the detail goes to the log with the request id.
    #[error("Internal server error")]
    Internal(String),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NoAuthToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The platform's error code, stable across releases.
    pub fn code(&self) -> u32 {
        match self {
            Self::Internal(_) => 1000,
            Self::Unavailable(_) => 1003,
            Self::InvalidParameter(_) => 2001,
            Self::MethodNotAllowed => 2002,
            Self::NotFound | Self::RouteNotFound => 3001,
            Self::NoAuthToken => 4002,
            Self::Forbidden(_) => 4003,
            Self::InvalidToken(_) => 4004,
        }
    }

    /// Detail for the log only (never the response body).
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::InvalidToken(detail) | Self::Unavailable(detail) | Self::Internal(detail) => {
                Some(detail)
            }
            _ => None,
        }
    }

    pub fn invalid(parameter: &str, allowed: &str) -> Self {
        Self::InvalidParameter(format!("Invalid parameter '{parameter}': {allowed}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_message() {
        let error = Error::Internal("ValidationException: secret table layout".into());
        assert_eq!(error.to_string(), "Internal server error");
        let error = Error::InvalidToken("InvalidSignature".into());
        assert_eq!(error.to_string(), "Invalid Token");
    }
}

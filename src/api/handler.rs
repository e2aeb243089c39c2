//! The handler every entry point calls: Lambda, the local server and the tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::http::header::AUTHORIZATION;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::cursor::CursorKey;
use super::request::{
    logged_parameters, parse_request, route, ListRequest, OrganizationRef, REQUIRED_PERMISSION,
};
use super::response::{error_response, json_response, page_body, Cursors};
use crate::auth::{permits, Claims, Verifier};
use crate::config::{Config, ConfigError};
use crate::domain::{Anchor, Clock, ObjectId, PageMeta, Position};
use crate::error::Error;
use crate::store::{ReadCost, ReadMeter, Store};
use crate::telemetry::{self, RequestSummary};

pub struct App {
    store: Store,
    verifier: Verifier,
    cursors: CursorKey,
    clock: Arc<dyn Clock>,
    /// Set by the first request this process serves.
    warm: AtomicBool,
    emit_metrics: bool,
    /// How long a request may take when the invocation carries no deadline (local runs, tests).
    default_budget: Duration,
}

/// Left for the runtime to send the answer before the invocation deadline.
const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

impl App {
    pub fn new(store: Store, config: &Config, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        Ok(Self {
            store,
            verifier: Verifier::new(&config.auth)?,
            cursors: CursorKey::new(config.cursor_secret.as_bytes()),
            clock,
            warm: AtomicBool::new(false),
            emit_metrics: false,
            default_budget: Duration::from_secs(10),
        })
    }

    /// Also write CloudWatch embedded-format metrics for every request (in Lambda).
    pub fn with_metrics(mut self, emit_metrics: bool) -> Self {
        self.emit_metrics = emit_metrics;
        self
    }

    /// The time a request may take when the invocation has no deadline of its own.
    pub fn with_default_budget(mut self, budget: Duration) -> Self {
        self.default_budget = budget;
        self
    }

    /// Until the Lambda deadline (less a margin), else the default budget. A deadline that is not a
    /// future epoch time (local emulators send a relative one) does not count.
    fn budget(&self, request: &Request) -> Duration {
        let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
        let deadline = request
            .lambda_context_ref()
            .map(|context| context.deadline)
            .filter(|deadline| *deadline > now_ms);
        match deadline {
            Some(deadline_ms) => {
                Duration::from_millis(deadline_ms - now_ms).saturating_sub(DEADLINE_MARGIN)
            }
            None => self.default_budget,
        }
    }

    pub async fn handle(&self, request: Request, request_id: &str) -> Response<Body> {
        self.handle_metered(request, request_id).await.0
    }

    /// The response, and what the request cost in DynamoDB reads (for benchmarks and tools).
    pub async fn handle_metered(
        &self,
        request: Request,
        request_id: &str,
    ) -> (Response<Body>, ReadCost) {
        let started = Instant::now();
        let meter = ReadMeter::default();
        let cold_start = !self.warm.swap(true, Ordering::Relaxed);
        let outcome = tokio::time::timeout(self.budget(&request), self.list(&request, &meter))
            .await
            .unwrap_or_else(|_| Err(Error::Unavailable("request budget exhausted".into())));
        let (response, organization, error_code) = match outcome {
            Ok((response, organization)) => (response, Some(organization), None),
            Err(error) => {
                if let Some(detail) = error.detail() {
                    if error.status().is_server_error() {
                        tracing::error!(request_id, code = error.code(), detail, "request failed");
                    } else {
                        tracing::info!(request_id, code = error.code(), detail, "request refused");
                    }
                }
                (error_response(&error, request_id), None, Some(error.code()))
            }
        };
        let summary = RequestSummary {
            request_id,
            organization: organization.as_ref().map(ObjectId::as_str),
            path: request.uri().path(),
            parameters: &logged_parameters(&request),
            status: response.status().as_u16(),
            error_code,
            cost: meter.total(),
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            cold_start,
        };
        telemetry::record(&summary, self.emit_metrics);
        (response, summary.cost)
    }

    async fn list(
        &self,
        request: &Request,
        meter: &ReadMeter,
    ) -> Result<(Response<Body>, ObjectId), Error> {
        let organization = route(request)?;
        let claims = self.authenticate(request)?;
        let ListRequest {
            organization,
            mut page,
            cursor,
        } = parse_request(request, &organization)?;
        let organization = self.authorize(&claims, &organization, meter).await?;
        let now = self.clock.now();
        if let Some(cursor) = cursor {
            let (number, anchor) = self.cursors.open(&cursor, &organization, &page, now)?;
            page.page = number;
            page.anchor = Some(anchor);
        }
        let listed = self.store.list_tokens(&organization, &page, meter).await?;
        let meta = PageMeta::new(listed.total_docs, &page);
        let cursor_to = |number: u64, from: &Option<Position>, backward: bool| {
            from.as_ref().map(|from| {
                let anchor = Anchor {
                    from: from.clone(),
                    backward,
                };
                self.cursors
                    .issue(&organization, &page, number, &anchor, now)
            })
        };
        let cursors = Cursors {
            next: meta
                .next_page
                .and_then(|next| cursor_to(next, &listed.last, false)),
            prev: meta
                .prev_page
                .and_then(|prev| cursor_to(prev, &listed.first, true)),
        };
        let body = page_body(&listed, &meta, cursors, now);
        Ok((json_response(StatusCode::OK, &body), organization))
    }

    fn authenticate(&self, request: &Request) -> Result<Claims, Error> {
        let mut values = request.headers().get_all(AUTHORIZATION).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(Error::InvalidToken(
                "more than one Authorization header".into(),
            ));
        }
        let value = first
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| Error::InvalidToken("not ASCII".into()))
            })
            .transpose()?;
        self.verifier.verify(value)
    }

    /// Resolves the organization and checks the permission. An organization the token does not
    /// grant is reported exactly like one that does not exist.
    async fn authorize(
        &self,
        claims: &Claims,
        reference: &OrganizationRef,
        meter: &ReadMeter,
    ) -> Result<ObjectId, Error> {
        // Slugs are never shaped like ids (the write side refuses them), so an id needs no lookup.
        let organization = match reference.as_id() {
            Some(id) => id,
            None => self
                .store
                .organization_by_slug(reference.as_slug(), meter)
                .await?
                .ok_or(Error::NotFound)?,
        };
        match claims.grants(&organization) {
            None => Err(Error::NotFound),
            Some(granted) if permits(granted, REQUIRED_PERMISSION) => Ok(organization),
            Some(_) => Err(Error::Forbidden(REQUIRED_PERMISSION)),
        }
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::lambda_runtime::Context;

    use super::*;

    fn app() -> App {
        let config = Config::from_lookup(|name| match name {
            "TABLE_NAME" => Some("t".into()),
            "JWT_ISSUER" | "JWT_AUDIENCE" | "JWT_DEV_HS256_SECRET" => Some("x".into()),
            "CURSOR_SECRET" => Some("c".repeat(32)),
            _ => None,
        })
        .unwrap();
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .build(),
        );
        App::new(
            Store::new(client, "t"),
            &config,
            Arc::new(crate::domain::SystemClock),
        )
        .unwrap()
        .with_default_budget(Duration::from_secs(7))
    }

    fn with_deadline(deadline: u64) -> Request {
        let mut context = Context::default();
        context.deadline = deadline;
        Request::default().with_lambda_context(context)
    }

    #[test]
    fn the_budget_ends_before_the_invocation_deadline() {
        let app = app();
        let now_ms = chrono::Utc::now().timestamp_millis() as u64;
        let budget = app.budget(&with_deadline(now_ms + 3_000));
        assert!(
            budget <= Duration::from_millis(2_700) && budget > Duration::from_secs(2),
            "{budget:?}"
        );
    }

    #[test]
    fn no_usable_deadline_means_the_default_budget() {
        let app = app();
        assert_eq!(app.budget(&Request::default()), Duration::from_secs(7));
        // cargo lambda watch sends a relative deadline ("600000"), not an epoch time.
        assert_eq!(app.budget(&with_deadline(600_000)), Duration::from_secs(7));
    }
}

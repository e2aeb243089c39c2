//! A plain HTTP server on loopback that turns each request into the `lambda_http::Request` the
//! Lambda runtime would build and answers it with the Lambda's own handler.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enrollment_tokens::api::App;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::{Body, RequestExt};
use tokio::net::TcpListener;

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(app: Arc<App>, listener: TcpListener) -> anyhow::Result<()> {
    let sequence = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let app = Arc::clone(&app);
        let sequence = Arc::clone(&sequence);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = Arc::clone(&app);
                let request_id = format!("local-{}", sequence.fetch_add(1, Ordering::Relaxed) + 1);
                async move { Ok::<_, Infallible>(answer(&app, request, &request_id).await) }
            });
            // A client that never finishes its headers is dropped, not waited for.
            if let Err(error) = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection closed");
            }
        });
    }
}

/// The request as the Lambda runtime hands it over: query parameters parsed into the extension.
pub fn lambda_request(parts: lambda_http::http::request::Parts) -> lambda_http::Request {
    let query: QueryMap = parts
        .uri
        .query()
        .unwrap_or_default()
        .parse()
        .unwrap_or_default();
    lambda_http::Request::from_parts(parts, Body::Empty).with_query_string_parameters(query)
}

async fn answer(
    app: &App,
    request: hyper::Request<Incoming>,
    request_id: &str,
) -> hyper::Response<Full<Bytes>> {
    let (parts, _) = request.into_parts();
    let (parts, body) = app
        .handle(lambda_request(parts), request_id)
        .await
        .into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

//! The Lambda entry point: build the app once, then hand every event to the shared handler.

use std::sync::Arc;

use enrollment_tokens::{lambda, telemetry};
use lambda_http::{run, service_fn, Error, Request, RequestExt};

// Lambda hands a process one event at a time, so worker threads would only add their start-up
// to every cold start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init_logs();
    let app = match lambda::init().await {
        Ok(app) => Arc::new(app),
        Err(error) => {
            lambda::report_init_error(&error).await;
            return Err(error);
        }
    };
    run(service_fn(move |request: Request| {
        let app = Arc::clone(&app);
        async move {
            let request_id = request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
                .unwrap_or_default();
            Ok::<_, Error>(app.handle(request, &request_id).await)
        }
    }))
    .await
}

//! The Lambda entry point: configuration, then the shared handler for every event.

use std::sync::Arc;

use enrollment_tokens::api::App;
use enrollment_tokens::auth::Verifier;
use enrollment_tokens::config::Config;
use enrollment_tokens::domain::SystemClock;
use enrollment_tokens::store::Store;
use lambda_http::{run, service_fn, Error, Request, RequestExt};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let verifier = Verifier::new(&config.auth)?;
    let store = Store::from_environment(&config.table_name).await;
    let app = Arc::new(App::new(store, verifier, Arc::new(SystemClock)));
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

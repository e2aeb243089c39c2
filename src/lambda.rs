//! What the Lambda binary does before its first event: build the app from the environment, and
//! report a failure to the Runtime API's init-error endpoint so it shows as `Runtime.InitError`
//! with a message that names the missing setting.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::PooledClient;

use crate::api::App;
use crate::config::Config;
use crate::domain::SystemClock;
use crate::store::Store;

const REPORT_TIMEOUT: Duration = Duration::from_secs(3);

pub type InitError = Box<dyn std::error::Error + Send + Sync>;

pub async fn init() -> Result<App, InitError> {
    let config = Config::from_env()?;
    let store = Store::from_environment(&config.table_name).await;
    Ok(App::new(store, &config, Arc::new(SystemClock))?.with_metrics(true))
}

pub async fn report_init_error(error: &InitError) {
    tracing::error!(error = %error, "initialisation failed");
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return;
    }
    let body = serde_json::json!({
        "errorType": "Runtime.InitError",
        "errorMessage": error.to_string(),
    });
    let request = lambda_http::http::Request::post("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()));
    let request = match request {
        Ok(request) => request,
        Err(failure) => return tracing::error!(%failure, "init error request"),
    };
    // The process must exit even if the Runtime API never answers.
    let call = PooledClient::builder().build().call(request);
    match tokio::time::timeout(REPORT_TIMEOUT, call).await {
        Ok(Ok(_)) => {}
        Ok(Err(failure)) => tracing::error!(%failure, "could not report the init error"),
        Err(_) => tracing::error!("the Runtime API did not take the init error in time"),
    }
}

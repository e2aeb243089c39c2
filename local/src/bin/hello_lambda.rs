//! The smallest lambda_http function: answers 200 "hello" to any request. It is the baseline
//! our `bootstrap`'s cold start and memory are compared to (same runtime, no app, no logging).

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}

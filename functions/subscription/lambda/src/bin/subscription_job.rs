//! The subscription run by hand (`POST /jobs/subscriptions`): wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_lambda::serve_http(&milkrun_subscription::JOBS_HTTP).await
}

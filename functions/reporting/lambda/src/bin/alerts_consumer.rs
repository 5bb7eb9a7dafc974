//! The admin alerts consumer Lambda (SQS, subscribed to the admin-alerts topic): wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_lambda::run_consumer(&milkrun_reporting::ALERTS_CONSUMER).await
}

//! The analytics consumer Lambda (SQS, subscribed to all six topics): wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_lambda::run_consumer(&milkrun_reporting::ANALYTICS_CONSUMER).await
}

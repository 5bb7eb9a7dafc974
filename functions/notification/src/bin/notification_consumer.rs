//! The notification consumer Lambda (SQS, subscribed to user-events): wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_lambda::run_consumer(&milkrun_notification::CONSUMER).await
}

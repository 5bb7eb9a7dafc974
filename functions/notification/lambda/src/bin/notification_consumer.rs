//! The notification consumer Lambda (SQS, subscribed to the user, order, payment, delivery
//! and admin-alert topics): wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_lambda::run_consumer(&milkrun_notification::CONSUMER).await
}

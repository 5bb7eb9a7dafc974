//! The outbox publisher Lambda (DynamoDB stream of the outbox table → SNS): wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_lambda::run_publisher().await
}

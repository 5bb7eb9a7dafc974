//! The scheduled resume-checkouts Lambda (EventBridge, every five minutes): wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_lambda::run_job(&milkrun_order::RESUME_CHECKOUTS).await
}

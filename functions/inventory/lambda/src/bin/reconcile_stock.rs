//! The scheduled reconcile Lambda (EventBridge, daily): wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_lambda::run_job(&milkrun_inventory::RECONCILE).await
}

//! The checkout-task Lambda every Task state of `statemachine/checkout.asl.json` calls:
//! wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_lambda::run_checkout_tasks(&milkrun_order::CHECKOUT_TASK_NEEDS).await
}

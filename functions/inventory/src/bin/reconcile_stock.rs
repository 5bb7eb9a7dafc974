//! The scheduled reconcile Lambda (EventBridge, daily): wiring only.

use lambda_runtime::{LambdaEvent, service_fn};
use milkrun_aws::{DynamoDbInventory, SnsBus, required_env, sdk_config};
use milkrun_inventory::{ReconcileReport, reconcile_stock};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_http::telemetry::init();
    let aws = sdk_config().await;
    let stock = DynamoDbInventory::new(
        aws_sdk_dynamodb::Client::new(&aws),
        required_env("INVENTORY_TABLE")?,
    );
    let events = SnsBus::from_env(aws_sdk_sns::Client::new(&aws));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (stock, events) = (&stock, &events);
        async move {
            // The scheduled event's id follows the run through every alert it causes.
            let correlation_id = event.payload["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or(event.context.request_id);
            let report: ReconcileReport = reconcile_stock(stock, events, &correlation_id)
                .await
                .map_err(|e| format!("reconcile failed: {e:?}"))?;
            Ok::<_, lambda_runtime::Error>(report)
        }
    }))
    .await
}

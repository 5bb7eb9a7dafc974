//! The inventory Lambda: wiring only.

use std::sync::Arc;

use milkrun_aws::{
    DynamoDbInventory, DynamoDbProducts, DynamoDbVendors, SnsBus, audit_trail, jwt_keys,
    required_env, sdk_config,
};
use milkrun_inventory::InventoryService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let keys = jwt_keys()?;
    let aws = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let service = InventoryService::new(
        Arc::new(DynamoDbInventory::new(
            dynamodb.clone(),
            required_env("INVENTORY_TABLE")?,
        )),
        Arc::new(DynamoDbProducts::new(
            dynamodb.clone(),
            required_env("PRODUCTS_TABLE")?,
        )),
        Arc::new(DynamoDbVendors::new(
            dynamodb.clone(),
            required_env("VENDORS_TABLE")?,
        )),
        Arc::new(SnsBus::from_env(aws_sdk_sns::Client::new(&aws))),
        audit_trail(&dynamodb)?,
    );
    milkrun_http::serve_lambda(milkrun_http::finish(
        milkrun_inventory::api(service).split_for_parts().0,
        keys,
    ))
    .await
}

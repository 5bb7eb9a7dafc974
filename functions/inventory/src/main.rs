//! The inventory Lambda: wiring only.

use std::sync::Arc;

use milkrun_aws::{CatalogStores, SnsBus, audit_trail, jwt_keys, sdk_config};
use milkrun_inventory::InventoryService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let keys = jwt_keys()?;
    let aws = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let catalog = CatalogStores::from_env(&dynamodb)?;
    let service = InventoryService::new(
        catalog.stock,
        catalog.products,
        catalog.vendors,
        Arc::new(SnsBus::from_env(aws_sdk_sns::Client::new(&aws))),
        audit_trail(&dynamodb)?,
    );
    milkrun_http::serve_lambda(milkrun_http::finish(
        milkrun_inventory::api(service).split_for_parts().0,
        keys,
    ))
    .await
}

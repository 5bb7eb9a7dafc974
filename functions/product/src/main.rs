//! The product Lambda: wiring only.

use std::sync::Arc;

use milkrun_aws::{
    DynamoDbInventory, DynamoDbProducts, DynamoDbVendors, audit_trail, jwt_keys, required_env,
    sdk_config,
};
use milkrun_product::ProductService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let keys = jwt_keys()?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let service = ProductService::new(
        Arc::new(DynamoDbProducts::new(
            dynamodb.clone(),
            required_env("PRODUCTS_TABLE")?,
        )),
        Arc::new(DynamoDbVendors::new(
            dynamodb.clone(),
            required_env("VENDORS_TABLE")?,
        )),
        Arc::new(DynamoDbInventory::new(
            dynamodb.clone(),
            required_env("INVENTORY_TABLE")?,
        )),
        audit_trail(&dynamodb)?,
    );
    milkrun_http::serve_lambda(milkrun_http::finish(
        milkrun_product::api(service).split_for_parts().0,
        keys,
    ))
    .await
}

//! The vendor Lambda: wiring only.

use std::sync::Arc;

use milkrun_aws::{DynamoDbVendors, audit_trail, jwt_keys, required_env, sdk_config};
use milkrun_vendor::VendorService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let keys = jwt_keys()?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let store = DynamoDbVendors::new(dynamodb.clone(), required_env("VENDORS_TABLE")?);
    let service = VendorService::new(Arc::new(store), audit_trail(&dynamodb)?);
    milkrun_http::serve_lambda(milkrun_http::finish(
        milkrun_vendor::api(service).split_for_parts().0,
        keys,
    ))
    .await
}

//! The vendor Lambda: wiring only.

use std::sync::Arc;

use milkrun_auth::JwtKeys;
use milkrun_auth::jwt::DEFAULT_ACCESS_TTL_SECS;
use milkrun_aws::{DynamoDbVendors, required_env, sdk_config};
use milkrun_vendor::VendorService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let keys = Arc::new(JwtKeys::new(
        required_env("MILKRUN_JWT_SECRET")?.as_bytes(),
        DEFAULT_ACCESS_TTL_SECS,
    )?);
    let aws = sdk_config().await;
    let store = DynamoDbVendors::new(
        aws_sdk_dynamodb::Client::new(&aws),
        required_env("VENDORS_TABLE")?,
    );
    let service = VendorService::new(Arc::new(store));
    milkrun_http::serve_lambda(milkrun_http::finish(
        milkrun_vendor::api(service).split_for_parts().0,
        keys,
    ))
    .await
}

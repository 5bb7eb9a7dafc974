//! The product Lambda: wiring only.

use milkrun_aws::{CatalogStores, audit_trail, jwt_keys, sdk_config};
use milkrun_product::ProductService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let keys = jwt_keys()?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let catalog = CatalogStores::from_env(&dynamodb)?;
    let service = ProductService::new(
        catalog.products,
        catalog.vendors,
        catalog.stock,
        audit_trail(&dynamodb)?,
    );
    milkrun_http::serve_lambda(milkrun_http::finish(
        milkrun_product::api(service).split_for_parts().0,
        keys,
    ))
    .await
}

//! The reporting Lambda: wiring only.

use milkrun_aws::{audit_trail, jwt_keys, sdk_config};
use milkrun_reporting::ReportingService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let keys = jwt_keys()?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let service = ReportingService {
        audit: audit_trail(&dynamodb)?,
    };
    milkrun_http::serve_lambda(milkrun_http::finish(
        milkrun_reporting::api(service).split_for_parts().0,
        keys,
    ))
    .await
}

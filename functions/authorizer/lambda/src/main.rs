//! API Gateway TOKEN authorizer: verifies the bearer JWT with the public key (read from its
//! SSM parameter at init) and answers an IAM policy plus the claims as context. Wiring only.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use lambda_runtime::{LambdaEvent, Runtime, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    milkrun_http::telemetry::init();
    let verifier = milkrun_lambda::secrets::verifier().await?;
    milkrun_lambda::run(Runtime::new(service_fn(
        |event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>| {
            let verifier = &verifier;
            async move { milkrun_authorizer::authorize(verifier, event.payload) }
        },
    )))
    .await
}

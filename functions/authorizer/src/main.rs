//! API Gateway TOKEN authorizer: verifies the bearer JWT with the same module every function
//! uses, and answers an IAM policy plus the claims as context. Wiring only.

use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerResponse,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use milkrun_auth::JwtKeys;
use milkrun_auth::jwt::DEFAULT_ACCESS_TTL_SECS;

#[tokio::main]
async fn main() -> Result<(), Error> {
    milkrun_http::telemetry::init();
    let secret = std::env::var("MILKRUN_JWT_SECRET")
        .map_err(|_| "missing required setting MILKRUN_JWT_SECRET")?;
    let keys = Arc::new(JwtKeys::new(secret.as_bytes(), DEFAULT_ACCESS_TTL_SECS)?);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>| {
            let keys = keys.clone();
            async move { authorize(&keys, event.payload) }
        },
    ))
    .await
}

fn authorize(
    keys: &JwtKeys,
    request: ApiGatewayCustomAuthorizerRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, Error> {
    milkrun_authorizer::decide(
        keys,
        request.authorization_token.as_deref(),
        request.method_arn.as_deref(),
    )
    .map_err(|denied| {
        tracing::info!(reason = %denied, "token refused");
        // API Gateway answers 401 exactly when the authorizer fails with "Unauthorized".
        Error::from("Unauthorized")
    })
}

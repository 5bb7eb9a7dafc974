//! The authorizer's decision, apart from the runtime so it can be tested directly.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use milkrun_auth::{TokenVerifier, bearer_token};
use serde_json::json;

/// The authorizer's answer to API Gateway: a policy, or the error API Gateway turns into 401.
pub fn authorize(
    verifier: &TokenVerifier,
    request: ApiGatewayCustomAuthorizerRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, lambda_runtime::Error> {
    decide(
        verifier,
        request.authorization_token.as_deref(),
        request.method_arn.as_deref(),
    )
    .map_err(|denied| {
        tracing::info!(reason = %denied, "token refused");
        // API Gateway answers 401 exactly when the authorizer fails with "Unauthorized".
        lambda_runtime::Error::from("Unauthorized")
    })
}

/// Allows the whole API (`arn:...:api/stage/*/*`) so API Gateway can cache the decision for
/// the token across routes; the functions still check roles and ownership per request,
/// against the account as it is now.
pub fn decide(
    verifier: &TokenVerifier,
    authorization: Option<&str>,
    method_arn: Option<&str>,
) -> Result<ApiGatewayCustomAuthorizerResponse, &'static str> {
    let token = authorization
        .and_then(bearer_token)
        .ok_or("no bearer token")?;
    let claims = verifier.verify_access(token).map_err(|_| "invalid token")?;
    let resource = api_wildcard(method_arn.ok_or("no method ARN")?);
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![resource];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(claims.sub.to_string());
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    response.policy_document = policy;
    response.context = json!({
        "userId": claims.sub.to_string(),
        "role": claims.role.as_str(),
        "vendorId": claims.vendor_id.map(|v| v.to_string()).unwrap_or_default(),
    });
    Ok(response)
}

/// `arn:aws:execute-api:region:account:api-id/stage/METHOD/path` → `.../api-id/stage/*/*`.
fn api_wildcard(method_arn: &str) -> String {
    let mut parts = method_arn.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) => format!("{api}/{stage}/*/*"),
        _ => method_arn.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use milkrun_auth::TokenSigner;
    use milkrun_domain::values::Role;
    use uuid::Uuid;

    use super::*;

    const ARN: &str = "arn:aws:execute-api:ap-south-1:123456789012:abc123/dev/GET/users/me";

    fn signer() -> TokenSigner {
        TokenSigner::from_seed([5; 32], 3600).unwrap()
    }

    fn verifier() -> TokenVerifier {
        signer().verifier()
    }

    #[test]
    fn valid_token_is_allowed_on_the_whole_stage_with_claims_as_context() {
        let user = Uuid::new_v4();
        let token = signer().issue_access(user, Role::Manager, None).unwrap();
        let response = decide(&verifier(), Some(&format!("Bearer {token}")), Some(ARN)).unwrap();
        assert_eq!(response.principal_id, Some(user.to_string()));
        let statement = &response.policy_document.statement[0];
        assert_eq!(statement.effect, IamPolicyEffect::Allow);
        assert_eq!(
            statement.resource,
            ["arn:aws:execute-api:ap-south-1:123456789012:abc123/dev/*/*"]
        );
        assert_eq!(response.context["role"], "MANAGER");
        assert_eq!(response.context["userId"], user.to_string());
    }

    #[test]
    fn missing_malformed_and_foreign_tokens_are_refused() {
        let foreign = TokenSigner::from_seed([6; 32], 3600).unwrap();
        let forged = foreign
            .issue_access(Uuid::new_v4(), Role::Admin, None)
            .unwrap();
        for header in [
            None,
            Some("Bearer"),
            Some("Basic abc"),
            Some("Bearer not.a.jwt"),
            Some(&*format!("Bearer {forged}")),
        ] {
            assert!(
                decide(&verifier(), header, Some(ARN)).is_err(),
                "{header:?} allowed"
            );
        }
    }
}

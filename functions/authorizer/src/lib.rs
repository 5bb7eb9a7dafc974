//! The authorizer's decision, apart from the runtime so it can be tested directly.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use milkrun_auth::JwtKeys;
use milkrun_auth::jwt::bearer_token;
use serde_json::json;

/// Allows the whole API (`arn:...:api/stage/*/*`) so API Gateway can cache the decision for
/// the token across routes; the functions still check roles and ownership per request.
pub fn decide(
    keys: &JwtKeys,
    authorization: Option<&str>,
    method_arn: Option<&str>,
) -> Result<ApiGatewayCustomAuthorizerResponse, &'static str> {
    let token = authorization
        .and_then(bearer_token)
        .ok_or("no bearer token")?;
    let claims = keys.verify_access(token).map_err(|_| "invalid token")?;
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
    use milkrun_domain::values::Role;
    use uuid::Uuid;

    use super::*;

    const ARN: &str = "arn:aws:execute-api:ap-south-1:123456789012:abc123/dev/GET/users/me";

    fn keys() -> JwtKeys {
        JwtKeys::new(b"0123456789abcdef0123456789abcdef", 3600).unwrap()
    }

    #[test]
    fn valid_token_is_allowed_on_the_whole_stage_with_claims_as_context() {
        let user = Uuid::new_v4();
        let token = keys().issue_access(user, Role::Manager, None).unwrap();
        let response = decide(&keys(), Some(&format!("Bearer {token}")), Some(ARN)).unwrap();
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
        let foreign = JwtKeys::new(b"another-secret-another-secret-32", 3600).unwrap();
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
                decide(&keys(), header, Some(ARN)).is_err(),
                "{header:?} allowed"
            );
        }
    }
}

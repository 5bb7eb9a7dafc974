//! `AuthUser`: the verified claims of the bearer token. Every function verifies the token
//! itself, behind the API Gateway authorizer or not, so no header can skip verification.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use milkrun_auth::jwt::bearer_token;
use milkrun_auth::{AccessClaims, JwtKeys};
use milkrun_domain::values::Role;
use uuid::Uuid;

use crate::error::ApiError;

/// The caller, as their verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub role: Role,
    pub vendor_id: Option<Uuid>,
}

impl From<AccessClaims> for AuthUser {
    fn from(claims: AccessClaims) -> Self {
        Self {
            user_id: claims.sub,
            role: claims.role,
            vendor_id: claims.vendor_id,
        }
    }
}

impl AuthUser {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden("Your role does not allow this action."))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require(&[Role::Admin])
    }
}

/// The verification keys, put into every request's extensions by [`crate::finish`].
#[derive(Clone)]
pub struct Verifier(pub Arc<JwtKeys>);

impl Verifier {
    /// The keys of the request, or a 500 if the router was never finished.
    pub(crate) fn keys(parts: &Parts) -> Result<Arc<JwtKeys>, ApiError> {
        parts
            .extensions
            .get::<Verifier>()
            .map(|verifier| verifier.0.clone())
            .ok_or_else(|| ApiError::internal(&"router was not finished with milkrun_http::finish"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let keys = Verifier::keys(parts)?;
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let token = bearer_token(header).ok_or_else(ApiError::unauthorized)?;
        let user: AuthUser = keys
            .verify_access(token)
            .map_err(|_| ApiError::unauthorized())?
            .into();
        tracing::Span::current().record("user_id", tracing::field::display(user.user_id));
        Ok(user)
    }
}

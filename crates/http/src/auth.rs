//! `AuthUser`: the caller, as their account is now. The bearer token only proves who is
//! calling (every function verifies it itself, behind the API Gateway authorizer or not, so
//! no header can skip verification); what the caller may do — role, vendor, whether the
//! account is active — is read from the account (cached for seconds), so a disabled,
//! demoted or moved account loses what it no longer has on every route.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use milkrun_auth::{KeyRing, bearer_token};
use milkrun_domain::ports::AccessLookup;
use milkrun_domain::values::Role;
use uuid::Uuid;

use crate::error::ApiError;

/// The caller, as their account is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub role: Role,
    pub vendor_id: Option<Uuid>,
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

/// What requests are authenticated and authorized with, put into every request's
/// extensions by [`crate::finish`].
#[derive(Clone)]
pub struct Auth {
    pub keys: Arc<KeyRing>,
    pub access: Arc<dyn AccessLookup>,
}

impl Auth {
    /// The request's `Auth`, or a 500 if the router was never finished.
    pub(crate) fn of(parts: &Parts) -> Result<Auth, ApiError> {
        parts
            .extensions
            .get::<Auth>()
            .cloned()
            .ok_or_else(|| ApiError::internal(&"router was not finished with milkrun_http::finish"))
    }
}

/// A token's `iat` as a time (a value chrono cannot hold counts as issued long ago).
fn issued_at(iat: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(iat, 0).unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = Auth::of(parts)?;
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let token = bearer_token(header).ok_or_else(ApiError::unauthorized)?;
        let claims = auth
            .keys
            .verifier
            .verify_access(token)
            .map_err(|_| ApiError::unauthorized())?;
        let access = auth
            .access
            .access_for_token(claims.sub, issued_at(claims.iat))
            .await
            .map_err(|e| ApiError::internal(&e))?
            .ok_or_else(ApiError::unauthorized)?;
        if !access.active {
            return Err(ApiError::forbidden("This account is disabled."));
        }
        tracing::Span::current().record("user_id", tracing::field::display(access.user_id));
        Ok(AuthUser {
            user_id: access.user_id,
            role: access.role,
            vendor_id: access.vendor_id,
        })
    }
}

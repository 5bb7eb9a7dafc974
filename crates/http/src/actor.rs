//! Who is acting, for the audit trail: the verified caller (or a guest), where the request
//! came from, and its correlation id.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use milkrun_domain::audit::AuditContext;

use crate::auth::AuthUser;
use crate::client::Origin;
use crate::error::ApiError;
use crate::request_ids::RequestIds;

/// An authenticated caller, with the audit context of this request.
pub struct Actor {
    pub user: AuthUser,
    pub audit: AuditContext,
}

/// An authenticated administrator. As an extractor it runs before the body and query are
/// read, so a caller without the role hears 403, never a validation error first.
pub struct AdminActor(pub Actor);

/// An authenticated caller with one of `roles`, checked before anything else is read.
pub fn require_role(
    actor: Actor,
    roles: &[milkrun_domain::values::Role],
) -> Result<Actor, ApiError> {
    actor.user.require(roles)?;
    Ok(actor)
}

impl<S: Send + Sync> FromRequestParts<S> for AdminActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let actor = Actor::from_request_parts(parts, state).await?;
        require_role(actor, &[milkrun_domain::values::Role::Admin]).map(AdminActor)
    }
}

/// An authenticated customer: carts, orders and payments are theirs. Checked before the
/// body is read, like [`AdminActor`].
pub struct CustomerActor(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for CustomerActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let actor = Actor::from_request_parts(parts, state).await?;
        require_role(actor, &[milkrun_domain::values::Role::Customer]).map(CustomerActor)
    }
}

/// A guest's audit context (registration, login, email verification).
pub struct GuestActor(pub AuditContext);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let Origin(origin) = Origin::from_request_parts(parts, state).await?;
        let audit = AuditContext {
            user_id: Some(user.user_id),
            role: Some(user.role),
            origin,
            correlation_id: RequestIds::correlation_id(),
        };
        Ok(Self { user, audit })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for GuestActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Origin(origin) = Origin::from_request_parts(parts, state).await?;
        Ok(Self(AuditContext {
            user_id: None,
            role: None,
            origin,
            correlation_id: RequestIds::correlation_id(),
        }))
    }
}

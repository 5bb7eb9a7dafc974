//! Who may read reports, checked before the query is read (so anyone else hears 403, never
//! a validation error first).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use milkrun_domain::values::Role;
use milkrun_http::{Actor, ApiError, AuthUser};
use uuid::Uuid;

/// How much of the reports a caller reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Admin,
    Manager,
    /// A VENDOR user whose account names its vendor: that vendor's figures only.
    Vendor(Uuid),
}

/// An admin, a manager, or a vendor's user.
pub struct ReportReader(pub Reach);

impl<S: Send + Sync> FromRequestParts<S> for ReportReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let actor = Actor::from_request_parts(parts, state).await?;
        reach_of(&actor.user).map(ReportReader)
    }
}

pub fn reach_of(user: &AuthUser) -> Result<Reach, ApiError> {
    match (user.role, user.vendor_id) {
        (Role::Admin, _) => Ok(Reach::Admin),
        (Role::Manager, _) => Ok(Reach::Manager),
        (Role::Vendor, Some(vendor_id)) => Ok(Reach::Vendor(vendor_id)),
        (Role::Vendor, None) => Err(ApiError::forbidden(
            "This vendor account is not linked to a vendor.",
        )),
        (Role::Customer, _) => Err(ApiError::forbidden("Your role does not allow this action.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_managers_and_linked_vendors_read_reports_and_no_one_else() {
        let v = Uuid::from_u128(9);
        let user = |role, vendor_id| AuthUser {
            user_id: Uuid::from_u128(1),
            role,
            vendor_id,
        };
        assert_eq!(reach_of(&user(Role::Admin, None)).ok(), Some(Reach::Admin));
        assert_eq!(
            reach_of(&user(Role::Manager, None)).ok(),
            Some(Reach::Manager)
        );
        assert_eq!(
            reach_of(&user(Role::Vendor, Some(v))).ok(),
            Some(Reach::Vendor(v))
        );
        assert!(reach_of(&user(Role::Vendor, None)).is_err());
        assert!(reach_of(&user(Role::Customer, Some(v))).is_err());
    }
}

//! The audit trail: who did what to which entity, when, from where. Append-only.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::ports::AuditLog;
use crate::user::ClientOrigin;
use crate::values::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Time-ordered (UUID v7).
    pub audit_id: Uuid,
    /// The caller; absent for a guest (a registration names the new user instead).
    pub user_id: Option<Uuid>,
    pub role: Option<Role>,
    /// What happened, e.g. `USER_REGISTERED`, `VENDOR_UPDATED`, `STOCK_ADJUSTED`.
    pub action: String,
    /// What kind of thing it happened to: `USER`, `VENDOR`, `PRODUCT`, `INVENTORY`.
    pub entity: String,
    pub entity_id: String,
    pub at: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
    pub region: Option<String>,
    pub correlation_id: String,
}

/// Who acted, and from where, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub user_id: Option<Uuid>,
    pub role: Option<Role>,
    pub origin: ClientOrigin,
    pub correlation_id: String,
}

impl AuditContext {
    /// The entry recording `action` on `entity` `entity_id`, now.
    pub fn entry(&self, action: &str, entity: &str, entity_id: impl ToString) -> AuditEntry {
        AuditEntry {
            audit_id: Uuid::now_v7(),
            user_id: self.user_id,
            role: self.role,
            action: action.to_owned(),
            entity: entity.to_owned(),
            entity_id: entity_id.to_string(),
            at: Utc::now(),
            ip: self.origin.ip.clone(),
            user_agent: self.origin.user_agent.clone(),
            region: self.origin.region.clone(),
            correlation_id: self.correlation_id.clone(),
        }
    }
}

/// How services write the trail: after the change it describes has been saved.
#[derive(Clone)]
pub struct AuditTrail {
    log: Arc<dyn AuditLog>,
}

impl AuditTrail {
    pub fn new(log: Arc<dyn AuditLog>) -> Self {
        Self { log }
    }

    /// Appends the entry for `action` on `entity` `entity_id`. The change already happened
    /// and is not undone if the trail cannot be written (the store's SDK has retried by
    /// then), so the entry is logged in full at error level instead, to be appended by hand.
    pub async fn record(
        &self,
        context: &AuditContext,
        action: &str,
        entity: &str,
        entity_id: impl ToString,
    ) {
        let entry = context.entry(action, entity, entity_id);
        if let Err(error) = self.log.append(&entry).await {
            tracing::error!(
                error = %error,
                entry = %serde_json::to_string(&entry).unwrap_or_default(),
                "audit entry not written"
            );
        }
    }

    pub async fn for_entity(
        &self,
        entity_id: &str,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.log.for_entity(entity_id, page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_who_what_when_where_and_the_correlation_id() {
        let context = AuditContext {
            user_id: Some(Uuid::from_u128(1)),
            role: Some(Role::Admin),
            origin: ClientOrigin {
                ip: "10.0.0.1".into(),
                user_agent: "ua".into(),
                region: Some("IN".into()),
            },
            correlation_id: "corr-1".into(),
        };
        let first = context.entry("VENDOR_UPDATED", "VENDOR", Uuid::from_u128(9));
        let second = context.entry("VENDOR_UPDATED", "VENDOR", Uuid::from_u128(9));
        assert_eq!(
            (first.role, first.ip.as_str(), first.region.as_deref()),
            (Some(Role::Admin), "10.0.0.1", Some("IN"))
        );
        assert_eq!(first.entity_id, Uuid::from_u128(9).to_string());
        assert!(first.audit_id < second.audit_id, "ids sort in time order");
    }
}

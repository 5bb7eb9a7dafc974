//! The audit trail: who did what to which entity, when, from where, and what changed.
//! Entries are written in the same transaction as the change they describe (see
//! [`crate::effects::Effects`]) and are never changed or removed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::user::ClientOrigin;
use crate::values::Role;

/// Fields no audit entry ever shows, whatever entity changed: secrets, and bookkeeping that
/// changes on every write.
const NEVER_RECORDED: [&str; 5] = [
    "passwordHash",
    "version",
    "updatedAt",
    "lastActiveAt",
    "devices",
];

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
    /// What changed: each changed field as `{before, after}` (a created entity's fields as
    /// `{after}`); a stock change also names its `operation` and `quantity`. Never a secret.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub changes: Value,
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
    /// The entry recording `action` on `entity` `entity_id`, now, with no change details.
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
            changes: Value::Object(Map::new()),
        }
    }

    /// A context for work no person asked for (bootstrap, scheduled jobs).
    pub fn system(correlation_id: &str, origin: &str) -> Self {
        Self {
            user_id: None,
            role: None,
            origin: ClientOrigin {
                ip: origin.to_owned(),
                user_agent: "milkrun".to_owned(),
                region: None,
            },
            correlation_id: correlation_id.to_owned(),
        }
    }
}

impl AuditEntry {
    pub fn with_changes(mut self, changes: Value) -> Self {
        self.changes = changes;
        self
    }
}

/// The top-level fields that differ between `before` and `after` (both serialized to JSON
/// objects), as `{field: {before, after}}`; `before: None` records a creation as
/// `{field: {after}}`. Secrets and bookkeeping fields are left out.
pub fn changed_fields<T: Serialize>(before: Option<&T>, after: &T) -> Value {
    let as_object = |value: &T| match serde_json::to_value(value) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    let after = as_object(after);
    let before = before.map(as_object);
    let mut changes = Map::new();
    for (field, new) in after {
        if NEVER_RECORDED.contains(&field.as_str()) {
            continue;
        }
        match &before {
            None => {
                changes.insert(field, serde_json::json!({ "after": new }));
            }
            Some(old) => {
                let old = old.get(&field).cloned().unwrap_or(Value::Null);
                if old != new {
                    changes.insert(field, serde_json::json!({ "before": old, "after": new }));
                }
            }
        }
    }
    Value::Object(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> AuditContext {
        AuditContext {
            user_id: Some(Uuid::from_u128(1)),
            role: Some(Role::Admin),
            origin: ClientOrigin {
                ip: "10.0.0.1".into(),
                user_agent: "ua".into(),
                region: Some("IN".into()),
            },
            correlation_id: "corr-1".into(),
        }
    }

    #[test]
    fn entries_carry_who_what_when_where_and_the_correlation_id() {
        let first = context().entry("VENDOR_UPDATED", "VENDOR", Uuid::from_u128(9));
        let second = context().entry("VENDOR_UPDATED", "VENDOR", Uuid::from_u128(9));
        assert_eq!(
            (first.role, first.ip.as_str(), first.region.as_deref()),
            (Some(Role::Admin), "10.0.0.1", Some("IN"))
        );
        assert_eq!(first.entity_id, Uuid::from_u128(9).to_string());
        assert!(first.audit_id < second.audit_id, "ids sort in time order");
    }

    #[test]
    fn changes_name_only_what_changed_and_never_secrets() {
        let before = serde_json::json!({"name": "A", "phone": null, "passwordHash": "$argon2id$x", "version": 1});
        let after = serde_json::json!({"name": "B", "phone": null, "passwordHash": "$argon2id$y", "version": 2});
        let changes = changed_fields(Some(&before), &after);
        assert_eq!(
            changes,
            serde_json::json!({"name": {"before": "A", "after": "B"}})
        );
        let created = changed_fields(None, &after);
        assert_eq!(created["name"], serde_json::json!({"after": "B"}));
        assert!(created.get("passwordHash").is_none() && created.get("version").is_none());
    }
}

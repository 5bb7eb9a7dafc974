//! Domain events in the SPEC §7 envelope, and the topics they travel on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The SNS topics (in-process channels locally) events are published to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topic {
    UserEvents,
    OrderEvents,
    PaymentEvents,
    DeliveryEvents,
    InventoryEvents,
    AdminAlerts,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::UserEvents,
        Topic::OrderEvents,
        Topic::PaymentEvents,
        Topic::DeliveryEvents,
        Topic::InventoryEvents,
        Topic::AdminAlerts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Topic::UserEvents => "user-events",
            Topic::OrderEvents => "order-events",
            Topic::PaymentEvents => "payment-events",
            Topic::DeliveryEvents => "delivery-events",
            Topic::InventoryEvents => "inventory-events",
            Topic::AdminAlerts => "admin-alerts",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    UserRegistered,
    UserLoggedIn,
    SuspiciousLogin,
    LowStock,
}

impl EventType {
    pub fn topic(self) -> Topic {
        match self {
            EventType::UserRegistered | EventType::UserLoggedIn | EventType::SuspiciousLogin => {
                Topic::UserEvents
            }
            EventType::LowStock => Topic::InventoryEvents,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserRegistered => "USER_REGISTERED",
            EventType::UserLoggedIn => "USER_LOGGED_IN",
            EventType::SuspiciousLogin => "SUSPICIOUS_LOGIN",
            EventType::LowStock => "LOW_STOCK",
        }
    }
}

/// `{eventId, eventType, version, occurredAt, correlationId, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub event_id: Uuid,
    pub event_type: EventType,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: String,
    pub data: serde_json::Value,
    /// Sends the event to another topic than its type's own (an admin alert); not serialized.
    #[serde(skip)]
    pub topic_override: Option<Topic>,
}

impl EventEnvelope {
    pub const VERSION: u32 = 1;

    pub fn new(event_type: EventType, correlation_id: &str, data: serde_json::Value) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type,
            version: Self::VERSION,
            occurred_at: Utc::now(),
            correlation_id: correlation_id.to_owned(),
            data,
            topic_override: None,
        }
    }

    /// The same event, sent to `topic` instead of its type's own.
    pub fn on(mut self, topic: Topic) -> Self {
        self.topic_override = Some(topic);
        self
    }

    pub fn topic(&self) -> Topic {
        self.topic_override
            .unwrap_or_else(|| self.event_type.topic())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_the_spec_field_names() {
        let envelope = EventEnvelope::new(
            EventType::SuspiciousLogin,
            "corr-1",
            serde_json::json!({"userId": "u"}),
        );
        let json = serde_json::to_value(&envelope).unwrap();
        for field in [
            "eventId",
            "eventType",
            "version",
            "occurredAt",
            "correlationId",
            "data",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["eventType"], "SUSPICIOUS_LOGIN");
        assert_eq!(envelope.topic().name(), "user-events");
        let alert = envelope.on(Topic::AdminAlerts);
        assert_eq!(alert.topic().name(), "admin-alerts");
        let json = serde_json::to_value(&alert).unwrap();
        assert!(
            json.get("topicOverride").is_none(),
            "routing is not part of the envelope"
        );
    }
}

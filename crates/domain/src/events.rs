//! Domain events: one payload type per event type, versioned, carried in the SPEC §7
//! envelope on the topic their type belongs to.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::inventory::InventoryRow;
use crate::user::ClientOrigin;
use crate::values::{Email, Role};

/// The SNS topics (in-process channels locally) events are published to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

    pub fn parse(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|topic| topic.name() == name)
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

/// A payload type: which event type it is, and which version of that type's shape.
pub trait Event: Serialize + DeserializeOwned {
    const TYPE: EventType;
    const VERSION: u32;
}

/// USER_REGISTERED v1: a new account, with what the welcome mail needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub ip: String,
    pub user_agent: String,
    #[serde(default)]
    pub region: Option<String>,
}

impl Event for UserRegistered {
    const TYPE: EventType = EventType::UserRegistered;
    const VERSION: u32 = 1;
}

/// Who signed in and from where (USER_LOGGED_IN and SUSPICIOUS_LOGIN v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginSeen {
    pub user_id: Uuid,
    pub ip: String,
    pub user_agent: String,
    #[serde(default)]
    pub region: Option<String>,
}

impl LoginSeen {
    pub fn new(user_id: Uuid, origin: &ClientOrigin) -> Self {
        Self {
            user_id,
            ip: origin.ip.clone(),
            user_agent: origin.user_agent.clone(),
            region: origin.region.clone(),
        }
    }
}

/// USER_LOGGED_IN v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserLoggedIn(pub LoginSeen);

impl Event for UserLoggedIn {
    const TYPE: EventType = EventType::UserLoggedIn;
    const VERSION: u32 = 1;
}

/// SUSPICIOUS_LOGIN v1: a sign-in from a device the account had not used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SuspiciousLogin(pub LoginSeen);

impl Event for SuspiciousLogin {
    const TYPE: EventType = EventType::SuspiciousLogin;
    const VERSION: u32 = 1;
}

/// LOW_STOCK v1: a stock row under its threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LowStock {
    pub vendor_id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub stock: u32,
    pub reserved: u32,
    pub low_stock_threshold: u32,
}

impl From<&InventoryRow> for LowStock {
    fn from(row: &InventoryRow) -> Self {
        Self {
            vendor_id: row.vendor_id,
            product_id: row.product_id,
            variant_id: row.variant_id,
            stock: row.stock,
            reserved: row.reserved,
            low_stock_threshold: row.low_stock_threshold,
        }
    }
}

impl Event for LowStock {
    const TYPE: EventType = EventType::LowStock;
    const VERSION: u32 = 1;
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

/// An envelope that does not carry the payload a consumer asked for.
#[derive(Debug, thiserror::Error)]
#[error("event {event_id} is {found} v{version}, not {expected} v{expected_version}: {detail}")]
pub struct EventMismatch {
    pub event_id: Uuid,
    pub found: &'static str,
    pub version: u32,
    pub expected: &'static str,
    pub expected_version: u32,
    pub detail: String,
}

impl EventEnvelope {
    /// A new event with a time-ordered id, occurring now.
    pub fn new<E: Event>(event: &E, correlation_id: &str) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: E::TYPE,
            version: E::VERSION,
            occurred_at: Utc::now(),
            correlation_id: correlation_id.to_owned(),
            data: serde_json::to_value(event).expect("event payloads serialize to JSON"),
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

    /// The payload, if this envelope carries an `E` of the version this code knows.
    pub fn decode<E: Event>(&self) -> Result<E, EventMismatch> {
        let mismatch = |detail: String| EventMismatch {
            event_id: self.event_id,
            found: self.event_type.as_str(),
            version: self.version,
            expected: E::TYPE.as_str(),
            expected_version: E::VERSION,
            detail,
        };
        if self.event_type != E::TYPE || self.version != E::VERSION {
            return Err(mismatch("another type or version".into()));
        }
        serde_json::from_value(self.data.clone()).map_err(|e| mismatch(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen() -> LoginSeen {
        LoginSeen {
            user_id: Uuid::from_u128(7),
            ip: "10.0.0.1".into(),
            user_agent: "ua".into(),
            region: None,
        }
    }

    #[test]
    fn envelope_has_the_spec_field_names() {
        let envelope = EventEnvelope::new(&SuspiciousLogin(seen()), "corr-1");
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
        assert_eq!(json["data"]["userId"], Uuid::from_u128(7).to_string());
        assert_eq!(envelope.topic().name(), "user-events");
        let alert = envelope.on(Topic::AdminAlerts);
        assert_eq!(alert.topic().name(), "admin-alerts");
        let json = serde_json::to_value(&alert).unwrap();
        assert!(
            json.get("topicOverride").is_none(),
            "routing is not part of the envelope"
        );
    }

    #[test]
    fn payloads_decode_only_as_their_own_type_and_version() {
        let envelope = EventEnvelope::new(&UserLoggedIn(seen()), "c");
        assert_eq!(envelope.decode::<UserLoggedIn>().unwrap().0, seen());
        assert!(envelope.decode::<SuspiciousLogin>().is_err());
        let mut newer = envelope.clone();
        newer.version = 2;
        assert!(newer.decode::<UserLoggedIn>().is_err(), "v2 is not v1");
        assert_eq!(Topic::parse("admin-alerts"), Some(Topic::AdminAlerts));
        assert_eq!(Topic::parse("nope"), None);
    }
}

//! Messages the platform sends people, kept so that each recipient can list their own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::events::{EventEnvelope, Topic};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    Email,
    Sms,
    InApp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationStatus {
    Sent,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Derived from the event and the message kind, so a redelivered event names the same
    /// notification.
    pub notification_id: Uuid,
    pub user_id: Uuid,
    pub channel: Channel,
    /// What kind of message, e.g. `WELCOME`.
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub status: NotificationStatus,
    /// When the event that caused it occurred (the list's order).
    pub created_at: DateTime<Utc>,
    /// The event it was made for.
    pub event_id: Uuid,
}

impl Notification {
    /// The id of the `kind` message made for `event_id`: the same on every redelivery.
    pub fn id_for(event_id: Uuid, kind: &str) -> Uuid {
        Uuid::new_v5(&event_id, kind.as_bytes())
    }
}

/// A delivery that kept failing, kept (locally) until it is replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// Time-ordered (UUID v7).
    pub dead_letter_id: Uuid,
    /// The consumer that failed.
    pub consumer: String,
    pub topic: Topic,
    pub event: EventEnvelope,
    /// The last failure, as logged.
    pub error: String,
    pub attempts: u32,
    pub failed_at: DateTime<Utc>,
}

//! The analytics log (SPEC §3 AnalyticsEvent, §6): every domain event kept for a year, read
//! by type and day. An entry is the event itself, taken from its envelope as it arrived.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::checkout::platform_today;
use crate::events::{EventEnvelope, EventType};
use crate::values::InvalidValue;

/// How long an entry is kept: SPEC says a year; 400 days leaves a year-on-year report of
/// the same day (and a leap year) something to read.
pub const RETENTION_DAYS: i64 = 400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsEvent {
    /// The event's own id: a redelivered event is the same entry.
    pub event_id: Uuid,
    pub event_type: EventType,
    /// Whose event it is: the `userId` of the event's data. Every type carries one (the
    /// customer, or the account that registered or signed in) except LOW_STOCK, which is a
    /// vendor's stock row, and events about no one in particular (absent then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// The event's payload as published (its version's shape).
    #[schema(value_type = Object)]
    pub data: Value,
    pub occurred_at: DateTime<Utc>,
}

impl AnalyticsEvent {
    /// The entry an event makes.
    pub fn of(event: &EventEnvelope) -> Self {
        let user_id = event
            .data
            .get("userId")
            .and_then(Value::as_str)
            .and_then(|raw| Uuid::parse_str(raw).ok());
        Self {
            event_id: event.event_id,
            event_type: event.event_type,
            user_id,
            data: event.data.clone(),
            occurred_at: event.occurred_at,
        }
    }

    /// The day it is listed under: when it occurred, in the platform's time zone.
    pub fn day(&self) -> NaiveDate {
        platform_today(self.occurred_at)
    }

    /// When it stops being kept ([`RETENTION_DAYS`] after it occurred).
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.occurred_at + Duration::days(RETENTION_DAYS)
    }
}

/// An event type as `?type=` names it: one of the SCREAMING_SNAKE_CASE names of SPEC §7.
pub fn parse_event_type(raw: &str) -> Result<EventType, InvalidValue> {
    serde_json::from_value(Value::String(raw.to_owned()))
        .map_err(|_| InvalidValue("must be one of the event types, e.g. ORDER_PLACED"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{LoginSeen, LowStock, UserLoggedIn};

    fn login() -> EventEnvelope {
        let seen = LoginSeen {
            user_id: Uuid::from_u128(9),
            ip: "10.0.0.1".into(),
            user_agent: "ua".into(),
            region: None,
        };
        EventEnvelope::new(&UserLoggedIn(seen), "corr")
    }

    #[test]
    fn an_entry_keeps_the_event_and_whose_it_is() {
        let mut envelope = login();
        // 19:00 UTC is already the next day in India.
        envelope.occurred_at = "2026-03-01T19:00:00Z".parse().unwrap();
        let entry = AnalyticsEvent::of(&envelope);
        assert_eq!(entry.event_id, envelope.event_id);
        assert_eq!(entry.event_type, EventType::UserLoggedIn);
        assert_eq!(entry.user_id, Some(Uuid::from_u128(9)));
        assert_eq!(entry.data, envelope.data);
        assert_eq!(entry.day(), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(
            entry.expires_at(),
            "2027-04-05T19:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["eventType"], "USER_LOGGED_IN");
        assert_eq!(json["userId"], Uuid::from_u128(9).to_string());
    }

    #[test]
    fn a_stock_row_is_nobodys() {
        let low = LowStock {
            vendor_id: Uuid::from_u128(1),
            product_id: Uuid::from_u128(2),
            variant_id: Uuid::from_u128(3),
            stock: 1,
            reserved: 0,
            low_stock_threshold: 5,
        };
        let entry = AnalyticsEvent::of(&EventEnvelope::new(&low, "corr"));
        assert_eq!(entry.user_id, None);
        assert!(
            serde_json::to_value(&entry)
                .unwrap()
                .get("userId")
                .is_none()
        );
    }

    #[test]
    fn types_are_named_as_published() {
        assert_eq!(
            parse_event_type("ORDER_PLACED").unwrap(),
            EventType::OrderPlaced
        );
        for bad in ["order_placed", "ORDER", "", "\"ORDER_PLACED\""] {
            assert!(parse_event_type(bad).is_err(), "{bad}");
        }
    }
}

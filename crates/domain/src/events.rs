//! Domain events: one payload type per event type, versioned, carried in the SPEC §7
//! envelope on the topic their type belongs to.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use chrono::NaiveDate;

use crate::delivery::{Delivery, DeliveryStatus};
use crate::inventory::InventoryRow;
use crate::money::Money;
use crate::order::{Order, OrderStatus};
use crate::payment::{Payment, PaymentStatus};
use crate::user::ClientOrigin;
use crate::values::{DeliverySlot, Email, PaymentMethod, Role};

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

/// What happened: the names events are published and listed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    UserRegistered,
    UserLoggedIn,
    SuspiciousLogin,
    LowStock,
    OrderPlaced,
    OrderConfirmed,
    OrderOnHold,
    OrderFailed,
    OrderCancelled,
    PaymentSucceeded,
    PaymentFailed,
    PaymentRefunded,
    DeliveryScheduled,
    DeliveryUpdated,
    FraudSuspected,
    OrderNeedsAttention,
    SubscriptionCreated,
    SubscriptionChanged,
    SubscriptionCancelled,
    SubscriptionDaySkipped,
    WalletToppedUp,
    WalletDebited,
    WalletRefunded,
    LowBalance,
    DailyReportReady,
    PromotionBatch,
}

impl EventType {
    pub fn topic(self) -> Topic {
        match self {
            EventType::UserRegistered | EventType::UserLoggedIn | EventType::SuspiciousLogin => {
                Topic::UserEvents
            }
            EventType::LowStock => Topic::InventoryEvents,
            EventType::OrderPlaced
            | EventType::OrderConfirmed
            | EventType::OrderOnHold
            | EventType::OrderFailed
            | EventType::OrderCancelled => Topic::OrderEvents,
            EventType::PaymentSucceeded | EventType::PaymentFailed | EventType::PaymentRefunded => {
                Topic::PaymentEvents
            }
            EventType::DeliveryScheduled | EventType::DeliveryUpdated => Topic::DeliveryEvents,
            // A report is operators' news: admin-alerts, which customers' mail never reads.
            EventType::FraudSuspected
            | EventType::OrderNeedsAttention
            | EventType::DailyReportReady => Topic::AdminAlerts,
            // No topic of their own: a subscription's news is order news, a wallet's is
            // payment news (SPEC §7 names six topics).
            EventType::SubscriptionCreated
            | EventType::SubscriptionChanged
            | EventType::SubscriptionCancelled
            | EventType::SubscriptionDaySkipped => Topic::OrderEvents,
            EventType::WalletToppedUp
            | EventType::WalletDebited
            | EventType::WalletRefunded
            | EventType::LowBalance => Topic::PaymentEvents,
            // Promotions are messages to users: the notification consumer, which reads
            // user events, sends them.
            EventType::PromotionBatch => Topic::UserEvents,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserRegistered => "USER_REGISTERED",
            EventType::UserLoggedIn => "USER_LOGGED_IN",
            EventType::SuspiciousLogin => "SUSPICIOUS_LOGIN",
            EventType::LowStock => "LOW_STOCK",
            EventType::OrderPlaced => "ORDER_PLACED",
            EventType::OrderConfirmed => "ORDER_CONFIRMED",
            EventType::OrderOnHold => "ORDER_ON_HOLD",
            EventType::OrderFailed => "ORDER_FAILED",
            EventType::OrderCancelled => "ORDER_CANCELLED",
            EventType::PaymentSucceeded => "PAYMENT_SUCCEEDED",
            EventType::PaymentFailed => "PAYMENT_FAILED",
            EventType::PaymentRefunded => "PAYMENT_REFUNDED",
            EventType::DeliveryScheduled => "DELIVERY_SCHEDULED",
            EventType::DeliveryUpdated => "DELIVERY_UPDATED",
            EventType::FraudSuspected => "FRAUD_SUSPECTED",
            EventType::OrderNeedsAttention => "ORDER_NEEDS_ATTENTION",
            EventType::SubscriptionCreated => "SUBSCRIPTION_CREATED",
            EventType::SubscriptionChanged => "SUBSCRIPTION_CHANGED",
            EventType::SubscriptionCancelled => "SUBSCRIPTION_CANCELLED",
            EventType::SubscriptionDaySkipped => "SUBSCRIPTION_DAY_SKIPPED",
            EventType::WalletToppedUp => "WALLET_TOPPED_UP",
            EventType::WalletDebited => "WALLET_DEBITED",
            EventType::WalletRefunded => "WALLET_REFUNDED",
            EventType::LowBalance => "LOW_BALANCE",
            EventType::DailyReportReady => "DAILY_REPORT_READY",
            EventType::PromotionBatch => "PROMOTION_BATCH",
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

/// Event types that share one payload shape: each is a newtype of it, v1.
macro_rules! events_of {
    ($payload:ty: $($(#[$doc:meta])* $name:ident,)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $payload);

        impl Event for $name {
            const TYPE: EventType = EventType::$name;
            const VERSION: u32 = 1;
        }
    )+};
}

/// What the ORDER_* events carry: enough for the customer's message, the vendors' and the
/// reports, without reading the order back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderNews {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    pub total: Money,
    pub delivery_date: NaiveDate,
    pub delivery_slot: DeliverySlot,
    pub payment_method: PaymentMethod,
    /// The vendors delivering the fulfilled items.
    pub vendor_ids: Vec<Uuid>,
    /// Why it moved (the status history's reason): what a FAILED order's customer must fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The subscription the nightly run placed it for (the evening-before confirmation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<Uuid>,
    /// What comes: "2 × Toned milk 1L" per fulfilled line (the confirmation names it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

impl OrderNews {
    pub fn of(order: &Order) -> Self {
        Self {
            order_id: order.order_id,
            user_id: order.user_id,
            status: order.status,
            total: order.total,
            delivery_date: order.delivery_date,
            delivery_slot: order.delivery_slot,
            payment_method: order.payment_method,
            vendor_ids: order.vendor_ids(),
            reason: order.status_history.last().and_then(|c| c.reason.clone()),
            subscription_id: order.subscription_id,
            items: order
                .items
                .iter()
                .filter(|item| item.fulfilled)
                .map(|item| format!("{} × {} {}", item.quantity, item.name, item.variant_name))
                .collect(),
        }
    }
}

events_of!(OrderNews:
    /// ORDER_PLACED v1: written PENDING; checkout starts.
    OrderPlaced,
    /// ORDER_CONFIRMED v1: paid (or COD) and confirmed.
    OrderConfirmed,
    /// ORDER_ON_HOLD v1: a fraud rule fired; a manager decides.
    OrderOnHold,
    /// ORDER_FAILED v1: checkout could not go ahead (`reason` says why).
    OrderFailed,
    /// ORDER_CANCELLED v1: by its owner, a manager's reject, an admin or a failed delivery.
    OrderCancelled,
    /// ORDER_NEEDS_ATTENTION v1 (admin-alerts): the checkout could not finish the order by
    /// itself (`reason`): its runs kept dying and it was ended (CHECKOUT_STALLED), or its
    /// refund kept failing and it is CANCELLED with the money still taken (REFUND_FAILED).
    OrderNeedsAttention,
);

/// What the PAYMENT_* events carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentNews {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub amount: Money,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

impl PaymentNews {
    pub fn of(payment: &Payment) -> Self {
        Self {
            payment_id: payment.payment_id,
            order_id: payment.order_id,
            user_id: payment.user_id,
            amount: payment.amount,
            method: payment.method,
            status: payment.status,
            failure_reason: payment.failure_reason.clone(),
        }
    }
}

events_of!(PaymentNews:
    /// PAYMENT_SUCCEEDED v1.
    PaymentSucceeded,
    /// PAYMENT_FAILED v1: declined; the customer may retry with POST /payments.
    PaymentFailed,
    /// PAYMENT_REFUNDED v1.
    PaymentRefunded,
);

/// What the DELIVERY_* events carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryNews {
    pub delivery_id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub vendor_id: Uuid,
    pub status: DeliveryStatus,
    pub delivery_date: NaiveDate,
    pub delivery_slot: DeliverySlot,
}

impl DeliveryNews {
    pub fn of(delivery: &Delivery) -> Self {
        Self {
            delivery_id: delivery.delivery_id,
            order_id: delivery.order_id,
            user_id: delivery.user_id,
            vendor_id: delivery.vendor_id,
            status: delivery.status,
            delivery_date: delivery.delivery_date,
            delivery_slot: delivery.delivery_slot,
        }
    }
}

events_of!(DeliveryNews:
    /// DELIVERY_SCHEDULED v1: the vendor's new assignment, and the customer's round.
    DeliveryScheduled,
    /// DELIVERY_UPDATED v1: each later status.
    DeliveryUpdated,
);

/// FRAUD_SUSPECTED v1 (admin-alerts): an order held for a manager, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FraudSuspected {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub total: Money,
    pub reasons: Vec<String>,
}

impl Event for FraudSuspected {
    const TYPE: EventType = EventType::FraudSuspected;
    const VERSION: u32 = 1;
}

events_of!(crate::subscription::Subscription:
    /// SUBSCRIPTION_CREATED v1: the subscription as made.
    SubscriptionCreated,
    /// SUBSCRIPTION_CHANGED v1: the subscription after a pause, resume, change, day change.
    SubscriptionChanged,
    /// SUBSCRIPTION_CANCELLED v1: the subscription as it ended.
    SubscriptionCancelled,
);

/// SUBSCRIPTION_DAY_SKIPPED v1: the nightly run could not serve a due day, and why (the
/// customer is told).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionDaySkipped {
    pub subscription_id: Uuid,
    pub user_id: Uuid,
    pub date: NaiveDate,
    /// OUT_OF_STOCK, NO_VENDOR_AVAILABLE, INSUFFICIENT_BALANCE, PRODUCT_UNAVAILABLE, …
    pub reason: String,
    pub message: String,
}

impl Event for SubscriptionDaySkipped {
    const TYPE: EventType = EventType::SubscriptionDaySkipped;
    const VERSION: u32 = 1;
}

/// What the WALLET_* events carry: the entry and whose wallet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletNews {
    pub user_id: Uuid,
    pub entry: crate::wallet::LedgerEntry,
}

events_of!(WalletNews:
    /// WALLET_TOPPED_UP v1: a top-up credited.
    WalletToppedUp,
    /// WALLET_DEBITED v1: an order paid from the wallet.
    WalletDebited,
    /// WALLET_REFUNDED v1: what an order took, given back.
    WalletRefunded,
);

/// LOW_BALANCE v1: after a run, the balance covers fewer than the next 3 due days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LowBalance {
    pub user_id: Uuid,
    pub balance: Money,
    /// The run's delivery date (one message per customer per run).
    pub date: NaiveDate,
}

impl Event for LowBalance {
    const TYPE: EventType = EventType::LowBalance;
    const VERSION: u32 = 1;
}

/// PROMOTION_BATCH v1: the next batch of a promotion's recipients is due. Committed with
/// the promotion (the first) or with the previous batch's progress (each next one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionBatch {
    pub promotion_id: Uuid,
    /// Batches finished before this one: a redelivered or stale batch event is recognised.
    pub batch: u64,
}

impl Event for PromotionBatch {
    const TYPE: EventType = EventType::PromotionBatch;
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

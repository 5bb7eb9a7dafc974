//! The order consumer: ORDER_*, PAYMENT_*, DELIVERY_* and FRAUD_SUSPECTED events become
//! messages to the customer, the vendor or the managers, each mailed and kept as a
//! notification under an id derived from the event and its kind, so a redelivered event
//! makes no second notification (mail is at least once, as for the welcome mail).
//!
//! ORDER_PLACED and PAYMENT_SUCCEEDED make no message: the customer has just made the call
//! that caused them, and the outcome follows as ORDER_CONFIRMED, ORDER_ON_HOLD, ORDER_FAILED
//! or PAYMENT_FAILED. They are not wanted.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use milkrun_domain::delivery::DeliveryStatus;
use milkrun_domain::events::{
    DeliveryScheduled, DeliveryUpdated, EventEnvelope, EventMismatch, EventType, FraudSuspected,
    LowBalance, OrderCancelled, OrderConfirmed, OrderFailed, OrderNews, OrderOnHold, PaymentFailed,
    PaymentRefunded, SubscriptionDaySkipped, WalletToppedUp,
};
use milkrun_domain::notification::{Channel, Notification, NotificationStatus};
use milkrun_domain::ports::{
    EventHandler, Mail, Mailer, NotificationStore, UserLookup, VendorReads,
};
use milkrun_domain::values::{DeliverySlot, Email, PaymentMethod};
use milkrun_domain::{DomainError, StoreError};
use uuid::Uuid;

pub const ORDER_CONFIRMED: &str = "ORDER_CONFIRMED";
pub const ORDER_ON_HOLD: &str = "ORDER_ON_HOLD";
pub const ORDER_FAILED: &str = "ORDER_FAILED";
pub const ORDER_CANCELLED: &str = "ORDER_CANCELLED";
pub const PAYMENT_FAILED: &str = "PAYMENT_FAILED";
pub const PAYMENT_REFUNDED: &str = "PAYMENT_REFUNDED";
pub const DELIVERY_SCHEDULED: &str = "DELIVERY_SCHEDULED";
pub const DELIVERY_UPDATED: &str = "DELIVERY_UPDATED";
/// The vendor's copy of DELIVERY_SCHEDULED: a new assignment.
pub const VENDOR_ASSIGNMENT: &str = "VENDOR_ASSIGNMENT";
pub const FRAUD_SUSPECTED: &str = "FRAUD_SUSPECTED";
/// A subscription's order confirmed the evening before its delivery.
pub const SUBSCRIPTION_CONFIRMED: &str = "SUBSCRIPTION_CONFIRMED";
pub const SUBSCRIPTION_DAY_SKIPPED: &str = "SUBSCRIPTION_DAY_SKIPPED";
pub const LOW_BALANCE: &str = "LOW_BALANCE";
pub const WALLET_TOPPED_UP: &str = "WALLET_TOPPED_UP";

/// The recipient id of the managers' alerts (SPEC §3: a notification's owner is a userId, a
/// vendorId or `admin`).
pub const ADMIN: Uuid = Uuid::nil();

/// The event types that make a message.
pub const WANTED: [EventType; 12] = [
    EventType::OrderConfirmed,
    EventType::OrderOnHold,
    EventType::OrderFailed,
    EventType::OrderCancelled,
    EventType::PaymentFailed,
    EventType::PaymentRefunded,
    EventType::DeliveryScheduled,
    EventType::DeliveryUpdated,
    EventType::FraudSuspected,
    EventType::SubscriptionDaySkipped,
    EventType::LowBalance,
    EventType::WalletToppedUp,
];

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// Mailed at the account's address, kept under the userId.
    Customer(Uuid),
    /// Mailed at the vendor's address, kept under the vendorId (a vendor's users list it
    /// there, without this consumer looking them up).
    Vendor(Uuid),
    /// The managers. No admin mailbox is configured for this consumer (the only admin
    /// address in the settings comes with the bootstrap admin's password, which this
    /// function must not hold), so an alert is logged and kept under [`ADMIN`] (`IN_APP`),
    /// not mailed.
    Admin,
}

impl Recipient {
    /// The id the notification is kept under.
    pub fn owner(self) -> Uuid {
        match self {
            Recipient::Customer(id) | Recipient::Vendor(id) => id,
            Recipient::Admin => ADMIN,
        }
    }
}

/// One message an event makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: &'static str,
    pub to: Recipient,
    pub subject: String,
    pub body: String,
}

fn message(kind: &'static str, to: Recipient, subject: &str, body: String) -> Message {
    Message {
        kind,
        to,
        subject: subject.into(),
        body,
    }
}

/// The messages `event` makes (none for a type not in [`WANTED`]): all the text is here.
pub fn messages(event: &EventEnvelope) -> Result<Vec<Message>, EventMismatch> {
    use Recipient::{Admin, Customer, Vendor};
    let order = |news: &OrderNews| format!("Your order {} of {}", news.order_id, news.total);
    Ok(match event.event_type {
        EventType::OrderConfirmed if is_subscription_order(event) => {
            let o = event.decode::<OrderConfirmed>()?.0;
            let body = format!(
                "{}, {} slot: {}, {} ({}); order {}.",
                day(o.delivery_date),
                slot(o.delivery_slot),
                o.items.join(", "),
                o.total,
                paid(o.payment_method),
                o.order_id
            );
            vec![message(
                SUBSCRIPTION_CONFIRMED,
                Customer(o.user_id),
                "Tomorrow's delivery is confirmed",
                body,
            )]
        }
        EventType::OrderConfirmed => {
            let o = event.decode::<OrderConfirmed>()?.0;
            let body = format!(
                "{} is confirmed. It will be delivered on {}, {} slot; payment: {}.",
                order(&o),
                day(o.delivery_date),
                slot(o.delivery_slot),
                method(o.payment_method)
            );
            vec![message(
                ORDER_CONFIRMED,
                Customer(o.user_id),
                "Your order is confirmed",
                body,
            )]
        }
        EventType::OrderOnHold => {
            let o = event.decode::<OrderOnHold>()?.0;
            let body = format!(
                "{} is on hold while our team reviews it. We will write again once it is \
                 confirmed or cancelled.",
                order(&o)
            );
            vec![message(
                ORDER_ON_HOLD,
                Customer(o.user_id),
                "Your order is being reviewed",
                body,
            )]
        }
        EventType::OrderFailed => {
            let o = event.decode::<OrderFailed>()?.0;
            let body = format!(
                "{} could not be placed: {}",
                order(&o),
                what_to_fix(o.reason.as_deref())
            );
            vec![message(
                ORDER_FAILED,
                Customer(o.user_id),
                "Your order could not be placed",
                body,
            )]
        }
        EventType::OrderCancelled => {
            let o = event.decode::<OrderCancelled>()?.0;
            let why = o
                .reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let body = format!(
                "{} was cancelled{why}. Anything you paid for it is refunded.",
                order(&o)
            );
            vec![message(
                ORDER_CANCELLED,
                Customer(o.user_id),
                "Your order was cancelled",
                body,
            )]
        }
        EventType::PaymentFailed => {
            let p = event.decode::<PaymentFailed>()?.0;
            let why = p
                .failure_reason
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let body = format!(
                "The payment of {} by {} for order {} did not go through{why}. You can retry \
                 it, with the same or another method: POST /payments for order {}.",
                p.amount,
                method(p.method),
                p.order_id,
                p.order_id
            );
            vec![message(
                PAYMENT_FAILED,
                Customer(p.user_id),
                "Your payment did not go through",
                body,
            )]
        }
        EventType::PaymentRefunded => {
            let p = event.decode::<PaymentRefunded>()?.0;
            let body = format!(
                "{} paid by {} for order {} has been refunded.",
                p.amount,
                method(p.method),
                p.order_id
            );
            vec![message(
                PAYMENT_REFUNDED,
                Customer(p.user_id),
                "Your refund is on its way",
                body,
            )]
        }
        EventType::DeliveryScheduled => {
            let d = event.decode::<DeliveryScheduled>()?.0;
            let when = format!("{}, {} slot", day(d.delivery_date), slot(d.delivery_slot));
            vec![
                message(
                    DELIVERY_SCHEDULED,
                    Customer(d.user_id),
                    "Your delivery is scheduled",
                    format!("Order {} will be delivered on {when}.", d.order_id),
                ),
                message(
                    VENDOR_ASSIGNMENT,
                    Vendor(d.vendor_id),
                    "New delivery assignment",
                    format!(
                        "Delivery {} (order {}) is yours for {when}: it is on that round.",
                        d.delivery_id, d.order_id
                    ),
                ),
            ]
        }
        EventType::DeliveryUpdated => {
            let d = event.decode::<DeliveryUpdated>()?.0;
            let body = format!(
                "Your delivery of order {} for {} {}.",
                d.order_id,
                day(d.delivery_date),
                progress(d.status)
            );
            vec![message(
                DELIVERY_UPDATED,
                Customer(d.user_id),
                "Your delivery has news",
                body,
            )]
        }
        EventType::FraudSuspected => {
            let f = event.decode::<FraudSuspected>()?;
            let body = format!(
                "Order {} of customer {} for {} is on hold: {}. Decide it with \
                 POST /orders/{}/approve or /reject.",
                f.order_id,
                f.user_id,
                f.total,
                f.reasons.join("; "),
                f.order_id
            );
            vec![message(
                FRAUD_SUSPECTED,
                Admin,
                "An order is held for review",
                body,
            )]
        }
        EventType::SubscriptionDaySkipped => {
            let s = event.decode::<SubscriptionDaySkipped>()?;
            let body = format!(
                "Your subscription {} brings nothing on {}: {}",
                s.subscription_id,
                day(s.date),
                s.message
            );
            vec![message(
                SUBSCRIPTION_DAY_SKIPPED,
                Customer(s.user_id),
                "A delivery of your subscription is skipped",
                body,
            )]
        }
        EventType::LowBalance => {
            let l = event.decode::<LowBalance>()?;
            let body = format!(
                "Your wallet holds {}, less than your next three deliveries need. Top it up                  (POST /wallet/topups) so that they come.",
                l.balance
            );
            vec![message(
                LOW_BALANCE,
                Customer(l.user_id),
                "Your wallet is running low",
                body,
            )]
        }
        EventType::WalletToppedUp => {
            let w = event.decode::<WalletToppedUp>()?.0;
            let body = format!(
                "{} was added to your wallet; it now holds {}.",
                w.entry.amount, w.entry.balance_after
            );
            vec![message(
                WALLET_TOPPED_UP,
                Customer(w.user_id),
                "Your wallet is topped up",
                body,
            )]
        }
        _ => Vec::new(),
    })
}

/// Whether an ORDER_* event is about an order the subscription run placed.
fn is_subscription_order(event: &EventEnvelope) -> bool {
    event
        .data
        .get("subscriptionId")
        .is_some_and(|id| !id.is_null())
}

/// What a FAILED order's customer must fix, by the reason checkout gave.
fn what_to_fix(reason: Option<&str>) -> String {
    match reason {
        Some("PROFILE_INCOMPLETE") => "your profile is incomplete. Add your phone number \
            (PATCH /users/me) and a delivery address (PUT /users/me/addresses/{label}), then \
            order again."
            .into(),
        Some("OUT_OF_STOCK") => "an item is out of stock. Lower its quantity or remove it, or \
            order again with allowPartial to take what is available."
            .into(),
        Some("NO_VENDOR_AVAILABLE") => "no vendor can deliver an item to your address on that \
            date and slot. Try another date, slot or address."
            .into(),
        Some("PAYMENT_DECLINED") => {
            "your payment was declined. Order again with another card or payment method.".into()
        }
        Some(other) => format!("something went wrong ({other}). Please order again."),
        None => "something went wrong. Please order again.".into(),
    }
}

/// Where a delivery is, as a customer reads it.
fn progress(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Scheduled => "is scheduled",
        DeliveryStatus::Assigned => "has a driver",
        DeliveryStatus::PickedUp => "has been picked up",
        DeliveryStatus::InTransit => "is on its way",
        DeliveryStatus::Delivered => "has been delivered",
        DeliveryStatus::Failed => {
            "could not be made; the order is cancelled and anything you paid is refunded"
        }
    }
}

/// How a confirmed order is paid, as its confirmation says it.
fn paid(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::Wallet => "paid from your wallet",
        PaymentMethod::Cod => "cash on delivery",
        _ => "paid",
    }
}

fn method(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::Card => "card",
        PaymentMethod::Upi => "UPI",
        PaymentMethod::Netbanking => "net banking",
        PaymentMethod::Wallet => "wallet",
        PaymentMethod::Cod => "cash on delivery",
    }
}

fn slot(slot: DeliverySlot) -> &'static str {
    match slot {
        DeliverySlot::Morning => "morning",
        DeliverySlot::Evening => "evening",
    }
}

/// `Fri 31 Jan 2025`.
fn day(date: NaiveDate) -> String {
    date.format("%a %-d %b %Y").to_string()
}

pub struct OrderMessages {
    pub mailer: Arc<dyn Mailer>,
    pub notifications: Arc<dyn NotificationStore>,
    pub users: Arc<dyn UserLookup>,
    pub vendors: Arc<dyn VendorReads>,
}

impl OrderMessages {
    /// The mail address of a customer or a vendor; `None` if the account is gone.
    async fn address(&self, to: Recipient) -> Result<Option<Email>, StoreError> {
        Ok(match to {
            Recipient::Customer(user_id) => self.users.by_id(user_id).await?.map(|u| u.email),
            Recipient::Vendor(vendor_id) => self.vendors.get(vendor_id).await?.map(|v| v.email),
            Recipient::Admin => None,
        })
    }

    /// Mails `message` (an admin alert is logged instead), then keeps it. A recipient that
    /// is gone is logged and skipped: retrying would not bring them back.
    async fn send(&self, event: &EventEnvelope, message: Message) -> Result<(), DomainError> {
        let (event_id, kind, owner) = (event.event_id, message.kind, message.to.owner());
        let channel = if message.to == Recipient::Admin {
            tracing::warn!(%event_id, kind, subject = message.subject, body = message.body, "admin alert kept");
            Channel::InApp
        } else if let Some(to) = self.address(message.to).await? {
            let (subject, body) = (message.subject.clone(), message.body.clone());
            let attachments = Vec::new();
            let mail = Mail {
                to,
                subject,
                body,
                attachments,
            };
            self.mailer.send(&mail).await?;
            Channel::Email
        } else {
            tracing::warn!(%event_id, kind, recipient = ?message.to, "recipient not found; message skipped");
            return Ok(());
        };
        let notification = Notification {
            notification_id: Notification::id_for(event_id, kind),
            user_id: owner,
            channel,
            kind: kind.into(),
            subject: message.subject,
            body: message.body,
            status: NotificationStatus::Sent,
            created_at: event.occurred_at,
            event_id,
        };
        self.notifications.record(&notification).await?;
        tracing::info!(%event_id, kind, recipient = %owner, "message sent");
        Ok(())
    }
}

#[async_trait]
impl EventHandler for OrderMessages {
    fn name(&self) -> &'static str {
        "order-messages"
    }

    fn wants(&self, event_type: EventType) -> bool {
        WANTED.contains(&event_type)
    }

    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError> {
        let messages = messages(event).map_err(|e| DomainError::Internal(e.to_string()))?;
        for message in messages {
            self.send(event, message).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_reason_says_what_to_fix() {
        let fix = |reason| what_to_fix(Some(reason));
        assert!(fix("PROFILE_INCOMPLETE").contains("phone number"));
        assert!(fix("PROFILE_INCOMPLETE").contains("delivery address"));
        assert!(fix("OUT_OF_STOCK").contains("out of stock"));
        assert!(fix("NO_VENDOR_AVAILABLE").contains("no vendor"));
        assert!(fix("PAYMENT_DECLINED").contains("declined"));
        assert!(fix("SOMETHING_NEW").contains("SOMETHING_NEW"));
    }

    #[test]
    fn dates_read_as_days() {
        let date = NaiveDate::from_ymd_opt(2025, 1, 31).unwrap();
        assert_eq!(day(date), "Fri 31 Jan 2025");
    }
}

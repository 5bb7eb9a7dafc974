//! Every message's words, in one place: the subject and body of each kind of message
//! (order, payment, delivery, vendor assignment, fraud, subscription, wallet, welcome, and
//! the promotion's footer). Handlers only fill in values; change wording here.

use chrono::NaiveDate;
use milkrun_domain::delivery::DeliveryStatus;
use milkrun_domain::events::{
    DeliveryScheduled, DeliveryUpdated, EventEnvelope, EventMismatch, EventType, FraudSuspected,
    LowBalance, OrderCancelled, OrderConfirmed, OrderFailed, OrderNeedsAttention, OrderNews,
    OrderOnHold, PaymentFailed, PaymentRefunded, SubscriptionDaySkipped, WalletToppedUp,
};
use milkrun_domain::notification::MessageKind;
use milkrun_domain::values::{DeliverySlot, PaymentMethod};

use crate::deliver::{Message, Recipient};

/// The welcome mail's kind.
pub const WELCOME: &str = "WELCOME";
/// A promotion's kind.
pub const PROMOTION: &str = "PROMOTION";

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
pub const ORDER_NEEDS_ATTENTION: &str = "ORDER_NEEDS_ATTENTION";
/// A subscription's order confirmed the evening before its delivery.
pub const SUBSCRIPTION_CONFIRMED: &str = "SUBSCRIPTION_CONFIRMED";
pub const SUBSCRIPTION_DAY_SKIPPED: &str = "SUBSCRIPTION_DAY_SKIPPED";
pub const LOW_BALANCE: &str = "LOW_BALANCE";
pub const WALLET_TOPPED_UP: &str = "WALLET_TOPPED_UP";

/// The event types that make a message.
pub const WANTED: [EventType; 13] = [
    EventType::OrderConfirmed,
    EventType::OrderOnHold,
    EventType::OrderFailed,
    EventType::OrderCancelled,
    EventType::PaymentFailed,
    EventType::PaymentRefunded,
    EventType::DeliveryScheduled,
    EventType::DeliveryUpdated,
    EventType::FraudSuspected,
    EventType::OrderNeedsAttention,
    EventType::SubscriptionDaySkipped,
    EventType::LowBalance,
    EventType::WalletToppedUp,
];

fn message(kind: &'static str, to: Recipient, subject: &str, body: String) -> Message {
    Message {
        kind,
        about: about(kind),
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
        EventType::OrderNeedsAttention => {
            let o = event.decode::<OrderNeedsAttention>()?.0;
            let what = match o.reason.as_deref() {
                Some("REFUND_FAILED") => {
                    "its refund kept failing: it is CANCELLED with the \
                     money still taken; refund it with PATCH /orders/{id}/status to REFUNDED"
                }
                _ => "its checkout kept dying and was ended; what it held was given back",
            };
            let body = format!(
                "Order {} of customer {} for {} needs a person: {what} (now {}).",
                o.order_id, o.user_id, o.total, o.status
            );
            vec![message(
                ORDER_NEEDS_ATTENTION,
                Admin,
                "An order needs attention",
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

/// Which preference a message of `kind` follows. Vendor and admin messages follow none
/// (they keep their channels); they are named so that every kind has an answer.
pub fn about(kind: &str) -> MessageKind {
    match kind {
        WELCOME => MessageKind::Account,
        PAYMENT_FAILED | PAYMENT_REFUNDED => MessageKind::PaymentUpdates,
        DELIVERY_SCHEDULED | DELIVERY_UPDATED | VENDOR_ASSIGNMENT => MessageKind::DeliveryUpdates,
        SUBSCRIPTION_CONFIRMED | SUBSCRIPTION_DAY_SKIPPED => MessageKind::SubscriptionUpdates,
        LOW_BALANCE | WALLET_TOPPED_UP => MessageKind::Wallet,
        PROMOTION => MessageKind::Promotions,
        _ => MessageKind::OrderUpdates,
    }
}

/// The welcome mail: its subject and body, with the verification link and token.
pub fn welcome(name: &str, verify_email_url: &str, token: &str) -> (String, String) {
    let subject = "Welcome to milkrun — please verify your email".to_owned();
    let body = format!(
        "Hello {name},\n\nWelcome to milkrun! Fresh milk at your door every morning.\n\n\
         Please verify your email address: {verify_email_url}{token}\n\n\
         Or send this token to POST /users/verify-email: {token}\n\nThe link is valid for 48 hours.\n"
    );
    (subject, body)
}

/// A promotion as one customer receives it: the admin's text, then the unsubscribe link.
pub fn promotion(subject: &str, body: &str, unsubscribe_link: &str) -> (String, String) {
    let body = format!(
        "{body}\n\n--\nYou receive this because you opted in to milkrun news. \
         Unsubscribe: {unsubscribe_link}\n"
    );
    (subject.to_owned(), body)
}

/// A promotion's text message: short, without the link (SMS has no room for a footer;
/// the mail carries it).
pub fn promotion_sms(subject: &str) -> String {
    format!("milkrun: {subject}")
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

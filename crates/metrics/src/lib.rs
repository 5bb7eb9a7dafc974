//! The business metrics (issue 16, part 5), each named here once, over the `metrics` facade.
//!
//! Code records a fact with one call where the fact is decided (`milkrun_metrics::
//! order_placed()`); what becomes of it is the host's choice: the Lambda host installs a
//! CloudWatch Embedded Metric Format recorder (namespace [`NAMESPACE`], dimension
//! [`FUNCTION`] plus the metric's own, if any) and flushes it after each invocation;
//! `milkrun serve` installs none, so a call costs one atomic load; tests capture counts with
//! [`testing::capture`]. Every metric is a counter of events (unit Count); the dashboard
//! and alarms in template.yaml read them by the names below (a test holds them to [`ALL`]).

pub mod testing;

use metrics::{Unit, counter};
use milkrun_domain::notification::Channel;
use milkrun_domain::order::OrderStatus;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "milkrun";
/// The dimension the host adds to every metric: the Lambda function's name.
pub const FUNCTION: &str = "function";
/// [`CHECKOUT_OUTCOME`]'s dimension: the order status the checkout ended in.
pub const STATUS: &str = "status";
/// [`NOTIFICATIONS_SENT`]'s dimension: `EMAIL`, `SMS` or `IN_APP`.
pub const CHANNEL: &str = "channel";
/// [`DEAD_LETTERED`]'s dimension: the consumer that gave up on the event.
pub const CONSUMER: &str = "consumer";

/// One metric: its name, unit, the one dimension of its own beyond [`FUNCTION`] (kept to
/// one: every distinct dimension value is a metric CloudWatch bills), and what it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub dimension: Option<&'static str>,
    pub help: &'static str,
}

const fn count(name: &'static str, dimension: Option<&'static str>, help: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Count,
        dimension,
        help,
    }
}

pub const ORDERS_PLACED: Metric = count(
    "OrdersPlaced",
    None,
    "Orders written PENDING, by POST /orders or the subscription run; once per order",
);
pub const CHECKOUT_OUTCOME: Metric = count(
    "CheckoutOutcome",
    Some(STATUS),
    "Checkouts ended, by the status they ended in: PREPARING, ON_HOLD, PAYMENT_FAILED, FAILED, CANCELLED",
);
pub const PAYMENT_DECLINED: Metric = count(
    "PaymentDeclined",
    None,
    "Charges the gateway or the wallet declined (ProcessPayment)",
);
pub const SUBSCRIPTION_ORDERS_CREATED: Metric = count(
    "SubscriptionOrdersCreated",
    None,
    "Orders the subscription run created (not those an earlier run had)",
);
pub const SUBSCRIPTION_DAYS_SKIPPED: Metric = count(
    "SubscriptionDaysSkipped",
    None,
    "Due subscription days the run could not serve, counted when first told",
);
pub const NOTIFICATIONS_SENT: Metric = count(
    "NotificationsSent",
    Some(CHANNEL),
    "Messages handed to a channel's sender (SES, the local outbox)",
);
pub const DEAD_LETTERED: Metric = count(
    "DeadLettered",
    Some(CONSUMER),
    "Event deliveries given up on by the local bus (in AWS: the DLQs' own SQS metrics)",
);

/// Every metric, the list the dashboard and alarms are checked against.
pub const ALL: [Metric; 7] = [
    ORDERS_PLACED,
    CHECKOUT_OUTCOME,
    PAYMENT_DECLINED,
    SUBSCRIPTION_ORDERS_CREATED,
    SUBSCRIPTION_DAYS_SKIPPED,
    NOTIFICATIONS_SENT,
    DEAD_LETTERED,
];

/// Tells the installed recorder each metric's unit (EMF writes it) and meaning.
pub fn describe() {
    for metric in ALL {
        metrics::describe_counter!(metric.name, metric.unit, metric.help);
    }
}

/// An order was written PENDING (once per order: a repeated request places nothing).
pub fn order_placed() {
    counter!(ORDERS_PLACED.name).increment(1);
}

/// A checkout ended in `status` (this call made the move, so a repeated step counts once).
pub fn checkout_outcome(status: OrderStatus) {
    counter!(CHECKOUT_OUTCOME.name, STATUS => status.as_str()).increment(1);
}

/// A charge was declined.
pub fn payment_declined() {
    counter!(PAYMENT_DECLINED.name).increment(1);
}

/// The subscription run created a day's order.
pub fn subscription_order_created() {
    counter!(SUBSCRIPTION_ORDERS_CREATED.name).increment(1);
}

/// The subscription run told, for the first time, why a due day gets no order.
pub fn subscription_day_skipped() {
    counter!(SUBSCRIPTION_DAYS_SKIPPED.name).increment(1);
}

/// A message went out through `channel`.
pub fn notification_sent(channel: Channel) {
    counter!(NOTIFICATIONS_SENT.name, CHANNEL => channel_name(channel)).increment(1);
}

/// `consumer` gave up on an event: it is on the dead-letter list now.
pub fn dead_lettered(consumer: &str) {
    counter!(DEAD_LETTERED.name, CONSUMER => consumer.to_owned()).increment(1);
}

/// The channel as the API names it.
pub fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "EMAIL",
        Channel::Sms => "SMS",
        Channel::InApp => "IN_APP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cloudwatch_safe() {
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for metric in ALL {
            assert!(metric.name.chars().all(|c| c.is_ascii_alphanumeric()));
            assert_ne!(metric.dimension, Some(FUNCTION));
        }
    }

    #[test]
    fn each_call_counts_under_its_name_and_dimension() {
        let capture = testing::capture();
        order_placed();
        checkout_outcome(OrderStatus::PaymentFailed);
        checkout_outcome(OrderStatus::PaymentFailed);
        payment_declined();
        subscription_order_created();
        subscription_day_skipped();
        notification_sent(Channel::Email);
        dead_lettered("notification");
        assert_eq!(capture.count("OrdersPlaced", &[]), 1);
        assert_eq!(
            capture.count("CheckoutOutcome", &[(STATUS, "PAYMENT_FAILED")]),
            2
        );
        assert_eq!(capture.count("CheckoutOutcome", &[(STATUS, "FAILED")]), 0);
        assert_eq!(capture.count("PaymentDeclined", &[]), 1);
        assert_eq!(capture.count("SubscriptionOrdersCreated", &[]), 1);
        assert_eq!(capture.count("SubscriptionDaysSkipped", &[]), 1);
        assert_eq!(capture.count("NotificationsSent", &[(CHANNEL, "EMAIL")]), 1);
        assert_eq!(
            capture.count("DeadLettered", &[(CONSUMER, "notification")]),
            1
        );
    }
}

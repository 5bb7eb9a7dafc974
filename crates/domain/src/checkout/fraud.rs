//! Checkout's rules: fraud rules.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::money::Money;

/// An order total above this (₹5,000, in paise) is held unless configured otherwise.
pub const DEFAULT_FRAUD_LIMIT_PAISE: u64 = 500_000;
/// "Well above the user's usual": more than this many times their average order…
pub const USUAL_SPEND_MULTIPLE: u64 = 3;
/// …once they have at least this many earlier orders to average (fewer say too little).
pub const USUAL_SPEND_MIN_ORDERS: usize = 3;
/// "Many orders in a short time": this many orders, this one included…
pub const MANY_ORDERS: usize = 5;
/// …within this window before now.
pub const MANY_ORDERS_WINDOW: TimeDelta = TimeDelta::hours(1);
/// A device first seen less than this long ago is new…
pub const NEW_DEVICE_AGE: TimeDelta = TimeDelta::hours(24);
/// …and an amount above the limit divided by this is high for a new device (₹2,500 by
/// default).
pub const NEW_DEVICE_LIMIT_DIVISOR: u64 = 2;

/// The configured fraud limit; the rest of the rules are the consts above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FraudRules {
    pub limit_paise: u64,
}

impl Default for FraudRules {
    fn default() -> Self {
        Self {
            limit_paise: DEFAULT_FRAUD_LIMIT_PAISE,
        }
    }
}

/// One of the user's earlier orders (whatever its status), not the one being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastOrder {
    pub total: Money,
    pub created_at: DateTime<Utc>,
    /// A subscription's order: planned, so it never counts as one of "many orders".
    pub planned: bool,
}

/// What the rules read about the order being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudInput {
    pub total: Money,
    pub previous_orders: Vec<PastOrder>,
    /// When the device placing the order was first seen on the account; `None` when it is
    /// not one the account knows (new, then).
    pub device_first_seen_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// The order is a subscription's (the nightly run's): a household with five
    /// subscriptions gets five orders a night by plan, so the many-orders rule does not
    /// apply; the amount rules still do.
    pub planned: bool,
}

/// Why an order was held for a manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FraudReason {
    AboveLimit,
    AboveUsual,
    ManyRecentOrders,
    NewDeviceHighAmount,
}

impl FraudReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AboveLimit => "ABOVE_LIMIT",
            Self::AboveUsual => "ABOVE_USUAL",
            Self::ManyRecentOrders => "MANY_RECENT_ORDERS",
            Self::NewDeviceHighAmount => "NEW_DEVICE_HIGH_AMOUNT",
        }
    }
}

impl fmt::Display for FraudReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// More than [`USUAL_SPEND_MULTIPLE`] × the average of at least [`USUAL_SPEND_MIN_ORDERS`]
/// earlier orders; compared as `total × n > multiple × sum` so no rounding decides it.
fn above_usual(input: &FraudInput) -> bool {
    let count = input.previous_orders.len();
    if count < USUAL_SPEND_MIN_ORDERS {
        return false;
    }
    let sum: u128 = input
        .previous_orders
        .iter()
        .map(|o| u128::from(o.total.amount))
        .sum();
    u128::from(input.total.amount) * count as u128 > u128::from(USUAL_SPEND_MULTIPLE) * sum
}

fn many_recent_orders(input: &FraudInput) -> bool {
    let since = input.now - MANY_ORDERS_WINDOW;
    let recent = input
        .previous_orders
        .iter()
        .filter(|o| !o.planned && o.created_at > since)
        .count();
    !input.planned && recent + 1 >= MANY_ORDERS
}

fn new_device_high_amount(input: &FraudInput, rules: &FraudRules) -> bool {
    let new_device = input
        .device_first_seen_at
        .is_none_or(|first| input.now - first < NEW_DEVICE_AGE);
    new_device && input.total.amount > rules.limit_paise / NEW_DEVICE_LIMIT_DIVISOR
}

/// SPEC §5 step 6: every rule that fires, in a fixed order; empty means not flagged.
pub fn fraud_reasons(input: &FraudInput, rules: &FraudRules) -> Vec<FraudReason> {
    [
        (
            FraudReason::AboveLimit,
            input.total.amount > rules.limit_paise,
        ),
        (FraudReason::AboveUsual, above_usual(input)),
        (FraudReason::ManyRecentOrders, many_recent_orders(input)),
        (
            FraudReason::NewDeviceHighAmount,
            new_device_high_amount(input, rules),
        ),
    ]
    .into_iter()
    .filter_map(|(reason, fired)| fired.then_some(reason))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkout::test_support::utc;

    fn now() -> DateTime<Utc> {
        utc(10, 12, 0)
    }

    /// A quiet order: a known device, a modest usual, nothing recent.
    fn quiet(total: u64) -> FraudInput {
        FraudInput {
            total: Money::inr(total),
            previous_orders: (1..=3)
                .map(|days| PastOrder {
                    total: Money::inr(1_000),
                    created_at: now() - TimeDelta::days(days),
                    planned: false,
                })
                .collect(),
            device_first_seen_at: Some(now() - TimeDelta::days(90)),
            now: now(),
            planned: false,
        }
    }

    fn reasons(input: &FraudInput) -> Vec<FraudReason> {
        fraud_reasons(input, &FraudRules::default())
    }

    #[test]
    fn a_quiet_order_is_not_flagged() {
        assert!(reasons(&quiet(3_000)).is_empty());
    }

    #[test]
    fn a_total_above_the_limit_fires() {
        let mut input = quiet(500_000);
        input.previous_orders.clear();
        assert!(reasons(&input).is_empty(), "at the limit is not above it");
        input.total = Money::inr(500_001);
        assert_eq!(reasons(&input), [FraudReason::AboveLimit]);
        let stricter = FraudRules { limit_paise: 1_000 };
        assert_eq!(
            fraud_reasons(&quiet(1_001), &stricter),
            [FraudReason::AboveLimit],
            "the configured limit is the one used"
        );
    }

    #[test]
    fn an_amount_well_above_the_usual_fires_once_there_is_a_usual() {
        assert!(reasons(&quiet(3_000)).is_empty(), "3 × the average");
        assert_eq!(reasons(&quiet(3_001)), [FraudReason::AboveUsual]);
        let mut two = quiet(100_000);
        two.previous_orders.truncate(2);
        assert!(reasons(&two).is_empty(), "two orders are no usual yet");
        let mut uneven = quiet(0);
        uneven.previous_orders[0].total = Money::inr(1_001);
        // Average 1000.33…: 3 × it is 3001, which integer division would round to 3000.
        uneven.total = Money::inr(3_001);
        assert!(reasons(&uneven).is_empty());
        uneven.total = Money::inr(3_002);
        assert_eq!(reasons(&uneven), [FraudReason::AboveUsual]);
    }

    #[test]
    fn many_orders_within_the_hour_fire() {
        let mut input = quiet(1_000);
        let recent = |minutes: i64| PastOrder {
            total: Money::inr(1_000),
            created_at: now() - TimeDelta::minutes(minutes),
            planned: false,
        };
        input
            .previous_orders
            .extend([recent(5), recent(20), recent(59)]);
        assert!(
            reasons(&input).is_empty(),
            "four in the hour, this one included"
        );
        input.previous_orders.push(recent(60));
        assert!(
            reasons(&input).is_empty(),
            "exactly an hour ago is outside the window"
        );
        input.previous_orders.push(recent(30));
        assert_eq!(reasons(&input), [FraudReason::ManyRecentOrders]);
        let mut planned = input.clone();
        planned.planned = true;
        assert!(
            reasons(&planned).is_empty(),
            "a subscription's order is planned"
        );
        for order in &mut input.previous_orders {
            order.planned = true;
        }
        assert!(
            reasons(&input).is_empty(),
            "five subscription orders a night make no one-off order impulsive"
        );
    }

    #[test]
    fn a_new_device_with_a_high_amount_fires() {
        let mut input = quiet(2_500);
        input.previous_orders.clear();
        input.device_first_seen_at = Some(now() - TimeDelta::hours(2));
        assert!(reasons(&input).is_empty(), "a small amount");
        input.total = Money::inr(250_000);
        assert!(reasons(&input).is_empty(), "half the limit is not above it");
        input.total = Money::inr(250_001);
        assert_eq!(reasons(&input), [FraudReason::NewDeviceHighAmount]);
        input.device_first_seen_at = None;
        assert_eq!(
            reasons(&input),
            [FraudReason::NewDeviceHighAmount],
            "an unknown device is new"
        );
        input.device_first_seen_at = Some(now() - TimeDelta::hours(24));
        assert!(reasons(&input).is_empty(), "a day old is no longer new");
    }

    #[test]
    fn every_rule_that_fires_is_answered_in_a_fixed_order() {
        let mut input = quiet(600_000);
        input.device_first_seen_at = None;
        input.previous_orders.extend((0..4).map(|m| PastOrder {
            total: Money::inr(1_000),
            created_at: now() - TimeDelta::minutes(m),
            planned: false,
        }));
        assert_eq!(
            reasons(&input),
            [
                FraudReason::AboveLimit,
                FraudReason::AboveUsual,
                FraudReason::ManyRecentOrders,
                FraudReason::NewDeviceHighAmount,
            ]
        );
        assert_eq!(
            serde_json::to_string(&FraudReason::NewDeviceHighAmount).unwrap(),
            "\"NEW_DEVICE_HIGH_AMOUNT\""
        );
        assert_eq!(
            FraudReason::ManyRecentOrders.to_string(),
            "MANY_RECENT_ORDERS"
        );
    }
}

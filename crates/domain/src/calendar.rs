//! The coming days of a customer's subscriptions: what each day brings at what price, or why
//! not. The calendar the app shows and the nightly run both plan with [`plan`], so what the
//! customer is told is what the run then does.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, TimeDelta};
use uuid::Uuid;

use crate::money::Money;
use crate::subscription::{Due, SkipReason, Subscription, Vacation, due_on};
use crate::values::PaymentMethod;

/// The most days a calendar shows.
pub const MAX_CALENDAR_DAYS: u32 = 31;
/// A wallet is low when it does not cover this many of the coming due days.
pub const LOW_BALANCE_DAYS: usize = 3;

/// What a plan is made from.
pub struct PlanInput<'a> {
    pub subscriptions: &'a [Subscription],
    pub vacation: Option<&'a Vacation>,
    /// Each (productId, variantId)'s unit price now; absent: not sold any more.
    pub unit_prices: &'a HashMap<(Uuid, Uuid), Money>,
    /// The wallet's balance now.
    pub balance: Money,
    /// The (subscription, date)s whose order the run has placed already: they come, and
    /// their debit is in the balance (or on its way) already.
    pub placed: &'a HashSet<(Uuid, NaiveDate)>,
    /// The (subscription, date)s whose order the run placed but which will not come (it
    /// failed, its payment failed, or it was cancelled).
    pub called_off: &'a HashSet<(Uuid, NaiveDate)>,
}

/// Why a subscription brings nothing on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The subscription's own rule ([`due_on`]).
    Rule(SkipReason),
    /// The product or variant is no longer sold.
    Unavailable,
    /// A wallet subscription whose day the balance, after the days before, does not cover.
    BalanceTooLow,
    /// The run placed the day's order, and it will not come.
    CalledOff,
}

/// One subscription on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedItem {
    pub subscription_id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub outcome: Result<Delivery, Skip>,
}

/// What comes: the quantity and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub quantity: u32,
    pub price: Money,
}

/// One day of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDay {
    pub date: NaiveDate,
    pub items: Vec<PlannedItem>,
}

impl PlannedDay {
    /// What the day's deliveries cost together.
    pub fn total(&self) -> Money {
        let paise = self
            .items
            .iter()
            .filter_map(|item| item.outcome.ok())
            .map(|delivery| delivery.price.amount)
            .sum();
        Money::inr(paise)
    }
}

/// The `days` days from `from`, each subscription in the order it was made. A wallet
/// subscription's day debits the balance left by the days (and subscriptions) before it, as
/// the run's orders would if the balance did not change meanwhile; one the balance does not
/// cover is skipped and leaves the balance as it was.
pub fn plan(input: &PlanInput<'_>, from: NaiveDate, days: u32) -> Vec<PlannedDay> {
    let mut subscriptions: Vec<&Subscription> = input.subscriptions.iter().collect();
    subscriptions.sort_by_key(|s| (s.created_at, s.subscription_id));
    let mut balance = input.balance.amount;
    (0..days.min(MAX_CALENDAR_DAYS))
        .map(|offset| {
            let date = from + TimeDelta::days(i64::from(offset));
            let items = subscriptions
                .iter()
                .map(|subscription| planned(input, subscription, date, &mut balance))
                .collect();
            PlannedDay { date, items }
        })
        .collect()
}

fn planned(
    input: &PlanInput<'_>,
    subscription: &Subscription,
    date: NaiveDate,
    balance: &mut u64,
) -> PlannedItem {
    let key = (subscription.product_id, subscription.variant_id);
    let outcome = match due_on(&subscription.schedule(), input.vacation, date) {
        Due::Skip(reason) => Err(Skip::Rule(reason)),
        Due::Deliver { .. }
            if input
                .called_off
                .contains(&(subscription.subscription_id, date)) =>
        {
            Err(Skip::CalledOff)
        }
        Due::Deliver { quantity } => match input.unit_prices.get(&key) {
            None => Err(Skip::Unavailable),
            Some(unit) => {
                let price = unit.times(quantity).expect("100 × a price within its cap");
                // A day the run has placed was debited already: the balance shows it.
                let placed = input.placed.contains(&(subscription.subscription_id, date));
                let method = subscription.payment_method;
                let paid = if placed {
                    Ok(())
                } else {
                    pay(method, price, balance)
                };
                paid.map(|()| Delivery { quantity, price })
            }
        },
    };
    PlannedItem {
        subscription_id: subscription.subscription_id,
        product_id: key.0,
        variant_id: key.1,
        outcome,
    }
}

/// A wallet day is taken from the balance if it covers it; cash on delivery takes nothing.
fn pay(method: PaymentMethod, price: Money, balance: &mut u64) -> Result<(), Skip> {
    if method != PaymentMethod::Wallet {
        return Ok(());
    }
    *balance = balance
        .checked_sub(price.amount)
        .ok_or(Skip::BalanceTooLow)?;
    Ok(())
}

/// Whether the balance covers fewer than the next [`LOW_BALANCE_DAYS`] days on which a
/// wallet subscription is due (looking at most [`MAX_CALENDAR_DAYS`] ahead).
pub fn is_low_balance(input: &PlanInput<'_>, from: NaiveDate) -> bool {
    plan(input, from, MAX_CALENDAR_DAYS)
        .iter()
        .filter(|day| day.items.iter().any(|item| wallet_day(input, item)))
        .take(LOW_BALANCE_DAYS)
        .any(|day| {
            day.items
                .iter()
                .any(|item| item.outcome == Err(Skip::BalanceTooLow))
        })
}

/// A wallet subscription's day that would deliver but for the balance, or does.
fn wallet_day(input: &PlanInput<'_>, item: &PlannedItem) -> bool {
    let by_wallet = input.subscriptions.iter().any(|s| {
        s.subscription_id == item.subscription_id && s.payment_method == PaymentMethod::Wallet
    });
    by_wallet && matches!(item.outcome, Ok(_) | Err(Skip::BalanceTooLow))
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::subscription::{Frequency, SubscriptionStatus};
    use crate::values::{AddressLabel, DeliverySlot};

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, d).unwrap()
    }

    fn subscription(
        n: u128,
        frequency: Frequency,
        quantity: u32,
        method: PaymentMethod,
    ) -> Subscription {
        Subscription {
            subscription_id: Uuid::from_u128(n),
            user_id: Uuid::from_u128(99),
            product_id: Uuid::from_u128(10),
            variant_id: Uuid::from_u128(n % 2),
            quantity,
            frequency,
            days_of_week: vec![],
            start_date: date(1),
            end_date: None,
            delivery_slot: DeliverySlot::Morning,
            address_label: AddressLabel::parse("home").unwrap(),
            payment_method: method,
            status: SubscriptionStatus::Active,
            paused_from: None,
            paused_until: None,
            day_changes: vec![],
            last_generated_for: None,
            created_at: DateTime::from_timestamp(1_800_000_000 + n as i64, 0).unwrap(),
            updated_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            version: 0,
        }
    }

    fn prices() -> HashMap<(Uuid, Uuid), Money> {
        HashMap::from([
            ((Uuid::from_u128(10), Uuid::from_u128(0)), Money::inr(2_700)),
            ((Uuid::from_u128(10), Uuid::from_u128(1)), Money::inr(5_400)),
        ])
    }

    #[test]
    fn each_day_says_what_comes_at_what_price_or_why_not() {
        let subscriptions = [
            subscription(1, Frequency::Daily, 1, PaymentMethod::Wallet),
            subscription(2, Frequency::Alternate, 2, PaymentMethod::Cod),
        ];
        let prices = prices();
        let input = PlanInput {
            subscriptions: &subscriptions,
            vacation: None,
            unit_prices: &prices,
            balance: Money::inr(100_000),
            placed: &HashSet::new(),
            called_off: &HashSet::new(),
        };
        let days = plan(&input, date(1), 3);
        assert_eq!(days.len(), 3);
        assert_eq!(
            days[0].items[0].outcome,
            Ok(Delivery {
                quantity: 1,
                price: Money::inr(5_400)
            })
        );
        assert_eq!(
            days[0].items[1].outcome,
            Ok(Delivery {
                quantity: 2,
                price: Money::inr(5_400)
            })
        );
        assert_eq!(days[0].total(), Money::inr(10_800));
        assert_eq!(
            days[1].items[1].outcome,
            Err(Skip::Rule(SkipReason::NotScheduled))
        );
    }

    #[test]
    fn the_wallet_covers_the_days_it_can_and_cash_on_delivery_needs_none() {
        let subscriptions = [
            subscription(1, Frequency::Daily, 1, PaymentMethod::Wallet),
            subscription(2, Frequency::Daily, 1, PaymentMethod::Cod),
        ];
        let prices = prices();
        let input = PlanInput {
            subscriptions: &subscriptions,
            vacation: None,
            unit_prices: &prices,
            balance: Money::inr(12_000),
            placed: &HashSet::new(),
            called_off: &HashSet::new(),
        };
        let days = plan(&input, date(1), 4);
        let wallet: Vec<_> = days.iter().map(|d| d.items[0].outcome.is_ok()).collect();
        assert_eq!(
            wallet,
            [true, true, false, false],
            "₹120 covers two ₹54 days"
        );
        assert!(days.iter().all(|d| d.items[1].outcome.is_ok()), "COD");
        assert_eq!(days[2].items[0].outcome, Err(Skip::BalanceTooLow));
        assert!(is_low_balance(&input, date(1)));
        let rich = PlanInput {
            balance: Money::inr(16_200),
            ..input
        };
        assert!(
            !is_low_balance(&rich, date(1)),
            "three days covered exactly"
        );
    }

    #[test]
    fn a_product_no_longer_sold_is_said_and_costs_nothing() {
        let subscriptions = [subscription(1, Frequency::Daily, 1, PaymentMethod::Wallet)];
        let none = HashMap::new();
        let input = PlanInput {
            subscriptions: &subscriptions,
            vacation: None,
            unit_prices: &none,
            balance: Money::inr(0),
            placed: &HashSet::new(),
            called_off: &HashSet::new(),
        };
        let days = plan(&input, date(1), 1);
        assert_eq!(days[0].items[0].outcome, Err(Skip::Unavailable));
        assert_eq!(days[0].total(), Money::inr(0));
        assert!(!is_low_balance(&input, date(1)), "nothing due to pay for");
    }

    #[test]
    fn a_calendar_shows_at_most_thirty_one_days() {
        let subscriptions = [subscription(1, Frequency::Daily, 1, PaymentMethod::Cod)];
        let prices = prices();
        let input = PlanInput {
            subscriptions: &subscriptions,
            vacation: None,
            unit_prices: &prices,
            balance: Money::inr(0),
            placed: &HashSet::new(),
            called_off: &HashSet::new(),
        };
        assert_eq!(plan(&input, date(1), 400).len(), 31);
    }
}

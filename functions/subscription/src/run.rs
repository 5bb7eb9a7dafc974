//! The nightly run (SPEC §6): for delivery date D, each customer with a live subscription
//! gets one order per subscription due on D, through the same checkout as any order.
//!
//! - It reads the run's index (live subscriptions only, in [`RUN_SHARDS`] partitions), a
//!   page at a time; a page is what one fan-out message carries in AWS.
//! - A customer's day is planned once with [`plan`], the function the calendar shows, so
//!   what the customer was told is what happens: a wallet day the balance does not cover is
//!   skipped (and said so), not placed to fail.
//! - Each order's id is derived from (subscriptionId, D) and written only if absent: the
//!   order is the claim. Run twice, concurrently or after a crash, it places nothing twice.
//!   Skips and LOW_BALANCE are events with derived ids, so they are told once too.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, TimeDelta};
use futures::{StreamExt, stream};
use milkrun_checkout::{
    AddressChoice, OrderPlacement, PlaceOrder, PlacedBy, cutoff_for, subscription_order_id,
};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::calendar::{PlanInput, Skip, is_low_balance, plan};
use milkrun_domain::checkout::OrderLine;
use milkrun_domain::checkout::platform_today;
use milkrun_domain::clock::{Clock, SystemClock};
use milkrun_domain::events::{EventEnvelope, LowBalance, SubscriptionDaySkipped};
use milkrun_domain::money::Money;
use milkrun_domain::page::{MAX_PAGE_SIZE, PageRequest};
use milkrun_domain::ports::{SubscriptionStore, UserLookup, WalletStore};
use milkrun_domain::subscription::{Due, RUN_SHARDS, Subscription, Vacation, due_on};
use milkrun_domain::values::PaymentMethod;
use milkrun_domain::{DomainError, Effects, StoreError};
use milkrun_platform::Adapters;
use milkrun_store::Stores;
use milkrun_store::effects::commit;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::service::{existing_orders, live_of, unit_prices};

/// Who the run's orders and records name.
pub const ACTOR: &str = "subscription-run";
/// Customers whose day is placed at once, within one page.
const CUSTOMERS_IN_FLIGHT: usize = 8;
/// Live subscriptions read per page (and per fan-out message).
pub const PAGE_SIZE: u32 = MAX_PAGE_SIZE;

/// What one run (or one page of it) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// Live subscriptions read from the run's index.
    pub read: u64,
    pub customers: u64,
    /// Orders this run created.
    pub ordered: u64,
    /// Due days whose order an earlier run had created.
    pub already_ordered: u64,
    /// Due days that could not be served, by reason.
    pub skipped: BTreeMap<String, u64>,
    pub low_balance: u64,
    /// Due days left for a later pass: their pincode's cut-off (a vendor's, up to 22:00)
    /// had not passed yet.
    pub deferred: u64,
    /// Customers whose day failed (a store error): the page is retried, which is harmless.
    pub failed: u64,
}

impl RunReport {
    pub fn add(&mut self, other: RunReport) {
        self.read += other.read;
        self.customers += other.customers;
        self.ordered += other.ordered;
        self.already_ordered += other.already_ordered;
        self.low_balance += other.low_balance;
        self.deferred += other.deferred;
        self.failed += other.failed;
        for (reason, count) in other.skipped {
            *self.skipped.entry(reason).or_default() += count;
        }
    }

    fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_owned()).or_default() += 1;
    }
}

/// One page of one shard: what a fan-out message asks a worker to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    pub date: NaiveDate,
    pub shard: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl RunPage {
    /// The first page of every shard for `date`.
    pub fn all(date: NaiveDate) -> Vec<RunPage> {
        (0..RUN_SHARDS)
            .map(|shard| RunPage {
                date,
                shard,
                cursor: None,
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct SubscriptionRun {
    stores: Stores,
    placement: OrderPlacement,
    clock: std::sync::Arc<dyn Clock>,
}

/// A skipped day, told once: its event id is derived from the subscription and date.
fn skipped_event(
    subscription: &Subscription,
    date: NaiveDate,
    reason: &str,
    message: String,
) -> EventEnvelope {
    let skipped = SubscriptionDaySkipped {
        subscription_id: subscription.subscription_id,
        user_id: subscription.user_id,
        date,
        reason: reason.to_owned(),
        message,
    };
    let mut event = EventEnvelope::new(&skipped, &format!("{ACTOR}-{date}"));
    event.event_id = Uuid::new_v5(
        &subscription.subscription_id,
        format!("SKIPPED#{date}").as_bytes(),
    );
    event
}

impl SubscriptionRun {
    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self::new(adapters.stores.clone(), adapters.checkout.clone())
    }

    /// Over `stores`, starting each order's checkout with `runner`.
    pub fn new(
        stores: Stores,
        runner: std::sync::Arc<dyn milkrun_domain::ports::CheckoutRunner>,
    ) -> Self {
        let placement = OrderPlacement::new(stores.clone(), runner);
        let clock = std::sync::Arc::new(SystemClock);
        Self {
            stores,
            placement,
            clock,
        }
    }

    /// The same, telling the time by `clock` (which pincodes are still open).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The whole run for `date`: every page of every shard, here (locally, by hand).
    pub async fn run(&self, date: NaiveDate) -> Result<RunReport, DomainError> {
        let mut report = RunReport::default();
        for mut page in RunPage::all(date) {
            loop {
                let (done, next) = self.run_page(&page).await?;
                report.add(done);
                match next {
                    Some(next) => page = next,
                    None => break,
                }
            }
        }
        tracing::info!(%date, ?report, "subscription run finished");
        Ok(report)
    }

    /// One page: its customers' days, and the next page of the shard, if any.
    pub async fn run_page(
        &self,
        page: &RunPage,
    ) -> Result<(RunReport, Option<RunPage>), DomainError> {
        let request = PageRequest {
            limit: PAGE_SIZE,
            cursor: page.cursor.clone(),
        };
        let listed = self.stores.subscriptions.live(page.shard, &request).await?;
        let mut report = RunReport {
            read: listed.items.len() as u64,
            ..RunReport::default()
        };
        let mut customers: Vec<Uuid> = listed.items.iter().map(|s| s.user_id).collect();
        customers.sort();
        customers.dedup();
        let days = stream::iter(customers)
            .map(|user_id| self.run_customer(page.date, user_id))
            .buffer_unordered(CUSTOMERS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        for day in days {
            match day {
                Ok(day) => report.add(day),
                // One customer's trouble stops nobody else's day; the page is run again.
                Err(error) => {
                    tracing::error!(%error, date = %page.date, shard = page.shard, "a customer's day failed");
                    report.failed += 1;
                }
            }
        }
        let next = listed.next_cursor.map(|cursor| RunPage {
            cursor: Some(cursor),
            ..page.clone()
        });
        Ok((report, next))
    }

    /// What one customer's day is planned from; `placed`: the due subscriptions whose
    /// order for the date exists already (a repeated run).
    async fn load(&self, date: NaiveDate, user_id: Uuid) -> Result<CustomerDay, DomainError> {
        let stores = &self.stores;
        let subscriptions = live_of(stores.subscriptions.as_ref(), user_id).await?;
        let deferred = self.still_open(date, user_id, &subscriptions).await?;
        let vacation = stores.subscriptions.vacation(user_id).await?;
        let wallet = stores.wallets.get(user_id).await?;
        let unit_prices = unit_prices(stores.products.as_ref(), &subscriptions).await?;
        let vacation_ref = vacation.as_ref();
        let due = |s: &Subscription| match due_on(&s.schedule(), vacation_ref, date) {
            Due::Deliver { .. } => vec![date],
            Due::Skip(_) => Vec::new(),
        };
        let existing = existing_orders(stores.orders.as_ref(), &subscriptions, due).await?;
        Ok(CustomerDay {
            deferred,
            balance: wallet.map_or(Money::inr(0), |w| w.balance),
            subscriptions,
            vacation,
            unit_prices,
            placed: existing.placed,
            called_off: existing.called_off,
        })
    }

    /// On the nightly run's own date (tomorrow), the subscriptions whose address's cut-off
    /// has not passed yet (a vendor may close as late as 22:00): they wait for the late pass,
    /// so that a change the customer may still make is not overtaken by the order. A run by
    /// hand for a later date is the operator's choice and defers nothing.
    async fn still_open(
        &self,
        date: NaiveDate,
        user_id: Uuid,
        subscriptions: &[Subscription],
    ) -> Result<HashSet<Uuid>, DomainError> {
        let now = self.clock.now();
        if date != platform_today(now) + TimeDelta::days(1) || subscriptions.is_empty() {
            return Ok(HashSet::new());
        }
        let Some(user) = self.stores.users.by_id(user_id).await? else {
            return Ok(HashSet::new());
        };
        let mut open = HashSet::new();
        for address in &user.addresses {
            let cutoff = cutoff_for(self.stores.vendors.as_ref(), &address.pincode).await?;
            if cutoff.is_open(date, now) {
                let at = subscriptions
                    .iter()
                    .filter(|s| s.address_label == address.label);
                open.extend(at.map(|s| s.subscription_id));
            }
        }
        Ok(open)
    }

    /// One customer's day: planned as the calendar plans it, then placed.
    async fn run_customer(&self, date: NaiveDate, user_id: Uuid) -> Result<RunReport, DomainError> {
        let customer = self.load(date, user_id).await?;
        let input = customer.input();
        let day = plan(&input, date, 1).remove(0);
        let mut report = RunReport {
            customers: 1,
            ..RunReport::default()
        };
        let by_id: HashMap<Uuid, &Subscription> = customer
            .subscriptions
            .iter()
            .map(|s| (s.subscription_id, s))
            .collect();
        for item in &day.items {
            let subscription = by_id[&item.subscription_id];
            if customer.deferred.contains(&subscription.subscription_id) {
                report.deferred += u64::from(item.outcome.is_ok());
                continue;
            }
            let placed = customer
                .placed
                .contains(&(subscription.subscription_id, date));
            self.serve(subscription, date, &item.outcome, placed, &mut report)
                .await?;
            if subscription
                .last_generated_for
                .is_none_or(|last| last < date)
            {
                self.mark(subscription, date).await?;
            }
        }
        // What the day's new wallet orders take, out of what is left for the days after.
        let spent: u64 = day
            .items
            .iter()
            .filter(|item| by_id[&item.subscription_id].payment_method == PaymentMethod::Wallet)
            .filter(|item| !customer.placed.contains(&(item.subscription_id, date)))
            .filter(|item| !customer.deferred.contains(&item.subscription_id))
            .filter_map(|item| item.outcome.ok().map(|d| d.price.amount))
            .sum();
        let after = Money::inr(customer.balance.amount.saturating_sub(spent));
        let next = PlanInput {
            balance: after,
            ..input
        };
        if is_low_balance(&next, date + TimeDelta::days(1))
            && self.tell_low_balance(user_id, after, date).await?
        {
            report.low_balance += 1;
        }
        Ok(report)
    }

    /// Places a due day's order, or records why it cannot be.
    async fn serve(
        &self,
        subscription: &Subscription,
        date: NaiveDate,
        outcome: &Result<milkrun_domain::calendar::Delivery, Skip>,
        placed: bool,
        report: &mut RunReport,
    ) -> Result<(), DomainError> {
        let (reason, message) = match outcome {
            Err(Skip::Rule(_)) => return Ok(()),
            Err(Skip::CalledOff) => {
                report.already_ordered += 1;
                return Ok(());
            }
            _ if placed => {
                report.already_ordered += 1;
                return Ok(());
            }
            Ok(delivery) => match self.place(subscription, date, delivery.quantity).await {
                Ok(true) => {
                    report.ordered += 1;
                    milkrun_metrics::subscription_order_created();
                    return Ok(());
                }
                Ok(false) => {
                    report.already_ordered += 1;
                    return Ok(());
                }
                Err(refused) if refused.code().status() < 500 => {
                    (refused.code().as_str().to_owned(), refused.to_string())
                }
                Err(failed) => return Err(failed),
            },
            Err(Skip::Unavailable) => (
                "PRODUCT_UNAVAILABLE".to_owned(),
                "The product is no longer sold; change or cancel the subscription.".to_owned(),
            ),
            Err(Skip::BalanceTooLow) => (
                "INSUFFICIENT_BALANCE".to_owned(),
                "The wallet does not cover this delivery; top up to receive it.".to_owned(),
            ),
        };
        report.skip(&reason);
        self.record_skip(subscription, date, &reason, message).await
    }

    /// Places the order (`true`), or finds it placed (`false`).
    async fn place(
        &self,
        subscription: &Subscription,
        date: NaiveDate,
        quantity: u32,
    ) -> Result<bool, DomainError> {
        let request = PlaceOrder {
            by: PlacedBy::Job {
                user_id: subscription.user_id,
                actor: ACTOR.to_owned(),
            },
            lines: Some(vec![OrderLine {
                product_id: subscription.product_id,
                variant_id: subscription.variant_id,
                quantity,
            }]),
            address: AddressChoice::Label(subscription.address_label.clone()),
            delivery_date: date,
            delivery_slot: subscription.delivery_slot,
            payment_method: subscription.payment_method,
            allow_partial: false,
            payment_token: None,
            order_id: Some(subscription_order_id(subscription.subscription_id, date)),
            subscription_id: Some(subscription.subscription_id),
        };
        let actor = AuditContext::system(&format!("{ACTOR}-{date}"), ACTOR);
        Ok(self.placement.place(&actor, request, None).await?.created)
    }

    async fn record_skip(
        &self,
        subscription: &Subscription,
        date: NaiveDate,
        reason: &str,
        message: String,
    ) -> Result<(), DomainError> {
        tracing::info!(subscription_id = %subscription.subscription_id, %date, reason, "subscription day skipped");
        let effects =
            Effects::none().with_envelope(skipped_event(subscription, date, reason, message));
        // Refused: the skip was told (and counted) by an earlier run.
        if commit(self.stores.items.as_ref(), Vec::new(), &effects)
            .await?
            .is_ok()
        {
            milkrun_metrics::subscription_day_skipped();
        }
        Ok(())
    }

    async fn mark(&self, subscription: &Subscription, date: NaiveDate) -> Result<(), DomainError> {
        match self
            .stores
            .subscriptions
            .mark_generated(subscription, date)
            .await
        {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// LOW_BALANCE once per customer and run date; `false` when an earlier run told it.
    async fn tell_low_balance(
        &self,
        user_id: Uuid,
        balance: Money,
        date: NaiveDate,
    ) -> Result<bool, DomainError> {
        let low = LowBalance {
            user_id,
            balance,
            date,
        };
        let mut event = EventEnvelope::new(&low, &format!("{ACTOR}-{date}"));
        event.event_id = Uuid::new_v5(&user_id, format!("LOW_BALANCE#{date}").as_bytes());
        let effects = Effects::none().with_envelope(event);
        Ok(commit(self.stores.items.as_ref(), Vec::new(), &effects)
            .await?
            .is_ok())
    }
}

/// A customer's day, as loaded for planning.
struct CustomerDay {
    /// Subscriptions whose date is still open to the customer's changes: not run yet.
    deferred: HashSet<Uuid>,
    subscriptions: Vec<Subscription>,
    vacation: Option<Vacation>,
    unit_prices: HashMap<(Uuid, Uuid), Money>,
    balance: Money,
    placed: HashSet<(Uuid, NaiveDate)>,
    called_off: HashSet<(Uuid, NaiveDate)>,
}

impl CustomerDay {
    fn input(&self) -> PlanInput<'_> {
        PlanInput {
            subscriptions: &self.subscriptions,
            vacation: self.vacation.as_ref(),
            unit_prices: &self.unit_prices,
            balance: self.balance,
            placed: &self.placed,
            called_off: &self.called_off,
        }
    }
}

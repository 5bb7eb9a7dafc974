//! The subscription use cases, free of HTTP: make, change, pause, cancel, change one day,
//! go on vacation, and see the coming days.
//!
//! Every change is held to the cut-off (SPEC §6): it is compared with the subscription as
//! it was on each date whose orders have closed (tomorrow, after tonight's cut-off) and
//! refused with `CUTOFF_PASSED` if it would alter one of them. A change that can start
//! later (a pause, a resume, an end, a new quantity) applies from `effectiveFrom` when the
//! caller names a date that is still open.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta, Utc};
use milkrun_checkout::cutoff_for;
use milkrun_domain::audit::{AuditContext, changed_fields};
use milkrun_domain::calendar::{PlanInput, PlannedDay, plan};
use milkrun_domain::checkout::platform_today;
use milkrun_domain::clock::{Clock, SystemClock};
use milkrun_domain::cutoff::{CutoffPassed, CutoffTime};
use milkrun_domain::events::{SubscriptionCancelled, SubscriptionChanged, SubscriptionCreated};
use milkrun_domain::money::Money;
use milkrun_domain::order::OrderStatus;
use milkrun_domain::page::{MAX_PAGE_SIZE, Page, PageRequest};
use milkrun_domain::ports::{
    OrderReads, ProductReads, SubscriptionStore, UserLookup, VendorReads, WalletStore,
};
use milkrun_domain::subscription::{Due, Subscription, SubscriptionStatus, Vacation, due_on};
use milkrun_domain::user::User;
use milkrun_domain::{DomainError, Effects, StoreError};
use milkrun_platform::Adapters;
use milkrun_store::retry::retry_on_conflict;
use uuid::Uuid;

use crate::input::{Change, NewSubscription};

const ENTITY: &str = "SUBSCRIPTION";
/// A customer keeps at most this many subscriptions that are not cancelled: the calendar
/// and the run read them all in one page.
pub const MAX_LIVE_PER_CUSTOMER: usize = 20;
/// How far ahead a subscription may start, a day be changed or a vacation be planned.
pub const MAX_DAYS_AHEAD: i64 = 366;

#[derive(Clone)]
pub struct SubscriptionService {
    pub(crate) subscriptions: Arc<dyn SubscriptionStore>,
    pub(crate) users: Arc<dyn UserLookup>,
    pub(crate) products: Arc<dyn ProductReads>,
    pub(crate) vendors: Arc<dyn VendorReads>,
    pub(crate) wallets: Arc<dyn WalletStore>,
    pub(crate) orders: Arc<dyn OrderReads>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The dates whose orders have closed but not yet been delivered: from tomorrow to the day
/// before the first open date (none before tonight's cut-off, tomorrow after it).
struct Closed {
    dates: Vec<NaiveDate>,
    next_open: NaiveDate,
}

impl Closed {
    fn check(&self, date: NaiveDate) -> Result<(), DomainError> {
        match date < self.next_open {
            true => Err(CutoffPassed {
                date,
                next_date: self.next_open,
            }
            .into()),
            false => Ok(()),
        }
    }

    /// The first closed date on which `after` would bring something other than `before`.
    fn altered(
        &self,
        before: (&Subscription, Option<&Vacation>),
        after: (&Subscription, Option<&Vacation>),
    ) -> Result<(), DomainError> {
        let altered = self
            .dates
            .iter()
            .find(|date| brings(before.0, before.1, **date) != brings(after.0, after.1, **date));
        match altered {
            Some(date) => self.check(*date),
            None => Ok(()),
        }
    }
}

/// What a subscription brings on `date`, everything a delivery is made of included.
fn brings(
    subscription: &Subscription,
    vacation: Option<&Vacation>,
    date: NaiveDate,
) -> Option<(u32, String, String, String)> {
    match due_on(&subscription.schedule(), vacation, date) {
        Due::Skip(_) => None,
        Due::Deliver { quantity } => Some((
            quantity,
            subscription.delivery_slot.to_string(),
            subscription.address_label.to_string(),
            subscription.payment_method.to_string(),
        )),
    }
}

impl SubscriptionService {
    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self::over(&adapters.stores)
    }

    /// Over `stores`, on the system clock.
    pub fn over(stores: &milkrun_store::Stores) -> Self {
        Self {
            subscriptions: stores.subscriptions.clone(),
            users: stores.users.clone(),
            products: stores.products.clone(),
            vendors: stores.vendors.clone(),
            wallets: stores.wallets.clone(),
            orders: stores.orders.clone(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The same, telling the time by `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn today(&self) -> NaiveDate {
        platform_today(self.clock.now())
    }

    async fn customer(&self, user_id: Uuid) -> Result<User, DomainError> {
        let user = self.users.by_id(user_id).await?;
        user.ok_or(DomainError::Unauthorized)
    }

    /// The closed dates of deliveries to `user`'s address `label` (its pincode's cut-off).
    async fn closed(&self, user: &User, label: &str) -> Result<Closed, DomainError> {
        let address = user.addresses.iter().find(|a| a.label.as_str() == label);
        let cutoff = match address {
            Some(address) => cutoff_for(self.vendors.as_ref(), &address.pincode).await?,
            None => CutoffTime::DEFAULT,
        };
        let now = self.clock.now();
        let next_open = cutoff.next_open_date(now);
        let tomorrow = platform_today(now) + TimeDelta::days(1);
        let dates = tomorrow
            .iter_days()
            .take_while(|d| *d < next_open)
            .collect();
        Ok(Closed { dates, next_open })
    }

    /// The caller's own subscription (another's reads as absent: 404, never 403).
    async fn own(&self, user_id: Uuid, subscription_id: Uuid) -> Result<Subscription, DomainError> {
        let found = self.subscriptions.get(subscription_id).await?;
        found
            .filter(|s| s.user_id == user_id)
            .ok_or(DomainError::NotFound("subscription"))
    }

    pub async fn create(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
        new: NewSubscription,
    ) -> Result<Subscription, DomainError> {
        let user = self.customer(user_id).await?;
        new.check_address(&user)?;
        self.check_variant(new.product_id, new.variant_id).await?;
        let today = self.today();
        let closed = self.closed(&user, new.address_label.as_str()).await?;
        new.check_dates(today)?;
        closed.check(new.start_date)?;
        let live = self.live_of(user_id).await?;
        let live = live.iter().filter(|s| s.is_live_on(today)).count();
        if live >= MAX_LIVE_PER_CUSTOMER {
            return Err(DomainError::conflict(format!(
                "A customer keeps at most {MAX_LIVE_PER_CUSTOMER} subscriptions; cancel one first."
            )));
        }
        let subscription = new.into_subscription(user_id, Utc::now());
        let entry = actor.entry("SUBSCRIPTION_CREATED", ENTITY, subscription.subscription_id);
        let entry = entry.with_changes(changed_fields(None, &subscription));
        let effects = Effects::audited(entry).with_event(
            &SubscriptionCreated(subscription.clone()),
            &actor.correlation_id,
        );
        self.subscriptions.create(&subscription, &effects).await?;
        Ok(subscription)
    }

    async fn check_variant(&self, product_id: Uuid, variant_id: Uuid) -> Result<(), DomainError> {
        let product = self.products.get(product_id).await?;
        let sold = product
            .is_some_and(|p| p.is_active && p.variants.iter().any(|v| v.variant_id == variant_id));
        match sold {
            true => Ok(()),
            false => Err(DomainError::NotFound("product variant")),
        }
    }

    pub async fn get(
        &self,
        user_id: Uuid,
        subscription_id: Uuid,
    ) -> Result<Subscription, DomainError> {
        Ok(self
            .own(user_id, subscription_id)
            .await?
            .as_of(self.today()))
    }

    /// Any subscription (administrators).
    pub async fn get_any(&self, subscription_id: Uuid) -> Result<Subscription, DomainError> {
        let found = self.subscriptions.get(subscription_id).await?;
        let found = found.ok_or(DomainError::NotFound("subscription"))?;
        Ok(found.as_of(self.today()))
    }

    pub async fn list(
        &self,
        user_id: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<Subscription>, DomainError> {
        let page = match user_id {
            Some(user_id) => self.subscriptions.for_user(user_id, page).await?,
            None => self.subscriptions.list(page).await?,
        };
        let today = self.today();
        Ok(page.map(|s| s.as_of(today)))
    }

    /// Applies `change` (read, change, compare-and-swap save, retried on a race).
    pub async fn change(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
        subscription_id: Uuid,
        change: Change,
    ) -> Result<Subscription, DomainError> {
        let user = self.customer(user_id).await?;
        change.check_address(&user)?;
        retry_on_conflict("subscription", || async {
            let before = self.own(user_id, subscription_id).await?;
            let after = self.changed(&user, &before, &change).await?;
            if after == before {
                return Ok(before);
            }
            self.save(actor, &before, after, "SUBSCRIPTION_CHANGED")
                .await
        })
        .await
    }

    /// `before` with `change` made, held to the cut-off of its address (and of the address
    /// it moves to, the stricter of the two).
    async fn changed(
        &self,
        user: &User,
        before: &Subscription,
        change: &Change,
    ) -> Result<Subscription, DomainError> {
        let mut labels = vec![before.address_label.as_str()];
        labels.extend(change.address_label.as_ref().map(|l| l.as_str()));
        let closed = self.strictest(user, &labels).await?;
        let vacation = self.subscriptions.vacation(user.user_id).await?;
        let today = self.today();
        let after = change.apply(before.clone().as_of(today), closed.next_open, today)?;
        let altered = closed.altered((before, vacation.as_ref()), (&after, vacation.as_ref()));
        if altered.is_err() && change.effective_from.is_some() {
            // Asked from a later date and still changing a closed day: what cannot wait (a
            // slot, an address, the weekdays) is said so, not refused again.
            return Err(DomainError::conflict(
                "deliverySlot, addressLabel and daysOfWeek apply at once, not from effectiveFrom: change them once the closed day is delivered.",
            ));
        }
        altered.map(|()| after)
    }

    /// The closed dates of the strictest of `labels`' cut-offs (the latest first open date).
    async fn strictest(&self, user: &User, labels: &[&str]) -> Result<Closed, DomainError> {
        let mut strictest = self.closed(user, labels[0]).await?;
        for label in &labels[1..] {
            let closed = self.closed(user, label).await?;
            if closed.next_open > strictest.next_open {
                strictest = closed;
            }
        }
        Ok(strictest)
    }

    /// Cancels at once, or, when a closed date is still to come, ends the subscription the
    /// day before `effective_from` (an open date), so the closed day is kept.
    pub async fn cancel(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
        subscription_id: Uuid,
        effective_from: Option<NaiveDate>,
    ) -> Result<Subscription, DomainError> {
        let user = self.customer(user_id).await?;
        retry_on_conflict("subscription", || async {
            let before = self.own(user_id, subscription_id).await?;
            if before.status == SubscriptionStatus::Cancelled {
                return Ok(before);
            }
            let closed = self.closed(&user, before.address_label.as_str()).await?;
            let vacation = self.subscriptions.vacation(user_id).await?;
            let mut after = before.clone();
            match effective_from {
                None => after.status = SubscriptionStatus::Cancelled,
                Some(from) => {
                    closed.check(from)?;
                    let last = from - TimeDelta::days(1);
                    after.end_date = Some(after.end_date.map_or(last, |end| end.min(last)));
                }
            }
            closed.altered((&before, vacation.as_ref()), (&after, vacation.as_ref()))?;
            let action = match after.status {
                SubscriptionStatus::Cancelled => "SUBSCRIPTION_CANCELLED",
                _ => "SUBSCRIPTION_CHANGED",
            };
            self.save(actor, &before, after, action).await
        })
        .await
    }

    /// Sets (`Some`) or undoes (`None`) one day's quantity.
    pub async fn change_day(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
        subscription_id: Uuid,
        date: NaiveDate,
        quantity: Option<u32>,
    ) -> Result<Subscription, DomainError> {
        let user = self.customer(user_id).await?;
        if date > self.today() + TimeDelta::days(MAX_DAYS_AHEAD) {
            let message = format!("A day change must be within {MAX_DAYS_AHEAD} days.");
            return Err(DomainError::conflict(message));
        }
        retry_on_conflict("subscription", || async {
            let before = self.own(user_id, subscription_id).await?;
            if before.status == SubscriptionStatus::Cancelled {
                return Err(DomainError::conflict("The subscription is cancelled."));
            }
            let closed = self.closed(&user, before.address_label.as_str()).await?;
            closed.check(date)?;
            let mut after = before.clone();
            after.change_day(date, quantity);
            after
                .day_changes
                .retain(|change| change.date > self.today());
            self.save(actor, &before, after, "SUBSCRIPTION_DAY_CHANGED")
                .await
        })
        .await
    }

    /// Saves a change with its audit entry and event.
    async fn save(
        &self,
        actor: &AuditContext,
        before: &Subscription,
        mut after: Subscription,
        action: &str,
    ) -> Result<Subscription, DomainError> {
        after.updated_at = Utc::now();
        let entry = actor.entry(action, ENTITY, after.subscription_id);
        let entry = entry.with_changes(changed_fields(Some(before), &after));
        let effects = Effects::audited(entry);
        let correlation_id = &actor.correlation_id;
        let effects = match after.status {
            SubscriptionStatus::Cancelled => {
                effects.with_event(&SubscriptionCancelled(after.clone()), correlation_id)
            }
            _ => effects.with_event(&SubscriptionChanged(after.clone()), correlation_id),
        };
        Ok(self.subscriptions.update(after, &effects).await?)
    }

    /// Sets the customer's vacation; it must start on an open date.
    pub async fn set_vacation(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
        vacation: Vacation,
    ) -> Result<Vacation, DomainError> {
        let user = self.customer(user_id).await?;
        let today = self.today();
        if vacation.until < vacation.from
            || vacation.until > today + TimeDelta::days(MAX_DAYS_AHEAD)
        {
            return Err(DomainError::conflict(format!(
                "A vacation's until must be on or after its from, and within {MAX_DAYS_AHEAD} days."
            )));
        }
        let before = self.subscriptions.vacation(user_id).await?;
        self.vacation_allowed(&user, before.as_ref(), Some(&vacation))
            .await?;
        self.write_vacation(actor, user_id, Some(vacation)).await?;
        Ok(vacation)
    }

    /// Ends the customer's vacation early: from the first open date (closed days stay
    /// away). Answers what is left of it, if anything.
    pub async fn end_vacation(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
    ) -> Result<Option<Vacation>, DomainError> {
        let user = self.customer(user_id).await?;
        let Some(before) = self.subscriptions.vacation(user_id).await? else {
            return Ok(None);
        };
        let next_open = self.earliest_next_open(&user).await?;
        let today = self.today();
        let kept = (before.from < next_open && before.until >= today).then(|| Vacation {
            from: before.from,
            until: before.until.min(next_open - TimeDelta::days(1)),
        });
        let kept = kept.filter(|v| v.from <= v.until);
        self.write_vacation(actor, user_id, kept).await?;
        Ok(kept)
    }

    /// The latest first open date over the customer's addresses (the strictest).
    async fn earliest_next_open(&self, user: &User) -> Result<NaiveDate, DomainError> {
        let mut next_open = self.today() + TimeDelta::days(1);
        for address in &user.addresses {
            let closed = self.closed(user, address.label.as_str()).await?;
            next_open = next_open.max(closed.next_open);
        }
        Ok(next_open)
    }

    /// A vacation change may not alter a closed day of any of the customer's subscriptions.
    async fn vacation_allowed(
        &self,
        user: &User,
        before: Option<&Vacation>,
        after: Option<&Vacation>,
    ) -> Result<(), DomainError> {
        for subscription in self.live_of(user.user_id).await? {
            let closed = self
                .closed(user, subscription.address_label.as_str())
                .await?;
            closed.altered((&subscription, before), (&subscription, after))?;
        }
        Ok(())
    }

    async fn write_vacation(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
        vacation: Option<Vacation>,
    ) -> Result<(), DomainError> {
        let action = match vacation {
            Some(_) => "VACATION_SET",
            None => "VACATION_ENDED",
        };
        let entry = actor.entry(action, "VACATION", user_id);
        let entry = entry.with_changes(serde_json::json!({ "vacation": vacation }));
        let effects = Effects::audited(entry);
        Ok(self
            .subscriptions
            .set_vacation(user_id, vacation, &effects)
            .await?)
    }

    pub(crate) async fn live_of(&self, user_id: Uuid) -> Result<Vec<Subscription>, StoreError> {
        live_of(self.subscriptions.as_ref(), user_id).await
    }

    /// The coming `days` days from `from` for the customer.
    pub async fn calendar(
        &self,
        user_id: Uuid,
        from: Option<NaiveDate>,
        days: u32,
    ) -> Result<(Vec<PlannedDay>, Money), DomainError> {
        let from = from.unwrap_or(self.today() + TimeDelta::days(1));
        let subscriptions = self.live_of(user_id).await?;
        let vacation = self.subscriptions.vacation(user_id).await?;
        let balance = self
            .wallets
            .get(user_id)
            .await?
            .map_or(Money::inr(0), |w| w.balance);
        let unit_prices = unit_prices(self.products.as_ref(), &subscriptions).await?;
        let last = from + TimeDelta::days(i64::from(days.max(1)) - 1);
        // Only dates the run has passed can have its order (tomorrow's, as a rule).
        let passed = |s: &Subscription| match s.last_generated_for {
            Some(generated) => from
                .iter_days()
                .take_while(|d| *d <= generated.min(last))
                .collect(),
            None => Vec::new(),
        };
        let existing = existing_orders(self.orders.as_ref(), &subscriptions, passed).await?;
        let input = PlanInput {
            subscriptions: &subscriptions,
            vacation: vacation.as_ref(),
            unit_prices: &unit_prices,
            balance,
            placed: &existing.placed,
            called_off: &existing.called_off,
        };
        Ok((plan(&input, from, days), balance))
    }
}

/// A customer's subscriptions that are not cancelled, every page of them (a customer keeps
/// at most [`MAX_LIVE_PER_CUSTOMER`] live ones; cancelled ones are skipped, however many).
pub async fn live_of(
    store: &dyn SubscriptionStore,
    user_id: Uuid,
) -> Result<Vec<Subscription>, StoreError> {
    let mut page = PageRequest::first(MAX_PAGE_SIZE);
    let mut live = Vec::new();
    loop {
        let listed = store.for_user(user_id, &page).await?;
        live.extend(
            listed
                .items
                .into_iter()
                .filter(|s| s.status != SubscriptionStatus::Cancelled),
        );
        match listed.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(live),
        }
    }
}

/// The run's orders there are among the (subscription, date)s `dates` names: those still
/// going ahead (`placed`) and those that will not come (`called_off`: failed, payment
/// failed, cancelled, refunded).
#[derive(Debug, Default)]
pub struct Existing {
    pub placed: HashSet<(Uuid, NaiveDate)>,
    pub called_off: HashSet<(Uuid, NaiveDate)>,
}

/// Reads the run's order of each (subscription, date) `dates` names for a subscription.
pub async fn existing_orders(
    orders: &dyn OrderReads,
    subscriptions: &[Subscription],
    dates: impl Fn(&Subscription) -> Vec<NaiveDate>,
) -> Result<Existing, StoreError> {
    let mut existing = Existing::default();
    for subscription in subscriptions {
        for date in dates(subscription) {
            let id = milkrun_checkout::subscription_order_id(subscription.subscription_id, date);
            let Some(order) = orders.get(id).await? else {
                continue;
            };
            let called_off = matches!(
                order.status,
                OrderStatus::Failed
                    | OrderStatus::PaymentFailed
                    | OrderStatus::Cancelled
                    | OrderStatus::Refunded
            );
            let set = match called_off {
                true => &mut existing.called_off,
                false => &mut existing.placed,
            };
            set.insert((subscription.subscription_id, date));
        }
    }
    Ok(existing)
}

/// The unit price now of each variant the subscriptions name (one batch read); a product
/// withdrawn or a variant gone is absent.
pub async fn unit_prices(
    products: &dyn ProductReads,
    subscriptions: &[Subscription],
) -> Result<HashMap<(Uuid, Uuid), Money>, StoreError> {
    let mut ids: Vec<Uuid> = subscriptions.iter().map(|s| s.product_id).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = products.get_many(&ids).await?;
    Ok(found
        .into_iter()
        .filter(|p| p.is_active)
        .flat_map(|p| {
            let product_id = p.product_id;
            p.variants
                .into_iter()
                .map(move |v| ((product_id, v.variant_id), v.price))
        })
        .collect())
}

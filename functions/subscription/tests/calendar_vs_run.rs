//! The calendar the customer sees and the nightly run agree: over 31 days, a household's
//! subscriptions (every frequency, a pause, a vacation, day changes, cash and a wallet that
//! runs dry) are planned once by the calendar, then the run goes day by day through the
//! real checkout in process (each day's wallet debits settled before the next), and each
//! (subscription, date) has an order exactly where the calendar said a delivery would come.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta, Utc};
use milkrun_checkout::subscription_order_id;
use milkrun_domain::Effects;
use milkrun_domain::calendar::Skip;
use milkrun_domain::checkout::{platform_today, platform_zone};
use milkrun_domain::clock::ManualClock;
use milkrun_domain::money::Money;
use milkrun_domain::ports::{OrderReads, SubscriptionStore, WalletStore};
use milkrun_domain::product::Product;
use milkrun_domain::subscription::{
    DayChange, DayOfWeek, Frequency, Subscription, SubscriptionStatus, Vacation,
};
use milkrun_domain::values::PaymentMethod;
use milkrun_domain::wallet::Cause;
use milkrun_local::{Database, LocalHost, RetryPolicy};
use milkrun_platform::Settings;
use milkrun_subscription::{SubscriptionRun, SubscriptionService};
use milkrun_testkit::dairy::{DairySpec, customer, dairy};
use uuid::Uuid;

const PINCODE: &str = "560034";
const DAYS: u32 = 31;

struct Household {
    host: LocalHost,
    product: Product,
    user_id: Uuid,
    day1: NaiveDate,
}

fn day(world: &Household, n: i64) -> NaiveDate {
    world.day1 + TimeDelta::days(n - 1)
}

async fn open_world() -> Household {
    let data = std::env::temp_dir().join(format!("milkrun-calendar-{}", Uuid::now_v7()));
    let db = Database::in_memory().unwrap();
    let host = LocalHost::over(db, &data, Settings::default(), RetryPolicy::default())
        .await
        .unwrap();
    let stores = &host.adapters.stores;
    let spec = DairySpec {
        pincode: PINCODE,
        cutoff: None,
        daily_order_limit: 1_000,
        stock: 10_000,
        variants: &[("1L", 5_400), ("500ml", 2_800)],
    };
    let (_, product) = dairy(stores, &spec).await;
    let user_id = customer(stores, "household@example.com", PINCODE).await;
    let day1 = platform_today(Utc::now()) + TimeDelta::days(1);
    Household {
        host,
        product,
        user_id,
        day1,
    }
}

impl Household {
    /// A subscription of variant `v` (0: 1L at ₹54, 1: 500ml at ₹28), made `order`-th.
    fn subscription(
        &self,
        v: usize,
        quantity: u32,
        frequency: Frequency,
        method: PaymentMethod,
        order: i64,
    ) -> Subscription {
        let made = milkrun_testkit::subscription(self.user_id, &self.product, v, self.day1);
        Subscription {
            quantity,
            frequency,
            payment_method: method,
            created_at: made.created_at + TimeDelta::milliseconds(order),
            ..made
        }
    }

    fn household(&self) -> Vec<Subscription> {
        use Frequency::*;
        use PaymentMethod::*;
        let mut daily = self.subscription(0, 1, Daily, Wallet, 0);
        daily.day_changes = vec![
            DayChange {
                date: day(self, 7),
                quantity: 0,
            },
            DayChange {
                date: day(self, 8),
                quantity: 3,
            },
        ];
        let mut alternate = self.subscription(1, 2, Alternate, Wallet, 1);
        alternate.start_date = day(self, 2);
        let weekly = self.subscription(0, 1, Weekly, Cod, 2);
        let mut custom = self.subscription(1, 3, Custom, Cod, 3);
        custom.days_of_week = vec![DayOfWeek::Mon, DayOfWeek::Thu];
        custom.end_date = Some(day(self, 20));
        let mut paused = self.subscription(1, 1, Daily, Wallet, 4);
        paused.status = SubscriptionStatus::Paused;
        paused.paused_from = Some(day(self, 5));
        paused.paused_until = Some(day(self, 9));
        let mut cancelled = self.subscription(0, 1, Daily, Cod, 5);
        cancelled.status = SubscriptionStatus::Cancelled;
        vec![daily, alternate, weekly, custom, paused, cancelled]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_places_what_the_calendar_showed_over_31_days() {
    let world = open_world().await;
    // The run's own work happens on this thread (the test's future); only the checkouts
    // the host settles run elsewhere.
    let metrics = milkrun_metrics::testing::capture();
    let stores = world.host.adapters.stores.clone();
    let household = world.household();
    let cancelled = household.last().unwrap().subscription_id;
    for subscription in household {
        stores
            .subscriptions
            .create(&subscription, &Effects::none())
            .await
            .unwrap();
    }
    let vacation = Vacation {
        from: day(&world, 12),
        until: day(&world, 14),
    };
    stores
        .subscriptions
        .set_vacation(world.user_id, Some(vacation), &Effects::none())
        .await
        .unwrap();
    // Enough for about ten days of the wallet subscriptions, then it runs dry.
    let topup = Cause::Topup {
        payment_id: Uuid::now_v7(),
    };
    let credited =
        stores
            .wallets
            .apply(world.user_id, topup, Money::inr(80_000), "top-up", &|_| {
                Effects::none()
            });
    credited.await.unwrap().unwrap();

    let service = SubscriptionService::from_adapters(&world.host.adapters);
    let (calendar, _) = service
        .calendar(world.user_id, Some(world.day1), DAYS)
        .await
        .unwrap();
    // The nightly run comes after tonight's cut-off: tomorrow is closed by then.
    let tonight = (world.day1 - TimeDelta::days(1))
        .and_hms_opt(23, 0, 0)
        .unwrap();
    let tonight = tonight
        .and_local_timezone(platform_zone())
        .unwrap()
        .with_timezone(&Utc);
    let clock = Arc::new(ManualClock::at(tonight));
    let run = SubscriptionRun::from_adapters(&world.host.adapters).with_clock(clock);
    let mut placed = BTreeMap::new();
    for planned in &calendar {
        run.run(planned.date).await.unwrap();
        world.host.settle().await;
        for item in &planned.items {
            let id = subscription_order_id(item.subscription_id, planned.date);
            let order = stores.orders.get(id).await.unwrap();
            placed.insert((planned.date, item.subscription_id), order.is_some());
        }
    }

    let mut reasons = BTreeMap::new();
    for planned in &calendar {
        for item in &planned.items {
            let delivers = item.outcome.is_ok();
            let ordered = placed[&(planned.date, item.subscription_id)];
            assert_eq!(
                ordered, delivers,
                "{} for {}: the calendar said {:?}",
                planned.date, item.subscription_id, item.outcome
            );
            let reason = match item.outcome {
                Ok(_) => "DELIVERS".to_owned(),
                Err(Skip::Rule(reason)) => reason.to_string(),
                Err(other) => format!("{other:?}"),
            };
            *reasons.entry(reason).or_insert(0) += 1;
        }
    }
    // The household meets every way a day can go.
    for reason in [
        "DELIVERS",
        "BalanceTooLow",
        "SKIPPED",
        "VACATION",
        "PAUSED",
        "ENDED",
        "NOT_SCHEDULED",
        "NOT_STARTED",
    ] {
        assert!(
            reasons.contains_key(reason),
            "no day was {reason}: {reasons:?}"
        );
    }
    for planned in &calendar {
        let id = subscription_order_id(cancelled, planned.date);
        assert!(
            stores.orders.get(id).await.unwrap().is_none(),
            "a cancelled subscription orders nothing"
        );
    }
    let wallet = stores.wallets.get(world.user_id).await.unwrap().unwrap();
    assert!(
        wallet.balance.amount < 5_400,
        "the wallet ran dry as planned: {wallet:?}"
    );
    let told = |reason: &str| reasons.get(reason).copied().unwrap_or(0) as u64;
    assert_eq!(
        metrics.count("SubscriptionOrdersCreated", &[]),
        told("DELIVERS")
    );
    assert_eq!(metrics.count("OrdersPlaced", &[]), told("DELIVERS"));
    assert_eq!(
        metrics.count("SubscriptionDaysSkipped", &[]),
        told("BalanceTooLow") + told("Unavailable"),
        "the days told why they get nothing, once each"
    );
}

//! `milkrun-bench subscription-run`: the nightly run's figures for bench/README.md.
//!
//! 1. Reads: the run over 1,000 live subscriptions, alone and beside 10,000 cancelled or
//!    ended ones (10×), on a metered store (DynamoDB's calls and units): what the run reads
//!    follows the live subscriptions, not the table. The checkouts are not started here,
//!    so the figures are the run's own; a checkout's are in the checkout bench.
//! 2. Throughput: 10,000 due subscriptions (500 customers × 20) through the whole checkout
//!    on the local host `milkrun serve` runs, timed from the run's start until the last
//!    checkout has finished.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{NaiveDate, TimeDelta, Utc};
use milkrun_domain::Effects;
use milkrun_domain::StoreError;
use milkrun_domain::checkout::platform_today;
use milkrun_domain::ports::{CheckoutRunner, CheckoutStart, SubscriptionStore};
use milkrun_domain::product::Product;
use milkrun_domain::subscription::{Subscription, SubscriptionStatus};
use milkrun_domain::values::PaymentMethod;
use milkrun_local::{Database, LocalHost, RetryPolicy, SqliteItemStore};
use milkrun_platform::Settings;
use milkrun_store::Stores;
use milkrun_subscription::SubscriptionRun;
use milkrun_testkit::dairy::DairySpec;
use uuid::Uuid;

use crate::checkout::costs::price;
use crate::item_meter::{ItemMeter, Tally};

const PINCODE: &str = "560034";
const PER_CUSTOMER: usize = 20;

/// Starts no checkout: the reads phase counts the run's own calls.
struct NoCheckout;

#[async_trait]
impl CheckoutRunner for NoCheckout {
    async fn start(&self, _: &CheckoutStart) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A dairy serving [`PINCODE`]: its product (1L at ₹54), plenty of stock and capacity.
async fn dairy(stores: &Stores) -> Product {
    let spec = DairySpec {
        pincode: PINCODE,
        cutoff: None,
        daily_order_limit: 100_000,
        stock: 100_000_000,
        variants: &[("1L", 5_400)],
    };
    milkrun_testkit::dairy::dairy(stores, &spec).await.1
}

async fn customer(stores: &Stores, n: usize) -> Uuid {
    let email = format!("bench-{n}-{}@milkrun.test", Uuid::now_v7().simple());
    milkrun_testkit::dairy::customer(stores, &email, PINCODE).await
}

fn subscription(product: &Product, user_id: Uuid, start: NaiveDate) -> Subscription {
    Subscription {
        payment_method: PaymentMethod::Cod,
        ..milkrun_testkit::subscription(user_id, product, 0, start)
    }
}

/// `customers` × 20 live subscriptions, and `inactive` cancelled or ended ones beside them.
async fn subscriptions(
    stores: &Stores,
    product: &Product,
    customers: usize,
    inactive: usize,
    date: NaiveDate,
) {
    for n in 0..customers {
        let user_id = customer(stores, n).await;
        for _ in 0..PER_CUSTOMER {
            let made = subscription(product, user_id, date);
            stores
                .subscriptions
                .create(&made, &Effects::none())
                .await
                .unwrap();
        }
    }
    let gone = customer(stores, usize::MAX).await;
    for n in 0..inactive {
        let mut made = subscription(product, gone, date - TimeDelta::days(60));
        if n % 2 == 0 {
            made.status = SubscriptionStatus::Cancelled;
        } else {
            made.end_date = Some(date - TimeDelta::days(30));
            made.last_generated_for = made.end_date;
        }
        stores
            .subscriptions
            .create(&made, &Effects::none())
            .await
            .unwrap();
    }
}

/// The run's own calls and units over `live` live and `inactive` inactive subscriptions.
async fn metered_run(customers: usize, inactive: usize, date: NaiveDate) -> (Tally, u64) {
    let meter = Arc::new(ItemMeter::new(Arc::new(SqliteItemStore::new(
        Database::in_memory().unwrap(),
    ))));
    let stores = Stores::over(meter.clone());
    let product = dairy(&stores).await;
    subscriptions(&stores, &product, customers, inactive, date).await;
    meter.take();
    meter.meter_capacity(true);
    let report = SubscriptionRun::new(stores, Arc::new(NoCheckout))
        .run(date)
        .await
        .unwrap();
    let mut total = Tally::default();
    for tally in meter.take().values() {
        total.add(tally);
    }
    (total, report.ordered)
}

fn print_reads(label: &str, tally: &Tally, ordered: u64) {
    let queries = tally.calls.get("Query").copied().unwrap_or(0);
    let per = |v: f64| v / ordered.max(1) as f64 * 1000.0;
    let units = tally
        .by_table
        .get("subscriptions")
        .copied()
        .unwrap_or_default();
    let dollars = per(tally.read_units) * price::RRU_NOW
        + per(tally.write_units + tally.index_write_units) * price::WRU_NOW;
    println!(
        "| {label} | {ordered} | {} | {queries} | {:.1} | {:.0} | {:.0} | {:.0} | ${dollars:.4} |",
        tally.total_calls(),
        units[0],
        per(tally.total_calls() as f64),
        per(tally.read_units),
        per(tally.write_units + tally.index_write_units),
    );
}

pub async fn run(customers: usize) {
    let date = platform_today(Utc::now()) + TimeDelta::days(2);
    let live = customers.min(50);
    println!(
        "## the run's own reads and writes ({} live subscriptions; checkouts not started)\n",
        live * PER_CUSTOMER
    );
    println!(
        "| table holds | orders placed | DynamoDB calls | Queries | RRU on subscriptions | calls per 1,000 orders | RRU per 1,000 | WRU per 1,000 | run's DynamoDB $ per 1,000 (today's prices) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let (alone, ordered) = metered_run(live, 0, date).await;
    print_reads("live only", &alone, ordered);
    let inactive = 10 * live * PER_CUSTOMER;
    let (beside, ordered) = metered_run(live, inactive, date).await;
    print_reads(
        &format!("+ {inactive} cancelled or ended (10×)"),
        &beside,
        ordered,
    );

    println!(
        "\n## throughput: {} due subscriptions through the whole checkout (local host)\n",
        customers * PER_CUSTOMER
    );
    let data = std::env::temp_dir().join(format!("milkrun-bench-run-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&data).unwrap();
    let db = Database::open(&data.join("milkrun.db")).unwrap();
    let host = LocalHost::over(db, &data, Settings::default(), RetryPolicy::default())
        .await
        .unwrap();
    let stores = host.adapters.stores.clone();
    let product = dairy(&stores).await;
    subscriptions(&stores, &product, customers, 0, date).await;
    let started = Instant::now();
    let report = SubscriptionRun::from_adapters(&host.adapters)
        .run(date)
        .await
        .unwrap();
    let placed = started.elapsed();
    host.settle().await;
    let settled = started.elapsed();
    println!(
        "placed {} orders in {:.1} s ({:.0}/s); every checkout finished after {:.1} s: {:.0} subscriptions/s through the whole checkout",
        report.ordered,
        placed.as_secs_f64(),
        report.ordered as f64 / placed.as_secs_f64(),
        settled.as_secs_f64(),
        report.ordered as f64 / settled.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&data);
}

//! `milkrun-bench daily-report`: what one daily report reads (bench/README.md), on the
//! metering item store (each call counted as the DynamoDB call it would be, with its read
//! units): the report of a day of `--orders` orders (each with its delivery), alone and
//! beside ten times as many orders of other days; and one vendor's settlement for the
//! month, alone and beside ten other vendors' deliveries that month.

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate, TimeDelta, Utc};
use milkrun_domain::delivery::{Delivery, DeliveryStatus};
use milkrun_domain::money::Money;
use milkrun_domain::order::{NewOrder, Order, OrderItem, OrderStatus, OrderTotals};
use milkrun_domain::ports::{DeliveryWrites, OrderWrites};
use milkrun_domain::report::Month;
use milkrun_domain::values::{DeliverySlot, PaymentMethod};
use milkrun_domain::{Effects, checkout::platform_today};
use milkrun_local::{Database, SqliteItemStore};
use milkrun_reporting::{DailyReportJob, SettlementService};
use milkrun_store::Stores;
use milkrun_testkit::dairy::DairySpec;
use uuid::Uuid;

use crate::item_meter::{ItemMeter, Tally};

/// A DELIVERED order of `vendor` for `date` and its delivered delivery, stored.
async fn delivered_order(stores: &Stores, vendor: Uuid, date: NaiveDate, n: usize) {
    let item = OrderItem {
        product_id: Uuid::from_u128(1 + (n % 7) as u128),
        variant_id: Uuid::from_u128(100),
        name: format!("Milk {}", n % 7),
        variant_name: "1L".into(),
        quantity: 1 + (n % 3) as u32,
        unit_price: Money::inr(5_400),
        vendor_id: Some(vendor),
        fulfilled: true,
    };
    let total = item.line_total().unwrap();
    let new = NewOrder {
        order_id: Uuid::new_v4(),
        user_id: Uuid::now_v7(),
        items: vec![item],
        totals: OrderTotals {
            subtotal: total,
            discount: Money::inr(0),
            total,
        },
        delivery_date: date,
        delivery_slot: [DeliverySlot::Morning, DeliverySlot::Evening][n % 2],
        delivery_address: milkrun_testkit::address("560034"),
        payment_method: PaymentMethod::Cod,
        subscription_id: None,
        idempotency_key: None,
    };
    let mut order = Order::place(new, "bench", Utc::now());
    order.status = OrderStatus::Delivered;
    stores
        .orders
        .create(&order, &Effects::none())
        .await
        .unwrap();
    let mut deliveries = Delivery::schedule_for(&order, "bench", Utc::now());
    deliveries[0].status = DeliveryStatus::Delivered;
    stores
        .deliveries
        .create_many(&deliveries, &Effects::none())
        .await
        .unwrap();
}

/// A vendor serving 560034, stored: its id.
async fn vendor(stores: &Stores) -> Uuid {
    let spec = DairySpec {
        pincode: "560034",
        cutoff: None,
        daily_order_limit: 10_000,
        stock: 0,
        variants: &[],
    };
    milkrun_testkit::dairy::vendor(stores, &spec)
        .await
        .vendor_id
}

fn metered() -> (Arc<ItemMeter>, Stores) {
    let meter = Arc::new(ItemMeter::new(Arc::new(SqliteItemStore::new(
        Database::in_memory().unwrap(),
    ))));
    let stores = Stores::over(meter.clone());
    (meter, stores)
}

fn total(meter: &ItemMeter) -> Tally {
    let mut total = Tally::default();
    for tally in meter.take().values() {
        total.add(tally);
    }
    total
}

fn row(label: &str, what: usize, tally: &Tally) {
    let queries = tally.calls.get("Query").copied().unwrap_or(0);
    let batches = tally.calls.get("BatchGetItem").copied().unwrap_or(0);
    println!(
        "| {label} | {what} | {} | {queries} | {batches} | {:.1} | {:.1} |",
        tally.total_calls(),
        tally.read_units,
        tally.read_units / what.max(1) as f64 * 1000.0,
    );
}

/// The report of a day of `orders`, with `others` orders on the days around it.
async fn report_reads(orders: usize, others: usize, date: NaiveDate) -> Tally {
    let (meter, stores) = metered();
    let seller = Uuid::now_v7();
    for n in 0..orders {
        delivered_order(&stores, seller, date, n).await;
    }
    for n in 0..others {
        let day = date + TimeDelta::days([-2, -1, 1, 2][n % 4]);
        delivered_order(&stores, seller, day, n).await;
    }
    meter.take();
    meter.meter_capacity(true);
    let job = DailyReportJob {
        sources: stores.reports.clone(),
        reports: stores.reports.clone(),
        mailer: Arc::new(milkrun_local::OutboxMailer::new(std::env::temp_dir()).unwrap()),
        vendors: stores.vendors.clone(),
        clock: Arc::new(milkrun_domain::clock::SystemClock),
        to: None,
    };
    let run = job.run(Some(date), "bench").await.unwrap();
    assert_eq!(run.total_orders as usize, orders);
    total(&meter)
}

/// One vendor's settlement for the month of `date`, its `orders` spread over the month,
/// beside `rivals` other vendors with as many each.
async fn settlement_reads(orders: usize, rivals: usize, date: NaiveDate) -> Tally {
    let (meter, stores) = metered();
    let first = date.with_day0(0).unwrap();
    let days = first.checked_add_months(Months::new(1)).unwrap() - first;
    let mut vendors = vec![vendor(&stores).await];
    for _ in 0..rivals {
        vendors.push(vendor(&stores).await);
    }
    for (v, vendor_id) in vendors.iter().enumerate() {
        for n in 0..orders {
            let day = first + TimeDelta::days(((n + v) as i64) % days.num_days());
            delivered_order(&stores, *vendor_id, day, n).await;
        }
    }
    meter.take();
    meter.meter_capacity(true);
    let service = SettlementService {
        sources: stores.reports.clone(),
        vendors: stores.vendors.clone(),
        commission_bps: 800,
    };
    let month = Month::parse(&first.format("%Y-%m").to_string()).unwrap();
    let settled = service.settle(vendors[0], month).await.unwrap();
    assert_eq!(settled.total.deliveries as usize, orders);
    total(&meter)
}

pub async fn run(orders: usize) {
    let date = platform_today(Utc::now()) - TimeDelta::days(1);
    println!("## one daily report's reads ({orders} orders that day, each delivered)\n");
    println!(
        "| other days hold | orders reported | DynamoDB calls | Queries | BatchGets | RRU | RRU per 1,000 orders |"
    );
    println!("|---|---|---|---|---|---|---|");
    row("nothing", orders, &report_reads(orders, 0, date).await);
    let others = 10 * orders;
    row(
        &format!("{others} orders (10×)"),
        orders,
        &report_reads(orders, others, date).await,
    );
    println!("\n## one vendor's settlement for a month ({orders} delivered orders)\n");
    println!(
        "| other vendors that month | orders settled | DynamoDB calls | Queries | BatchGets | RRU | RRU per 1,000 orders |"
    );
    println!("|---|---|---|---|---|---|---|");
    row("none", orders, &settlement_reads(orders, 0, date).await);
    row(
        &format!("10 × {orders} orders"),
        orders,
        &settlement_reads(orders, 10, date).await,
    );
}

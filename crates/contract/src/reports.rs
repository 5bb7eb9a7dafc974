//! The report stores' contract: one delivery day's orders read from every shard of the day
//! index and nothing of another day, a vendor's deliveries of the days asked and no other
//! vendor's, orders read back by id in batches, and a stored report replaced by a rerun with
//! its audit entry and event, while a replayed commit changes nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Days, NaiveDate, TimeDelta, Utc};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{AuditLog, DailyReports, DeliveryWrites, OrderWrites, ReportSources};
use milkrun_domain::report::{DailyReport, DailyReportReady};
use milkrun_domain::values::DeliverySlot;
use milkrun_domain::{Effects, StoreError};
use milkrun_store::Stores;
use uuid::Uuid;

use crate::deliveries::sample_delivery;
use crate::none;
use crate::orders::sample_order;

/// A date of its own, so other cases' and runs' orders on a shared table stay out of it.
fn fresh_date() -> NaiveDate {
    let offset = Uuid::new_v4().as_u128() % 300_000;
    NaiveDate::from_ymd_opt(2200, 1, 1).unwrap() + Days::new(offset as u64)
}

async fn place(stores: &Stores, date: NaiveDate) -> Uuid {
    let mut order = sample_order(Uuid::now_v7(), Utc::now());
    order.order_id = Uuid::new_v4();
    order.delivery_date = date;
    stores.orders.create(&order, &none()).await.unwrap();
    order.order_id
}

pub async fn a_days_orders_come_from_every_shard_and_no_other_day(stores: Stores) {
    let date = fresh_date();
    let mut placed = BTreeSet::new();
    for _ in 0..24 {
        placed.insert(place(&stores, date).await);
    }
    place(&stores, date.succ_opt().unwrap()).await;
    place(&stores, date.pred_opt().unwrap()).await;
    // A status change rewrites the order: it stays in its day.
    let first = *placed.first().unwrap();
    let mut order = milkrun_domain::ports::OrderReads::get(stores.orders.as_ref(), first)
        .await
        .unwrap()
        .unwrap();
    order.status = milkrun_domain::order::OrderStatus::Cancelled;
    stores.orders.update(order, &none()).await.unwrap();
    let read = stores.reports.orders_of_day(date).await.unwrap();
    let ids: BTreeSet<Uuid> = read.iter().map(|o| o.order_id).collect();
    assert_eq!(read.len(), placed.len(), "each order once");
    assert_eq!(ids, placed);
    let changed = read.iter().find(|o| o.order_id == first).unwrap();
    assert_eq!(
        changed.status,
        milkrun_domain::order::OrderStatus::Cancelled
    );
    assert!(
        stores
            .reports
            .orders_of_day(fresh_date())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn orders_are_read_back_by_id_in_batches(stores: Stores) {
    let date = fresh_date();
    let mut ids = Vec::new();
    for _ in 0..130 {
        ids.push(place(&stores, date).await);
    }
    ids.push(Uuid::new_v4());
    let read = stores.reports.orders(&ids).await.unwrap();
    let found: BTreeSet<Uuid> = read.iter().map(|o| o.order_id).collect();
    assert_eq!(
        found.len(),
        130,
        "past one batch of 100, the unknown id left out"
    );
    assert!(found.iter().all(|id| ids.contains(id)));
}

pub async fn a_vendors_deliveries_of_the_days_asked_and_no_one_elses(stores: Stores) {
    let (vendor, other) = (Uuid::now_v7(), Uuid::now_v7());
    let (d1, d2) = (fresh_date(), fresh_date());
    let d3 = d1.succ_opt().unwrap();
    let wanted = [
        sample_delivery(Uuid::now_v7(), vendor, d1, DeliverySlot::Morning, "560001"),
        sample_delivery(Uuid::now_v7(), vendor, d1, DeliverySlot::Evening, "560002"),
        sample_delivery(Uuid::now_v7(), vendor, d2, DeliverySlot::Evening, "560001"),
    ];
    let others = [
        sample_delivery(Uuid::now_v7(), other, d1, DeliverySlot::Morning, "560001"),
        sample_delivery(Uuid::now_v7(), vendor, d3, DeliverySlot::Morning, "560001"),
    ];
    for delivery in wanted.iter().chain(&others) {
        let one = std::slice::from_ref(delivery);
        stores.deliveries.create_many(one, &none()).await.unwrap();
    }
    let ids = |list: &[milkrun_domain::delivery::Delivery]| -> BTreeSet<Uuid> {
        list.iter().map(|d| d.delivery_id).collect()
    };
    let read = stores
        .reports
        .vendor_deliveries(vendor, &[d1, d2])
        .await
        .unwrap();
    assert_eq!(ids(&read), ids(&wanted));
    let day = stores.reports.deliveries_of_day(d1).await.unwrap();
    let expected: BTreeSet<Uuid> = [&wanted[0], &wanted[1], &others[0]]
        .iter()
        .map(|d| d.delivery_id)
        .collect();
    assert_eq!(
        ids(&day),
        expected,
        "both slots, every vendor, that day only"
    );
}

fn effects_of(report: &DailyReport, marker: &str) -> Effects {
    let context = AuditContext::system(marker, "contract");
    let entry = context.entry("DAILY_REPORT_GENERATED", "REPORT", report.date);
    let mut event = EventEnvelope::new(&DailyReportReady::of(report), marker);
    event.event_id = DailyReportReady::event_id(report);
    Effects {
        audit: vec![entry],
        events: vec![event],
    }
}

pub async fn a_rerun_replaces_the_report_and_a_replay_changes_nothing(stores: Stores) {
    let date = fresh_date();
    let reports: Arc<dyn DailyReports> = stores.reports.clone();
    assert_eq!(reports.get(date).await.unwrap(), None);
    let first = DailyReport::compute(date, &[], &[], Utc::now());
    let marker = Uuid::new_v4().to_string();
    reports
        .save(&first, &effects_of(&first, &marker))
        .await
        .unwrap();
    assert_eq!(reports.get(date).await.unwrap().as_ref(), Some(&first));
    let replay = reports.save(&first, &effects_of(&first, &marker)).await;
    assert!(
        matches!(replay, Err(StoreError::AlreadyExists)),
        "{replay:?}"
    );
    let second = DailyReport::compute(date, &[], &[], first.generated_at + TimeDelta::hours(1));
    reports
        .save(&second, &effects_of(&second, &marker))
        .await
        .unwrap();
    assert_eq!(reports.get(date).await.unwrap(), Some(second));
    let trail = stores
        .audit
        .for_entity(&date.to_string(), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        trail.items.len(),
        2,
        "one entry per run, none for the replay"
    );
}

#[macro_export]
macro_rules! report_store_contract {
    ($make:expr) => {
        $crate::report_store_contract!(@cases $make;
            a_days_orders_come_from_every_shard_and_no_other_day,
            orders_are_read_back_by_id_in_batches,
            a_vendors_deliveries_of_the_days_asked_and_no_one_elses,
            a_rerun_replaces_the_report_and_a_replay_changes_nothing,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::reports::$case(milkrun_store::Stores::over($make)).await;
            }
        )+
    };
}

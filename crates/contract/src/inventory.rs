//! The `InventoryStore` contract: conditional stock changes and idempotent reservations.

use std::sync::Arc;

use chrono::NaiveDate;
use milkrun_domain::StoreError;
use milkrun_domain::inventory::{
    DEFAULT_LOW_STOCK_THRESHOLD, ReservationRefusal, ReservationStatus, StockKey, StockLine,
    StockOperation, VendorDay,
};
use milkrun_domain::ports::InventoryStore;
use uuid::Uuid;

use crate::{no_settlement_effects, no_stock_effects, none};

/// A row key no other test uses, so suites can share one table.
pub fn fresh_key() -> StockKey {
    StockKey {
        vendor_id: Uuid::new_v4(),
        product_id: Uuid::new_v4(),
        variant_id: Uuid::new_v4(),
    }
}

async fn stocked(store: &Arc<dyn InventoryStore>, units: u32) -> StockKey {
    let key = fresh_key();
    store
        .adjust(&key, StockOperation::Set(units), None, &no_stock_effects)
        .await
        .unwrap();
    key
}

async fn levels(store: &Arc<dyn InventoryStore>, key: &StockKey) -> (u32, u32) {
    let row = store.get(key).await.unwrap().expect("row exists");
    (row.stock, row.reserved)
}

pub async fn add_set_and_subtract_change_stock(store: Arc<dyn InventoryStore>) {
    let key = fresh_key();
    let created = store
        .adjust(&key, StockOperation::Add(5), None, &no_stock_effects)
        .await
        .unwrap();
    assert_eq!(
        (created.stock, created.reserved, created.low_stock_threshold),
        (5, 0, DEFAULT_LOW_STOCK_THRESHOLD)
    );
    assert_eq!(created.key(), key);
    assert_eq!(
        store
            .adjust(&key, StockOperation::Set(20), Some(3), &no_stock_effects)
            .await
            .unwrap()
            .stock,
        20
    );
    let after = store
        .adjust(&key, StockOperation::Subtract(7), None, &no_stock_effects)
        .await
        .unwrap();
    assert_eq!(
        (after.stock, after.low_stock_threshold),
        (13, 3),
        "threshold kept unless given"
    );
    assert_eq!(
        store
            .adjust(&key, StockOperation::Add(2), None, &no_stock_effects)
            .await
            .unwrap()
            .stock,
        15
    );
    assert_eq!(store.get(&key).await.unwrap().unwrap().stock, 15);
}

pub async fn subtract_below_zero_is_refused_and_changes_nothing(store: Arc<dyn InventoryStore>) {
    let key = stocked(&store, 3).await;
    assert!(matches!(
        store
            .adjust(&key, StockOperation::Subtract(4), None, &no_stock_effects)
            .await,
        Err(StoreError::InsufficientStock)
    ));
    assert_eq!(levels(&store, &key).await, (3, 0));
    let missing = fresh_key();
    assert!(matches!(
        store
            .adjust(
                &missing,
                StockOperation::Subtract(1),
                None,
                &no_stock_effects
            )
            .await,
        Err(StoreError::InsufficientStock)
    ));
    assert_eq!(
        store.get(&missing).await.unwrap(),
        None,
        "a refused subtract creates no row"
    );
}

pub async fn fifty_concurrent_subtracts_take_exactly_the_stock(store: Arc<dyn InventoryStore>) {
    let key = stocked(&store, 20).await;
    let attempts = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .adjust(&key, StockOperation::Subtract(1), None, &no_stock_effects)
                .await
        })
    });
    let results: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let succeeded = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(succeeded, 20, "exactly as many succeed as there was stock");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(StoreError::InsufficientStock)))
    );
    assert_eq!(levels(&store, &key).await, (0, 0));
}

pub async fn reserve_release_and_commit_are_idempotent_by_order(store: Arc<dyn InventoryStore>) {
    let key = stocked(&store, 10).await;
    let order = Uuid::new_v4();
    let line = [StockLine { key, quantity: 3 }];
    assert_eq!(
        store.reserve(order, &line, &none()).await.unwrap().status,
        ReservationStatus::Reserved
    );
    assert_eq!(levels(&store, &key).await, (7, 3));
    store.reserve(order, &line, &none()).await.unwrap();
    assert_eq!(
        levels(&store, &key).await,
        (7, 3),
        "a repeated reserve takes nothing twice"
    );
    assert_eq!(
        store
            .release(order, &no_settlement_effects)
            .await
            .unwrap()
            .unwrap()
            .status,
        ReservationStatus::Released
    );
    assert_eq!(levels(&store, &key).await, (10, 0));
    store.release(order, &no_settlement_effects).await.unwrap();
    assert_eq!(
        levels(&store, &key).await,
        (10, 0),
        "a second release gives nothing back twice"
    );
    store.reserve(order, &line, &none()).await.unwrap();
    assert_eq!(
        levels(&store, &key).await,
        (7, 3),
        "a retry after a release reserves again"
    );
    assert_eq!(
        store
            .commit(order, &no_settlement_effects)
            .await
            .unwrap()
            .unwrap()
            .status,
        ReservationStatus::Committed
    );
    assert_eq!(levels(&store, &key).await, (7, 0));
    store.commit(order, &no_settlement_effects).await.unwrap();
    store.release(order, &no_settlement_effects).await.unwrap();
    assert_eq!(
        levels(&store, &key).await,
        (7, 0),
        "nothing moves after delivery"
    );
    assert_eq!(
        store
            .release(Uuid::new_v4(), &no_settlement_effects)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .commit(Uuid::new_v4(), &no_settlement_effects)
            .await
            .unwrap(),
        None
    );
}

pub async fn a_reservation_is_all_or_nothing(store: Arc<dyn InventoryStore>) {
    let plenty = stocked(&store, 10).await;
    let scarce = stocked(&store, 1).await;
    let order = Uuid::new_v4();
    let lines = [
        StockLine {
            key: plenty,
            quantity: 4,
        },
        StockLine {
            key: scarce,
            quantity: 2,
        },
    ];
    assert!(matches!(
        store.reserve(order, &lines, &none()).await,
        Err(StoreError::InsufficientStock)
    ));
    assert_eq!(levels(&store, &plenty).await, (10, 0));
    assert_eq!(levels(&store, &scarce).await, (1, 0));
    assert_eq!(
        store.release(order, &no_settlement_effects).await.unwrap(),
        None,
        "a refused reserve leaves no reservation"
    );
}

pub async fn concurrent_reserves_for_different_orders_never_oversell(
    store: Arc<dyn InventoryStore>,
) {
    let key = stocked(&store, 10).await;
    let orders = (0..24).map(|i| {
        let store = store.clone();
        let quantity = 1 + i % 2;
        tokio::spawn(async move {
            (
                quantity,
                store
                    .reserve(Uuid::new_v4(), &[StockLine { key, quantity }], &none())
                    .await,
            )
        })
    });
    let results: Vec<_> = futures::future::join_all(orders)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let taken: u32 = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(q, _)| q)
        .sum();
    assert!(
        results
            .iter()
            .all(|(_, r)| matches!(r, Ok(_) | Err(StoreError::InsufficientStock)))
    );
    let (stock, reserved) = levels(&store, &key).await;
    assert_eq!(
        (stock + reserved, reserved),
        (10, taken),
        "no unit taken twice, none lost"
    );
    assert!(taken >= 9, "the stock was used up ({taken} taken)");
}

pub async fn concurrent_repeats_of_one_order_take_once(store: Arc<dyn InventoryStore>) {
    let key = stocked(&store, 10).await;
    let order = Uuid::new_v4();
    let repeats = (0..10).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .reserve(order, &[StockLine { key, quantity: 2 }], &none())
                .await
        })
    });
    for result in futures::future::join_all(repeats).await {
        assert_eq!(result.unwrap().unwrap().status, ReservationStatus::Reserved);
    }
    assert_eq!(levels(&store, &key).await, (8, 2));
}

pub async fn vendor_listing_holds_only_that_vendors_rows(store: Arc<dyn InventoryStore>) {
    let mine = stocked(&store, 1).await;
    let also_mine = StockKey {
        product_id: Uuid::new_v4(),
        ..mine
    };
    store
        .adjust(&also_mine, StockOperation::Add(2), None, &no_stock_effects)
        .await
        .unwrap();
    stocked(&store, 5).await;
    let rows = store.for_vendor(mine.vendor_id).await.unwrap();
    let mut keys: Vec<StockKey> = rows.iter().map(|r| r.key()).collect();
    keys.sort();
    let mut expected = vec![mine, also_mine];
    expected.sort();
    assert_eq!(keys, expected);
}

pub async fn batch_reads_return_the_rows_that_exist(store: Arc<dyn InventoryStore>) {
    let first = stocked(&store, 3).await;
    let second = stocked(&store, 4).await;
    let missing = fresh_key();
    let mut keys = vec![first, missing, second];
    // More keys than one DynamoDB batch takes, so adapters must split the read.
    keys.extend((0..120).map(|_| fresh_key()));
    let mut rows: Vec<(StockKey, u32)> = store
        .get_many(&keys)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key(), r.stock))
        .collect();
    rows.sort();
    let mut expected = vec![(first, 3), (second, 4)];
    expected.sort();
    assert_eq!(rows, expected);
    assert!(store.get_many(&[]).await.unwrap().is_empty());
}

pub async fn the_sweep_finds_exactly_the_rows_under_their_threshold(
    store: Arc<dyn InventoryStore>,
) {
    let low = stocked(&store, DEFAULT_LOW_STOCK_THRESHOLD - 1).await;
    let at_threshold = stocked(&store, DEFAULT_LOW_STOCK_THRESHOLD).await;
    let custom = fresh_key();
    store
        .adjust(
            &custom,
            StockOperation::Set(50),
            Some(60),
            &no_stock_effects,
        )
        .await
        .unwrap();
    let swept: Vec<StockKey> = store
        .below_threshold()
        .await
        .unwrap()
        .iter()
        .map(|r| r.key())
        .collect();
    assert!(swept.contains(&low), "a row under the default threshold");
    assert!(swept.contains(&custom), "a row under its own threshold");
    assert!(
        !swept.contains(&at_threshold),
        "at the threshold is not under it"
    );
}

fn delivery(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, day).expect("a date")
}

fn vendor_day(vendor_id: Uuid, date: NaiveDate, daily_order_limit: u32) -> VendorDay {
    VendorDay {
        vendor_id,
        date,
        daily_order_limit,
    }
}

fn full(day: &VendorDay) -> ReservationRefusal {
    ReservationRefusal::VendorFull {
        vendor_id: day.vendor_id,
        date: day.date,
    }
}

pub async fn concurrent_reservations_fill_a_vendor_day_exactly(store: Arc<dyn InventoryStore>) {
    let key = stocked(&store, 100).await;
    let day = vendor_day(key.vendor_id, delivery(1), 5);
    let orders = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let line = [StockLine { key, quantity: 1 }];
            store
                .reserve_for_date(Uuid::new_v4(), &line, &[day], &none())
                .await
                .unwrap()
        })
    });
    let results: Vec<_> = futures::future::join_all(orders)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5, "the limit");
    assert!(
        results.iter().all(|r| r.is_ok() || *r == Err(full(&day))),
        "the others hear that the vendor is full: {results:?}"
    );
    let taken = store.orders_taken(key.vendor_id, day.date).await.unwrap();
    assert_eq!(taken, 5);
    assert_eq!(
        levels(&store, &key).await,
        (95, 5),
        "only the five took stock"
    );
    let next_day = vendor_day(key.vendor_id, delivery(2), 5);
    let line = [StockLine { key, quantity: 1 }];
    let another = store
        .reserve_for_date(Uuid::new_v4(), &line, &[next_day], &none())
        .await
        .unwrap();
    assert!(another.is_ok(), "another date has its own capacity");
    assert_eq!(
        store
            .orders_taken(key.vendor_id, delivery(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .orders_taken(key.vendor_id, delivery(3))
            .await
            .unwrap(),
        0,
        "an untouched day has taken nothing"
    );
}

pub async fn a_release_gives_the_vendor_day_back(store: Arc<dyn InventoryStore>) {
    let key = stocked(&store, 10).await;
    let day = vendor_day(key.vendor_id, delivery(4), 2);
    let line = [StockLine { key, quantity: 1 }];
    let reserve = |order| {
        let store = store.clone();
        async move {
            store
                .reserve_for_date(order, &line, &[day], &none())
                .await
                .unwrap()
        }
    };
    let (first, second, third) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let held = reserve(first).await.unwrap();
    assert_eq!(held.capacity, [day], "the reservation knows what it took");
    reserve(second).await.unwrap();
    assert_eq!(reserve(third).await, Err(full(&day)));
    store.release(first, &no_settlement_effects).await.unwrap();
    store.release(first, &no_settlement_effects).await.unwrap();
    let taken = || store.orders_taken(key.vendor_id, day.date);
    assert_eq!(
        taken().await.unwrap(),
        1,
        "one release gives one back, once"
    );
    assert!(reserve(third).await.is_ok(), "the freed order fits");
    assert_eq!(taken().await.unwrap(), 2);
    store.commit(second, &no_settlement_effects).await.unwrap();
    assert_eq!(taken().await.unwrap(), 2, "a delivered order keeps its day");
    assert_eq!(levels(&store, &key).await, (8, 1));
}

pub async fn a_reservation_short_of_stock_takes_no_capacity(store: Arc<dyn InventoryStore>) {
    let plenty = stocked(&store, 10).await;
    let scarce = stocked(&store, 1).await;
    let days = [
        vendor_day(plenty.vendor_id, delivery(5), 5),
        vendor_day(scarce.vendor_id, delivery(5), 5),
    ];
    let order = Uuid::new_v4();
    let lines = [
        StockLine {
            key: plenty,
            quantity: 4,
        },
        StockLine {
            key: scarce,
            quantity: 2,
        },
    ];
    assert_eq!(
        store
            .reserve_for_date(order, &lines, &days, &none())
            .await
            .unwrap(),
        Err(ReservationRefusal::OutOfStock(scarce)),
        "the short line is named"
    );
    for day in &days {
        let taken = store.orders_taken(day.vendor_id, day.date).await.unwrap();
        assert_eq!(taken, 0, "no capacity taken");
    }
    assert_eq!(levels(&store, &plenty).await, (10, 0));
    assert_eq!(
        store.release(order, &no_settlement_effects).await.unwrap(),
        None
    );
}

pub async fn a_reservation_over_a_full_vendor_takes_no_stock(store: Arc<dyn InventoryStore>) {
    let roomy = stocked(&store, 10).await;
    let busy = stocked(&store, 10).await;
    let roomy_day = vendor_day(roomy.vendor_id, delivery(6), 5);
    let busy_day = vendor_day(busy.vendor_id, delivery(6), 1);
    let line = |key| StockLine { key, quantity: 2 };
    let earlier = store
        .reserve_for_date(Uuid::new_v4(), &[line(busy)], &[busy_day], &none())
        .await
        .unwrap();
    assert!(earlier.is_ok());
    let order = Uuid::new_v4();
    assert_eq!(
        store
            .reserve_for_date(
                order,
                &[line(roomy), line(busy)],
                &[roomy_day, busy_day],
                &none()
            )
            .await
            .unwrap(),
        Err(full(&busy_day)),
        "the full vendor is named"
    );
    assert_eq!(levels(&store, &roomy).await, (10, 0), "no stock taken");
    assert_eq!(
        levels(&store, &busy).await,
        (8, 2),
        "only the earlier order's"
    );
    let roomy_taken = store.orders_taken(roomy.vendor_id, roomy_day.date).await;
    assert_eq!(roomy_taken.unwrap(), 0, "nor the other vendor's day");
    assert_eq!(
        store
            .orders_taken(busy.vendor_id, busy_day.date)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.release(order, &no_settlement_effects).await.unwrap(),
        None
    );
}

pub async fn repeating_a_reservation_takes_capacity_once(store: Arc<dyn InventoryStore>) {
    let key = stocked(&store, 10).await;
    let day = vendor_day(key.vendor_id, delivery(7), 5);
    let order = Uuid::new_v4();
    let repeats = (0..10).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let line = [StockLine { key, quantity: 2 }];
            store
                .reserve_for_date(order, &line, &[day], &none())
                .await
                .unwrap()
        })
    });
    for result in futures::future::join_all(repeats).await {
        assert_eq!(result.unwrap().unwrap().capacity, [day]);
    }
    store
        .reserve_for_date(order, &[StockLine { key, quantity: 2 }], &[day], &none())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.orders_taken(key.vendor_id, day.date).await.unwrap(),
        1
    );
    assert_eq!(levels(&store, &key).await, (8, 2));
}

pub async fn a_partly_delivered_order_keeps_what_was_delivered_and_returns_the_rest(
    store: Arc<dyn InventoryStore>,
) {
    let (delivered, failed) = (stocked(&store, 10).await, stocked(&store, 10).await);
    let date = delivery(6);
    let days = [
        vendor_day(delivered.vendor_id, date, 5),
        vendor_day(failed.vendor_id, date, 5),
    ];
    let lines = [
        StockLine {
            key: delivered,
            quantity: 3,
        },
        StockLine {
            key: failed,
            quantity: 4,
        },
    ];
    let order = Uuid::new_v4();
    store
        .reserve_for_date(order, &lines, &days, &none())
        .await
        .unwrap()
        .unwrap();
    let delivered_by = [delivered.vendor_id];
    let settle = || store.release_undelivered(order, &delivered_by, &no_settlement_effects);
    assert_eq!(
        settle().await.unwrap().unwrap().status,
        ReservationStatus::Committed
    );
    let taken = |vendor_id| store.orders_taken(vendor_id, date);
    let after = (
        levels(&store, &delivered).await,
        levels(&store, &failed).await,
        taken(delivered.vendor_id).await.unwrap(),
        taken(failed.vendor_id).await.unwrap(),
    );
    assert_eq!(
        after,
        ((7, 0), (10, 0), 1, 0),
        "the delivered units left for good and their day stays taken; the rest came back"
    );
    settle().await.unwrap();
    store.release(order, &no_settlement_effects).await.unwrap();
    store.commit(order, &no_settlement_effects).await.unwrap();
    assert_eq!(
        (
            levels(&store, &delivered).await,
            levels(&store, &failed).await
        ),
        ((7, 0), (10, 0)),
        "settled once"
    );

    let nobody = Uuid::new_v4();
    store.reserve(nobody, &lines, &none()).await.unwrap();
    let stranger = [Uuid::new_v4()];
    let released = store
        .release_undelivered(nobody, &stranger, &no_settlement_effects)
        .await;
    assert_eq!(
        released.unwrap().unwrap().status,
        ReservationStatus::Released,
        "none of the order's vendors delivered: a release"
    );
    assert_eq!(levels(&store, &failed).await, (10, 0));
    assert_eq!(
        store
            .release_undelivered(Uuid::new_v4(), &[], &no_settlement_effects)
            .await
            .unwrap(),
        None
    );
}

/// The largest order the API takes, each line from a vendor of its own, reserves and
/// settles in one transaction each: the line limit is derived from the transaction budget
/// both item stores keep (a 101st write is refused, `items.rs`).
pub async fn the_largest_order_from_as_many_vendors_reserves_and_settles(
    store: Arc<dyn InventoryStore>,
) {
    let date = delivery(7);
    let mut lines = Vec::new();
    for _ in 0..milkrun_domain::cart::MAX_LINES {
        let key = stocked(&store, 3).await;
        lines.push(StockLine { key, quantity: 2 });
    }
    let days: Vec<VendorDay> = lines
        .iter()
        .map(|line| vendor_day(line.key.vendor_id, date, 5))
        .collect();
    let (released, committed) = (Uuid::new_v4(), Uuid::new_v4());
    for order in [released, committed] {
        let held = store.reserve_for_date(order, &lines, &days, &none()).await;
        let held = held.unwrap().unwrap_or_else(|r| panic!("{r:?}"));
        assert_eq!(held.lines.len(), lines.len());
        if order == released {
            store.release(order, &no_settlement_effects).await.unwrap();
        }
    }
    store
        .commit(committed, &no_settlement_effects)
        .await
        .unwrap();
    for line in &lines {
        assert_eq!(
            levels(&store, &line.key).await,
            (1, 0),
            "one order left with its units"
        );
        let taken = store.orders_taken(line.key.vendor_id, date).await.unwrap();
        assert_eq!(taken, 1, "the released order gave its day back");
    }
}

/// Expands to one `#[tokio::test]` per inventory contract case.
#[macro_export]
macro_rules! inventory_store_contract {
    ($make:expr) => {
        $crate::inventory_store_contract!(@cases $make;
            add_set_and_subtract_change_stock,
            subtract_below_zero_is_refused_and_changes_nothing,
            fifty_concurrent_subtracts_take_exactly_the_stock,
            reserve_release_and_commit_are_idempotent_by_order,
            a_reservation_is_all_or_nothing,
            concurrent_reserves_for_different_orders_never_oversell,
            concurrent_repeats_of_one_order_take_once,
            concurrent_reservations_fill_a_vendor_day_exactly,
            a_release_gives_the_vendor_day_back,
            a_partly_delivered_order_keeps_what_was_delivered_and_returns_the_rest,
            the_largest_order_from_as_many_vendors_reserves_and_settles,
            a_reservation_short_of_stock_takes_no_capacity,
            a_reservation_over_a_full_vendor_takes_no_stock,
            repeating_a_reservation_takes_capacity_once,
            vendor_listing_holds_only_that_vendors_rows,
            batch_reads_return_the_rows_that_exist,
            the_sweep_finds_exactly_the_rows_under_their_threshold,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::inventory::$case(milkrun_store::Stores::over($make).stock).await;
            }
        )+
    };
}

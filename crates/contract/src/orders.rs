//! The `OrderStore` contract: an order written whole and once, changed by compare-and-swap,
//! listed newest first per customer, per status (moving with its status) and all together,
//! and its insert committed with an idempotency key's completion or not at all.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::delivery::Delivery;
use milkrun_domain::idempotency::{Claim, ClaimKey, Fingerprint, IdempotencyKey, StoredResponse};
use milkrun_domain::money::Money;
use milkrun_domain::order::{NewOrder, Order, OrderItem, OrderStatus, OrderTotals};
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{DeliveryReads, IdempotencyStore, OrderReads, OrderStore, OrderWrites};
use milkrun_domain::user::Address;
use milkrun_domain::values::{AddressLabel, DeliverySlot, PaymentMethod, Pincode};
use milkrun_store::item::encode;
use milkrun_store::ops::{Key, VERSION_ATTRIBUTE, Write};
use milkrun_store::packed::PACKED;
use milkrun_store::table::ORDERS;
use milkrun_store::{ItemError, Stores, Value};
use serde_json::json;
use uuid::Uuid;

use crate::none;

/// A PENDING order of `user_id` placed at `at`: two lines, one of them short.
pub fn sample_order(user_id: Uuid, at: DateTime<Utc>) -> Order {
    let line = |name: &str, price: u64, quantity: u32, fulfilled: bool| OrderItem {
        product_id: Uuid::now_v7(),
        variant_id: Uuid::now_v7(),
        name: name.into(),
        variant_name: "1L".into(),
        quantity,
        unit_price: Money::inr(price),
        vendor_id: Some(Uuid::now_v7()),
        fulfilled,
    };
    let new = NewOrder {
        order_id: Uuid::now_v7(),
        user_id,
        items: vec![
            line("Toned milk", 5600, 2, true),
            line("Paneer", 9000, 1, false),
        ],
        totals: OrderTotals {
            subtotal: Money::inr(11_200),
            discount: Money::inr(200),
            total: Money::inr(11_000),
        },
        delivery_date: NaiveDate::from_ymd_opt(2030, 1, 2).unwrap(),
        delivery_slot: DeliverySlot::Morning,
        delivery_address: Address {
            label: AddressLabel::parse("home").unwrap(),
            line1: "12 MG Road".into(),
            line2: Some("Flat 4".into()),
            city: "Bengaluru".into(),
            state: "KA".into(),
            pincode: Pincode::parse("560001").unwrap(),
            country: "IN".into(),
            is_default: true,
        },
        payment_method: PaymentMethod::Upi,
        subscription_id: None,
        idempotency_key: Some(format!("key-{}", Uuid::now_v7())),
    };
    let mut order = Order::place(new, user_id.to_string(), at);
    order.flags.partial_fulfillment = true;
    order
}

/// Which listing a case pages through.
#[derive(Clone, Copy)]
enum Listing {
    User(Uuid),
    Status(Option<OrderStatus>),
    InCheckout,
}

async fn all_pages(store: &Arc<dyn OrderStore>, listing: Listing, limit: u32) -> Vec<Order> {
    let (mut orders, mut page) = (Vec::new(), PageRequest::first(limit));
    loop {
        let result = match listing {
            Listing::User(user_id) => store.for_user(user_id, &page).await,
            Listing::Status(status) => store.by_status(status, &page).await,
            Listing::InCheckout => store.in_checkout(&page).await,
        }
        .unwrap();
        assert!(result.items.len() <= limit as usize);
        if result.next_cursor.is_some() {
            assert_eq!(result.items.len(), limit as usize, "short only at the end");
        }
        orders.extend(result.items);
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    let created: Vec<i64> = orders
        .iter()
        .map(|o| o.created_at.timestamp_micros())
        .collect();
    assert!(created.is_sorted_by(|a, b| a >= b), "newest first");
    orders
}

fn ids(orders: &[Order]) -> Vec<Uuid> {
    orders.iter().map(|o| o.order_id).collect()
}

/// The ids of `listed` among `mine`, in listing order.
fn mine_in(listed: &[Order], mine: &[Uuid]) -> Vec<Uuid> {
    ids(listed)
        .into_iter()
        .filter(|id| mine.contains(id))
        .collect()
}

pub async fn an_order_round_trips_whole_and_is_created_once(store: Arc<dyn OrderStore>) {
    let mut order = sample_order(Uuid::now_v7(), Utc::now());
    order.flags.fraud_flag = true;
    order.payment_id = Some(Uuid::now_v7());
    order.delivery_ids = vec![Uuid::now_v7(), Uuid::now_v7()];
    order.subscription_id = Some(Uuid::now_v7());
    store.create(&order, &none()).await.unwrap();
    assert_eq!(
        store.get(order.order_id).await.unwrap(),
        Some(order.clone())
    );
    assert!(matches!(
        store.create(&order, &none()).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(Uuid::now_v7()).await.unwrap(), None);
}

pub async fn updates_are_compare_and_swap_on_the_version(store: Arc<dyn OrderStore>) {
    let order = sample_order(Uuid::now_v7(), Utc::now());
    store.create(&order, &none()).await.unwrap();
    let mut moved = order.clone();
    moved
        .move_to(OrderStatus::PaymentPending, "checkout", None, Utc::now())
        .unwrap();
    let saved = store.update(moved, &none()).await.unwrap();
    assert_eq!(saved.version, order.version + 1);
    assert_eq!(
        store.get(order.order_id).await.unwrap(),
        Some(saved.clone())
    );
    assert_eq!(saved.status_history.len(), 2);

    let mut stale = order.clone();
    stale
        .move_to(
            OrderStatus::Cancelled,
            "user",
            Some("changed mind".into()),
            Utc::now(),
        )
        .unwrap();
    assert!(matches!(
        store.update(stale, &none()).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(store.get(order.order_id).await.unwrap(), Some(saved));
    assert!(matches!(
        store
            .update(sample_order(Uuid::now_v7(), Utc::now()), &none())
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn sixteen_concurrent_updates_of_one_read_have_one_winner(store: Arc<dyn OrderStore>) {
    let order = sample_order(Uuid::now_v7(), Utc::now());
    store.create(&order, &none()).await.unwrap();
    let updates = (0..16).map(|n| {
        let (store, mut order) = (store.clone(), order.clone());
        let to = if n % 2 == 0 {
            OrderStatus::PaymentPending
        } else {
            OrderStatus::Cancelled
        };
        order
            .move_to(to, format!("racer-{n}"), None, Utc::now())
            .unwrap();
        tokio::spawn(async move { store.update(order, &none()).await })
    });
    let results = futures::future::join_all(updates).await;
    let (mut winners, mut conflicts) = (Vec::new(), 0);
    for result in results {
        match result.expect("task ran") {
            Ok(order) => winners.push(order),
            Err(StoreError::VersionConflict) => conflicts += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((winners.len(), conflicts), (1, 15));
    assert_eq!(
        store.get(order.order_id).await.unwrap(),
        Some(winners[0].clone())
    );
}

pub async fn a_customer_lists_only_their_own_orders_newest_first(store: Arc<dyn OrderStore>) {
    let (customer, neighbour) = (Uuid::now_v7(), Uuid::now_v7());
    let base = Utc::now() - Duration::hours(1);
    let mut placed = Vec::new();
    for minutes in [0, 10, 5, 20, 15] {
        let order = sample_order(customer, base + Duration::minutes(minutes));
        store.create(&order, &none()).await.unwrap();
        placed.push(order);
    }
    let theirs = sample_order(neighbour, base + Duration::minutes(12));
    store.create(&theirs, &none()).await.unwrap();
    placed.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    let listed = all_pages(&store, Listing::User(customer), 2).await;
    assert_eq!(listed, placed, "whole orders, newest first, pages of 2");
    assert_eq!(
        ids(&all_pages(&store, Listing::User(neighbour), 2).await),
        [theirs.order_id]
    );
    assert!(
        all_pages(&store, Listing::User(Uuid::now_v7()), 5)
            .await
            .is_empty()
    );
}

pub async fn an_order_moves_between_status_listings_with_its_status(store: Arc<dyn OrderStore>) {
    let user = Uuid::now_v7();
    let (older, newer) = (
        sample_order(user, Utc::now() - Duration::seconds(2)),
        sample_order(user, Utc::now()),
    );
    for order in [&older, &newer] {
        store.create(order, &none()).await.unwrap();
    }
    let mine = [older.order_id, newer.order_id];
    let pending = Listing::Status(Some(OrderStatus::Pending));
    let listed = all_pages(&store, pending, 100).await;
    assert!(listed.iter().all(|o| o.status == OrderStatus::Pending));
    assert_eq!(mine_in(&listed, &mine), [newer.order_id, older.order_id]);

    let mut order = newer.clone();
    for to in [OrderStatus::PaymentPending, OrderStatus::Confirmed] {
        order.move_to(to, "checkout", None, Utc::now()).unwrap();
        order = store.update(order, &none()).await.unwrap();
    }
    let status = |s| Listing::Status(Some(s));
    let in_listing = |listed: Vec<Order>| mine_in(&listed, &mine);
    assert_eq!(
        in_listing(all_pages(&store, pending, 100).await),
        [older.order_id],
        "left PENDING"
    );
    assert!(
        in_listing(all_pages(&store, status(OrderStatus::PaymentPending), 100).await).is_empty(),
        "passed through PAYMENT_PENDING"
    );
    let confirmed = all_pages(&store, status(OrderStatus::Confirmed), 100).await;
    assert!(confirmed.iter().all(|o| o.status == OrderStatus::Confirmed));
    assert_eq!(mine_in(&confirmed, &mine), [newer.order_id]);
    assert_eq!(
        confirmed.iter().find(|o| o.order_id == newer.order_id),
        Some(&order)
    );
}

/// The stalled-checkout sweep's one listing holds an order in each of the checkout's
/// statuses (which share an index partition) and none that left them; each status's own
/// listing still holds only its own.
pub async fn the_sweeps_listing_holds_the_checkouts_statuses_and_no_other(
    store: Arc<dyn OrderStore>,
) {
    let user = Uuid::now_v7();
    let mut placed = Vec::new();
    for (seconds, moves) in [
        (3, &[][..]),
        (2, &[OrderStatus::PaymentPending][..]),
        (
            1,
            &[OrderStatus::PaymentPending, OrderStatus::Confirmed][..],
        ),
        (
            0,
            &[
                OrderStatus::PaymentPending,
                OrderStatus::Confirmed,
                OrderStatus::Preparing,
            ][..],
        ),
    ] {
        let mut order = sample_order(user, Utc::now() - Duration::seconds(seconds));
        store.create(&order, &none()).await.unwrap();
        for to in moves {
            order.move_to(*to, "checkout", None, Utc::now()).unwrap();
            order = store.update(order, &none()).await.unwrap();
        }
        placed.push(order);
    }
    let mine = ids(&placed);
    let listed = all_pages(&store, Listing::InCheckout, 2).await;
    assert!(listed.iter().all(|o| o.status.is_in_checkout()));
    assert_eq!(
        mine_in(&listed, &mine),
        [mine[2], mine[1], mine[0]],
        "newest first, not the PREPARING one"
    );
    for order in &placed {
        let own = all_pages(&store, Listing::Status(Some(order.status)), 2).await;
        assert!(own.iter().all(|o| o.status == order.status));
        assert_eq!(mine_in(&own, &mine), [order.order_id], "{:?}", order.status);
    }
    // Sharing a partition, each listing's cursor still resumes only that listing.
    let first = PageRequest::first(1);
    let pending = store.by_status(Some(OrderStatus::Pending), &first).await;
    let cursor = pending.unwrap().next_cursor;
    let sweep = store.in_checkout(&first).await.unwrap().next_cursor;
    let resumed = PageRequest {
        limit: 1,
        cursor: cursor.clone(),
    };
    if cursor.is_some() {
        let other = store.by_status(Some(OrderStatus::PaymentPending), &resumed);
        assert!(matches!(other.await, Err(StoreError::InvalidCursor)));
        let swept = store.in_checkout(&resumed).await;
        assert!(matches!(swept, Err(StoreError::InvalidCursor)));
    }
    let resumed = PageRequest {
        limit: 1,
        cursor: sweep.clone(),
    };
    assert!(sweep.is_some(), "three of mine at least");
    let pending = store.by_status(Some(OrderStatus::Pending), &resumed).await;
    assert!(matches!(pending, Err(StoreError::InvalidCursor)));
}

pub async fn every_order_is_listed_newest_first_whatever_its_status(store: Arc<dyn OrderStore>) {
    let base = Utc::now() - Duration::minutes(30);
    let mut placed = Vec::new();
    for (minutes, user) in [
        (0, Uuid::now_v7()),
        (2, Uuid::now_v7()),
        (1, Uuid::now_v7()),
    ] {
        let order = sample_order(user, base + Duration::minutes(minutes));
        store.create(&order, &none()).await.unwrap();
        placed.push(order);
    }
    let mut failed = placed[0].clone();
    failed
        .move_to(
            OrderStatus::Failed,
            "checkout",
            Some("OUT_OF_STOCK".into()),
            Utc::now(),
        )
        .unwrap();
    store.update(failed, &none()).await.unwrap();
    let mine = ids(&placed);
    let listed = all_pages(&store, Listing::Status(None), 3).await;
    assert_eq!(mine_in(&listed, &mine), [mine[1], mine[2], mine[0]]);
}

pub async fn a_cursor_resumes_only_its_own_listing(store: Arc<dyn OrderStore>) {
    let user = Uuid::now_v7();
    for seconds in 0..3 {
        let order = sample_order(user, Utc::now() - Duration::seconds(seconds));
        store.create(&order, &none()).await.unwrap();
    }
    let first = store.for_user(user, &PageRequest::first(1)).await.unwrap();
    let cursor = first.next_cursor.expect("more follow");
    let elsewhere = [
        store
            .for_user(
                Uuid::now_v7(),
                &PageRequest {
                    limit: 1,
                    cursor: Some(cursor.clone()),
                },
            )
            .await,
        store
            .by_status(
                None,
                &PageRequest {
                    limit: 1,
                    cursor: Some(cursor.clone()),
                },
            )
            .await,
        store
            .by_status(
                Some(OrderStatus::Pending),
                &PageRequest {
                    limit: 1,
                    cursor: Some("garbage".into()),
                },
            )
            .await,
    ];
    for refused in elsewhere {
        assert!(matches!(refused, Err(StoreError::InvalidCursor)));
    }
}

fn claim_key(user_id: Uuid) -> ClaimKey {
    let key = IdempotencyKey::parse(&format!("order {}", Uuid::now_v7())).unwrap();
    ClaimKey::new("orders", user_id, key)
}

fn answer(order: &Order) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: json!({"orderId": order.order_id, "status": "PENDING"}),
    }
}

pub async fn an_order_commits_with_its_idempotency_completion_or_not_at_all(stores: Stores) {
    let user = Uuid::now_v7();
    let (key, fingerprint) = (claim_key(user), Fingerprint::of(&json!({"items": [1]})));
    let claimed = stores.idempotency.claim(&key, &fingerprint).await.unwrap();
    assert_eq!(claimed, Claim::Claimed);
    let order = sample_order(user, Utc::now());

    // Another body's completion does not hold the claim: neither is written.
    let other = Fingerprint::of(&json!({"items": [2]}));
    let mut writes = stores.orders.create_writes(&order).unwrap();
    writes.push(
        stores
            .idempotency
            .complete_in(&key, &other, &answer(&order)),
    );
    let refused = stores.items.transact(writes).await;
    assert!(matches!(
        refused,
        Err(ItemError::ConditionFailed { index: 1 })
    ));
    assert_eq!(stores.orders.get(order.order_id).await.unwrap(), None);
    let still = stores.idempotency.claim(&key, &fingerprint).await.unwrap();
    assert_eq!(still, Claim::InProgress);

    // The holder's: both.
    let mut writes = stores.orders.create_writes(&order).unwrap();
    writes.push(
        stores
            .idempotency
            .complete_in(&key, &fingerprint, &answer(&order)),
    );
    stores.items.transact(writes).await.unwrap();
    assert_eq!(
        stores.orders.get(order.order_id).await.unwrap(),
        Some(order.clone())
    );
    let replayed = stores.idempotency.claim(&key, &fingerprint).await.unwrap();
    assert_eq!(replayed, Claim::Replay(answer(&order)));

    // The order exists already: the completion of a fresh claim is not written either.
    let (key, fingerprint) = (claim_key(user), Fingerprint::of(&json!({"items": [3]})));
    stores.idempotency.claim(&key, &fingerprint).await.unwrap();
    let mut writes = stores.orders.create_writes(&order).unwrap();
    writes.push(
        stores
            .idempotency
            .complete_in(&key, &fingerprint, &answer(&order)),
    );
    let taken = stores.items.transact(writes).await;
    assert!(matches!(
        taken,
        Err(ItemError::ConditionFailed { index: 0 })
    ));
    let still = stores.idempotency.claim(&key, &fingerprint).await.unwrap();
    assert_eq!(still, Claim::InProgress);
}

/// The deliveries an order is prepared with, one per vendor of its fulfilled lines.
fn deliveries_of(order: &Order) -> Vec<Delivery> {
    Delivery::schedule_for(order, "checkout", Utc::now())
}

pub async fn an_order_moves_with_its_new_deliveries_or_not_at_all(stores: Stores) {
    let order = sample_order(Uuid::now_v7(), Utc::now());
    stores.orders.create(&order, &none()).await.unwrap();
    let deliveries = deliveries_of(&order);
    assert!(!deliveries.is_empty());

    // The order changed since it was read: neither it nor a delivery is written.
    let mut changed = order.clone();
    changed.payment_token = Some("tok_ok".into());
    let changed = stores.orders.update(changed, &none()).await.unwrap();
    let mut stale = order.clone();
    stale.delivery_ids = deliveries.iter().map(|d| d.delivery_id).collect();
    let refused = stores
        .orders
        .update_with_deliveries(stale.clone(), &deliveries, &none())
        .await;
    assert!(
        matches!(refused, Err(StoreError::VersionConflict)),
        "{refused:?}"
    );
    assert_eq!(
        stores.orders.get(order.order_id).await.unwrap(),
        Some(changed.clone())
    );
    assert!(
        stores
            .deliveries
            .for_order(&stale)
            .await
            .unwrap()
            .is_empty()
    );

    // As read: both, the order at its next version.
    let mut prepared = changed.clone();
    prepared.delivery_ids = stale.delivery_ids.clone();
    let saved = stores
        .orders
        .update_with_deliveries(prepared, &deliveries, &none())
        .await
        .unwrap();
    assert_eq!(saved.version, changed.version + 1);
    assert_eq!(
        stores.orders.get(order.order_id).await.unwrap(),
        Some(saved.clone())
    );
    let mut written = stores.deliveries.for_order(&saved).await.unwrap();
    written.sort_by_key(|d| d.delivery_id);
    let mut expected = deliveries.clone();
    expected.sort_by_key(|d| d.delivery_id);
    assert_eq!(written, expected);

    // The deliveries exist already: the order is not written either.
    let mut again = saved.clone();
    again.payment_token = None;
    let taken = stores
        .orders
        .update_with_deliveries(again, &deliveries, &none())
        .await;
    assert!(matches!(taken, Err(StoreError::AlreadyExists)), "{taken:?}");
    assert_eq!(
        stores.orders.get(order.order_id).await.unwrap(),
        Some(saved)
    );

    // A vanished order.
    let mut missing = sample_order(Uuid::now_v7(), Utc::now());
    missing.version = 3;
    missing.delivery_ids = deliveries_of(&missing)
        .iter()
        .map(|d| d.delivery_id)
        .collect();
    let gone = stores
        .orders
        .update_with_deliveries(missing.clone(), &deliveries_of(&missing), &none())
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    assert!(
        stores
            .deliveries
            .for_order(&missing)
            .await
            .unwrap()
            .is_empty()
    );
}

/// An order is stored packed beside its keys (its lines and timeline in no attribute of
/// their own), and one written as attributes, before orders were packed, still reads.
pub async fn an_order_is_packed_and_one_written_as_attributes_still_reads(stores: Stores) {
    let order = sample_order(Uuid::now_v7(), Utc::now());
    stores.orders.create(&order, &none()).await.unwrap();
    let key = Key::partition(format!("ORDER#{}", order.order_id));
    let stored = stores
        .items
        .get(&ORDERS, &key, true)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(stored.get(PACKED), Some(Value::B(_))));
    assert!(stored.get("items").is_none() && stored.get("statusHistory").is_none());

    let mut before = sample_order(Uuid::now_v7(), Utc::now());
    before.payment_id = Some(Uuid::now_v7());
    before.resumes = 2;
    let why = Some("PARTIAL_FULFILLMENT".to_owned());
    before
        .move_to(OrderStatus::PaymentPending, "checkout", why, Utc::now())
        .unwrap();
    let mut item = encode(&before).unwrap();
    Key::partition(format!("ORDER#{}", before.order_id)).add_to(&ORDERS, &mut item);
    item.insert(VERSION_ATTRIBUTE.into(), Value::N("3".into()));
    stores
        .items
        .write(Write::put(&ORDERS, item, None))
        .await
        .unwrap();
    let read = stores.orders.get(before.order_id).await.unwrap();
    assert_eq!(
        read,
        Some(Order {
            version: 3,
            ..before
        })
    );
}

#[macro_export]
macro_rules! order_store_contract {
    ($make:expr) => {
        $crate::order_store_contract!(@cases $make;
            an_order_round_trips_whole_and_is_created_once,
            updates_are_compare_and_swap_on_the_version,
            sixteen_concurrent_updates_of_one_read_have_one_winner,
            a_customer_lists_only_their_own_orders_newest_first,
            an_order_moves_between_status_listings_with_its_status,
            the_sweeps_listing_holds_the_checkouts_statuses_and_no_other,
            every_order_is_listed_newest_first_whatever_its_status,
            a_cursor_resumes_only_its_own_listing,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn an_order_commits_with_its_idempotency_completion_or_not_at_all() {
            $crate::orders::an_order_commits_with_its_idempotency_completion_or_not_at_all(
                milkrun_store::Stores::over($make),
            )
            .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn an_order_is_packed_and_one_written_as_attributes_still_reads() {
            $crate::orders::an_order_is_packed_and_one_written_as_attributes_still_reads(
                milkrun_store::Stores::over($make),
            )
            .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn an_order_moves_with_its_new_deliveries_or_not_at_all() {
            $crate::orders::an_order_moves_with_its_new_deliveries_or_not_at_all(
                milkrun_store::Stores::over($make),
            )
            .await;
        }
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::orders::$case(milkrun_store::Stores::over($make).orders).await;
            }
        )+
    };
}

//! The `DeliveryStore` contract: deliveries created all or nothing and never twice, found by
//! the order that names them, changed by compare-and-swap, and listed as a round of one date
//! and slot, one vendor's or every vendor's, by pincode then delivery id, a status change
//! keeping them in it.

use std::sync::Arc;

use chrono::{Days, NaiveDate, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::delivery::{Delivery, DeliveryStatus, DeliveryStatusChange};
use milkrun_domain::order::Order;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::DeliveryStore;
use milkrun_domain::values::DeliverySlot;
use uuid::Uuid;

use crate::none;

/// A date of its own for one case's round, so rounds of other cases and earlier runs on a
/// shared table stay out of its day listing.
fn fresh_date() -> NaiveDate {
    let offset = Uuid::new_v4().as_u128() % 300_000;
    NaiveDate::from_ymd_opt(2100, 1, 1).unwrap() + Days::new(offset as u64)
}

/// A SCHEDULED delivery of `order_id` by `vendor_id` to `pincode` for `date` and `slot`.
pub fn sample_delivery(
    order_id: Uuid,
    vendor_id: Uuid,
    date: NaiveDate,
    slot: DeliverySlot,
    pincode: &str,
) -> Delivery {
    let now = Utc::now();
    Delivery {
        delivery_id: Delivery::id_for(order_id, vendor_id),
        order_id,
        user_id: Uuid::now_v7(),
        vendor_id,
        delivery_date: date,
        delivery_slot: slot,
        address: milkrun_testkit::address(pincode),
        status: DeliveryStatus::Scheduled,
        driver_id: None,
        proof_url: None,
        status_history: vec![DeliveryStatusChange {
            status: DeliveryStatus::Scheduled,
            at: now,
            by: "checkout".into(),
            reason: None,
        }],
        created_at: now,
        updated_at: now,
        version: 0,
    }
}

/// An order naming `deliveries` (as ScheduleDelivery writes it), whose `for_order` they are.
fn naming(order_id: Uuid, deliveries: &[Delivery]) -> Order {
    let mut order = crate::orders::sample_order(Uuid::now_v7(), Utc::now());
    order.order_id = order_id;
    order.delivery_ids = deliveries.iter().map(|d| d.delivery_id).collect();
    order
}

/// Every page of a round, `limit` at a time.
async fn whole_round(
    store: &Arc<dyn DeliveryStore>,
    vendor_id: Option<Uuid>,
    date: NaiveDate,
    slot: DeliverySlot,
    limit: u32,
) -> Vec<Delivery> {
    let (mut deliveries, mut page) = (Vec::new(), PageRequest::first(limit));
    loop {
        let result = store.round(vendor_id, date, slot, &page).await.unwrap();
        assert!(result.items.len() <= limit as usize);
        deliveries.extend(result.items);
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    deliveries
}

/// `deliveries` in round order: by pincode, then delivery id.
fn in_round_order(mut deliveries: Vec<Delivery>) -> Vec<Delivery> {
    deliveries.sort_by_key(|d| (d.address.pincode.as_str().to_owned(), d.delivery_id));
    deliveries
}

pub async fn deliveries_round_trip_whole_and_are_found_by_their_order(
    store: Arc<dyn DeliveryStore>,
) {
    let (order_id, date) = (Uuid::now_v7(), fresh_date());
    let mut deliveries: Vec<Delivery> = (0..3)
        .map(|_| {
            sample_delivery(
                order_id,
                Uuid::now_v7(),
                date,
                DeliverySlot::Evening,
                "560001",
            )
        })
        .collect();
    deliveries[1].driver_id = Some(Uuid::now_v7());
    deliveries[1].proof_url = Some("https://proof.example/1.jpg".into());
    store.create_many(&deliveries, &none()).await.unwrap();
    for delivery in &deliveries {
        assert_eq!(
            store.get(delivery.delivery_id).await.unwrap(),
            Some(delivery.clone())
        );
    }
    let order = naming(order_id, &deliveries);
    deliveries.sort_by_key(|d| d.delivery_id);
    assert_eq!(store.for_order(&order).await.unwrap(), deliveries);
    let unscheduled = naming(Uuid::now_v7(), &[]);
    assert!(store.for_order(&unscheduled).await.unwrap().is_empty());
    assert_eq!(store.get(Uuid::now_v7()).await.unwrap(), None);
    store.create_many(&[], &none()).await.unwrap();
}

pub async fn creating_deliveries_is_all_or_nothing_and_never_twice(store: Arc<dyn DeliveryStore>) {
    let (order_id, date, slot) = (Uuid::now_v7(), fresh_date(), DeliverySlot::Morning);
    let make = |vendor_id| sample_delivery(order_id, vendor_id, date, slot, "560002");
    let (a, b, c) = (
        make(Uuid::now_v7()),
        make(Uuid::now_v7()),
        make(Uuid::now_v7()),
    );
    store
        .create_many(&[a.clone(), b.clone()], &none())
        .await
        .unwrap();

    // The same schedule again (a retried step, with a later timestamp): refused whole.
    let mut again = [a.clone(), b.clone()];
    for delivery in &mut again {
        delivery.created_at = Utc::now();
        delivery.updated_at = delivery.created_at;
    }
    assert!(matches!(
        store.create_many(&again, &none()).await,
        Err(StoreError::AlreadyExists)
    ));
    // One new id beside a taken one: the new one is not written either.
    assert!(matches!(
        store.create_many(&[c.clone(), b.clone()], &none()).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(c.delivery_id).await.unwrap(), None);
    assert_eq!(store.get(a.delivery_id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get(b.delivery_id).await.unwrap(), Some(b.clone()));
    // An order naming the one never written reads the two that were.
    let order = naming(order_id, &[a.clone(), c, b.clone()]);
    let mut expected = vec![a, b];
    expected.sort_by_key(|d| d.delivery_id);
    assert_eq!(store.for_order(&order).await.unwrap(), expected);
}

pub async fn a_vendor_round_lists_only_its_date_and_slot_by_pincode(store: Arc<dyn DeliveryStore>) {
    let (vendor, other_vendor) = (Uuid::now_v7(), Uuid::now_v7());
    let (date, slot) = (fresh_date(), DeliverySlot::Morning);
    let mut round = Vec::new();
    for pincode in ["560003", "560001", "560002", "560001", "560003"] {
        round.push(sample_delivery(Uuid::now_v7(), vendor, date, slot, pincode));
    }
    let elsewhere = [
        sample_delivery(Uuid::now_v7(), other_vendor, date, slot, "560001"),
        sample_delivery(
            Uuid::now_v7(),
            vendor,
            date.succ_opt().unwrap(),
            slot,
            "560001",
        ),
        sample_delivery(
            Uuid::now_v7(),
            vendor,
            date,
            DeliverySlot::Evening,
            "560001",
        ),
    ];
    store.create_many(&round, &none()).await.unwrap();
    store.create_many(&elsewhere, &none()).await.unwrap();

    let listed = whole_round(&store, Some(vendor), date, slot, 2).await;
    assert_eq!(
        listed,
        in_round_order(round),
        "whole deliveries, by pincode then id, pages of 2"
    );
    let pincodes: Vec<&str> = listed.iter().map(|d| d.address.pincode.as_str()).collect();
    assert_eq!(pincodes, ["560001", "560001", "560002", "560003", "560003"]);
    assert_eq!(
        whole_round(&store, Some(other_vendor), date, slot, 10).await,
        [elsewhere[0].clone()]
    );
    assert_eq!(
        whole_round(&store, Some(vendor), date, DeliverySlot::Evening, 10).await,
        [elsewhere[2].clone()]
    );
    assert!(
        whole_round(&store, Some(Uuid::now_v7()), date, slot, 10)
            .await
            .is_empty()
    );

    // A cursor resumes only the round it came from.
    let first = store
        .round(Some(vendor), date, slot, &PageRequest::first(1))
        .await
        .unwrap();
    let cursor = first.next_cursor.expect("more follow");
    let elsewhere_page = PageRequest {
        limit: 1,
        cursor: Some(cursor),
    };
    for refused in [
        store
            .round(Some(other_vendor), date, slot, &elsewhere_page)
            .await,
        store.round(None, date, slot, &elsewhere_page).await,
    ] {
        assert!(matches!(refused, Err(StoreError::InvalidCursor)));
    }
}

pub async fn the_admin_round_spans_every_vendor_by_pincode(store: Arc<dyn DeliveryStore>) {
    let (date, slot) = (fresh_date(), DeliverySlot::Evening);
    let vendors = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    let mut round = Vec::new();
    for (n, pincode) in ["560009", "560004", "560007", "560004", "560001", "560009"]
        .into_iter()
        .enumerate()
    {
        let vendor = vendors[n % vendors.len()];
        round.push(sample_delivery(Uuid::now_v7(), vendor, date, slot, pincode));
    }
    let other_slot = sample_delivery(
        Uuid::now_v7(),
        vendors[0],
        date,
        DeliverySlot::Morning,
        "560001",
    );
    store.create_many(&round, &none()).await.unwrap();
    store
        .create_many(std::slice::from_ref(&other_slot), &none())
        .await
        .unwrap();

    let listed = whole_round(&store, None, date, slot, 4).await;
    assert!(
        listed
            .iter()
            .all(|d| d.delivery_date == date && d.delivery_slot == slot)
    );
    let mine: Vec<Delivery> = listed
        .into_iter()
        .filter(|d| round.iter().any(|r| r.delivery_id == d.delivery_id))
        .collect();
    assert_eq!(mine, in_round_order(round.clone()));
    let morning = whole_round(&store, None, date, DeliverySlot::Morning, 10).await;
    assert!(
        morning
            .iter()
            .any(|d| d.delivery_id == other_slot.delivery_id)
    );
    assert!(
        morning
            .iter()
            .all(|d| round.iter().all(|r| r.delivery_id != d.delivery_id))
    );
}

pub async fn a_status_update_is_compare_and_swap_and_keeps_it_in_its_round(
    store: Arc<dyn DeliveryStore>,
) {
    let (vendor, date, slot) = (Uuid::now_v7(), fresh_date(), DeliverySlot::Morning);
    let delivery = sample_delivery(Uuid::now_v7(), vendor, date, slot, "560005");
    let neighbour = sample_delivery(Uuid::now_v7(), vendor, date, slot, "560006");
    store
        .create_many(&[delivery.clone(), neighbour.clone()], &none())
        .await
        .unwrap();

    let mut assigned = delivery.clone();
    assigned.driver_id = Some(Uuid::now_v7());
    assigned
        .move_to(
            DeliveryStatus::Assigned,
            vendor.to_string(),
            None,
            Utc::now(),
        )
        .unwrap();
    let saved = store.update(assigned, &none()).await.unwrap();
    assert_eq!(saved.version, delivery.version + 1);
    assert_eq!(
        store.get(delivery.delivery_id).await.unwrap(),
        Some(saved.clone())
    );
    assert_eq!(
        whole_round(&store, Some(vendor), date, slot, 10).await,
        [saved.clone(), neighbour.clone()],
        "still in its round, as it is now"
    );
    let all = whole_round(&store, None, date, slot, 100).await;
    assert!(all.contains(&saved));
    let order = naming(delivery.order_id, std::slice::from_ref(&delivery));
    assert_eq!(
        store.for_order(&order).await.unwrap(),
        std::slice::from_ref(&saved),
        "its order reads it as it is now"
    );

    let mut stale = delivery.clone();
    stale
        .move_to(
            DeliveryStatus::Failed,
            vendor.to_string(),
            Some("no driver".into()),
            Utc::now(),
        )
        .unwrap();
    assert!(matches!(
        store.update(stale, &none()).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(store.get(delivery.delivery_id).await.unwrap(), Some(saved));
    let unknown = sample_delivery(Uuid::now_v7(), vendor, date, slot, "560005");
    assert!(matches!(
        store.update(unknown, &none()).await,
        Err(StoreError::NotFound)
    ));
}

#[macro_export]
macro_rules! delivery_store_contract {
    ($make:expr) => {
        $crate::delivery_store_contract!(@cases $make;
            deliveries_round_trip_whole_and_are_found_by_their_order,
            creating_deliveries_is_all_or_nothing_and_never_twice,
            a_vendor_round_lists_only_its_date_and_slot_by_pincode,
            the_admin_round_spans_every_vendor_by_pincode,
            a_status_update_is_compare_and_swap_and_keeps_it_in_its_round,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::deliveries::$case(milkrun_store::Stores::over($make).deliveries).await;
            }
        )+
    };
}

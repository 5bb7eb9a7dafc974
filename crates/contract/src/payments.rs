//! The `PaymentStore` contract: a payment written whole and once, one per order however
//! close the race, found by its order, and changed by compare-and-swap.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::StoreError;
use milkrun_domain::money::Money;
use milkrun_domain::payment::{Payment, PaymentStatus};
use milkrun_domain::ports::PaymentStore;
use milkrun_domain::values::PaymentMethod;
use uuid::Uuid;

use crate::none;

/// A PENDING payment of `order_id`, with a fresh payment id.
pub fn sample_payment(order_id: Uuid) -> Payment {
    let now = Utc::now();
    Payment {
        payment_id: Uuid::now_v7(),
        order_id,
        user_id: Uuid::now_v7(),
        amount: Money::inr(11_000),
        method: PaymentMethod::Upi,
        status: PaymentStatus::Pending,
        attempts: 1,
        gateway_reference: None,
        failure_reason: None,
        fraud_score: 0,
        refunded_amount: milkrun_domain::money::Money::inr(0),
        refunds: Vec::new(),
        created_at: now,
        updated_at: now,
        version: 0,
    }
}

pub async fn a_payment_round_trips_whole_and_is_found_by_its_order(store: Arc<dyn PaymentStore>) {
    let mut payment = sample_payment(Uuid::now_v7());
    payment.gateway_reference = Some("sim_ref".into());
    payment.fraud_score = 40;
    store.create(&payment, &none()).await.unwrap();
    assert_eq!(
        store.get(payment.payment_id).await.unwrap(),
        Some(payment.clone())
    );
    assert_eq!(
        store.for_order(payment.order_id).await.unwrap(),
        Some(payment.clone())
    );
    assert!(matches!(
        store.create(&payment, &none()).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(store.for_order(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        store.get(payment.order_id).await.unwrap(),
        None,
        "an order id is no payment id"
    );
}

pub async fn a_second_payment_for_one_order_is_refused_and_nothing_written(
    store: Arc<dyn PaymentStore>,
) {
    let first = sample_payment(Uuid::now_v7());
    store.create(&first, &none()).await.unwrap();
    let second = sample_payment(first.order_id);
    assert!(matches!(
        store.create(&second, &none()).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(second.payment_id).await.unwrap(), None);
    assert_eq!(
        store.for_order(first.order_id).await.unwrap(),
        Some(first.clone())
    );

    // A taken payment id is refused for another order too, and claims nothing for it.
    let mut reused = sample_payment(Uuid::now_v7());
    reused.payment_id = first.payment_id;
    assert!(matches!(
        store.create(&reused, &none()).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.for_order(reused.order_id).await.unwrap(), None);
    assert_eq!(store.get(first.payment_id).await.unwrap(), Some(first));
}

pub async fn eight_concurrent_payments_for_one_order_have_one_winner(store: Arc<dyn PaymentStore>) {
    let order_id = Uuid::now_v7();
    let racers: Vec<Payment> = (0..8).map(|_| sample_payment(order_id)).collect();
    let creates = racers.iter().cloned().map(|payment| {
        let store = store.clone();
        tokio::spawn(async move { store.create(&payment, &none()).await.map(|()| payment) })
    });
    let (mut winners, mut refused) = (Vec::new(), 0);
    for result in futures::future::join_all(creates).await {
        match result.expect("task ran") {
            Ok(payment) => winners.push(payment),
            Err(StoreError::AlreadyExists) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((winners.len(), refused), (1, 7));
    let winner = winners.remove(0);
    assert_eq!(
        store.for_order(order_id).await.unwrap(),
        Some(winner.clone())
    );
    for racer in racers.iter().filter(|p| p.payment_id != winner.payment_id) {
        assert_eq!(store.get(racer.payment_id).await.unwrap(), None);
    }
}

pub async fn payment_updates_are_compare_and_swap_on_the_version(store: Arc<dyn PaymentStore>) {
    let payment = sample_payment(Uuid::now_v7());
    store.create(&payment, &none()).await.unwrap();
    let mut paid = payment.clone();
    paid.status = PaymentStatus::Succeeded;
    paid.gateway_reference = Some("sim_paid".into());
    paid.attempts = 2;
    paid.updated_at = Utc::now();
    let saved = store.update(paid, &none()).await.unwrap();
    assert_eq!(saved.version, payment.version + 1);
    assert_eq!(
        store.get(payment.payment_id).await.unwrap(),
        Some(saved.clone())
    );
    assert_eq!(
        store.for_order(payment.order_id).await.unwrap(),
        Some(saved.clone()),
        "the order finds the payment as it is now"
    );

    let mut stale = payment.clone();
    stale.status = PaymentStatus::Failed;
    stale.failure_reason = Some("declined".into());
    assert!(matches!(
        store.update(stale, &none()).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(store.get(payment.payment_id).await.unwrap(), Some(saved));
    assert!(matches!(
        store.update(sample_payment(Uuid::now_v7()), &none()).await,
        Err(StoreError::NotFound)
    ));
}

#[macro_export]
macro_rules! payment_store_contract {
    ($make:expr) => {
        $crate::payment_store_contract!(@cases $make;
            a_payment_round_trips_whole_and_is_found_by_its_order,
            a_second_payment_for_one_order_is_refused_and_nothing_written,
            eight_concurrent_payments_for_one_order_have_one_winner,
            payment_updates_are_compare_and_swap_on_the_version,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::payments::$case(milkrun_store::Stores::over($make).payments).await;
            }
        )+
    };
}

//! The `PaymentStore` contract: a payment written whole and once, one per order however
//! close the race, found by its order, and changed by compare-and-swap.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::StoreError;
use milkrun_domain::money::Money;
use milkrun_domain::payment::{Payment, PaymentStatus};
use milkrun_domain::ports::{PaymentReads, PaymentStore};
use milkrun_domain::values::PaymentMethod;
use milkrun_store::ItemStore;
use milkrun_store::item::{n, s};
use milkrun_store::ops::{Key, Write};
use milkrun_store::table::PAYMENTS;
use uuid::Uuid;

use crate::none;

/// A PENDING payment of `order_id`, under the order's payment id.
pub fn sample_payment(order_id: Uuid) -> Payment {
    let now = Utc::now();
    Payment {
        payment_id: Payment::id_for(order_id),
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
    assert_eq!(
        store.for_order(first.order_id).await.unwrap(),
        Some(first.clone())
    );

    // Under an id not derived from its order (another order's): refused, nothing written.
    let mut foreign = sample_payment(Uuid::now_v7());
    foreign.payment_id = first.payment_id;
    assert!(store.create(&foreign, &none()).await.is_err());
    foreign.payment_id = Uuid::now_v7();
    assert!(store.create(&foreign, &none()).await.is_err());
    assert_eq!(store.get(foreign.payment_id).await.unwrap(), None);
    assert_eq!(store.for_order(foreign.order_id).await.unwrap(), None);
    assert_eq!(store.get(first.payment_id).await.unwrap(), Some(first));
}

/// A payment from before the derived ids: a random id, and `PAYMENT_OF#<orderId>` naming it.
pub async fn a_payment_from_before_the_derived_ids_is_found_through_its_claim(
    items: Arc<dyn ItemStore>,
) {
    let store = milkrun_store::Stores::over(items.clone()).payments;
    let mut payment = sample_payment(Uuid::now_v7());
    payment.payment_id = Uuid::now_v7();
    let mut item = milkrun_store::item::encode(&payment).unwrap();
    Key::partition(format!("PAYMENT#{}", payment.payment_id)).add_to(&PAYMENTS, &mut item);
    item.insert("version".into(), n(0));
    let mut claim = Key::partition(format!("PAYMENT_OF#{}", payment.order_id)).to_item(&PAYMENTS);
    claim.insert("paymentId".into(), s(payment.payment_id.to_string()));
    for written in [item, claim] {
        items
            .write(Write::put(&PAYMENTS, written, None))
            .await
            .unwrap();
    }
    assert_eq!(
        store.for_order(payment.order_id).await.unwrap(),
        Some(payment.clone())
    );
    assert_eq!(store.get(payment.payment_id).await.unwrap(), Some(payment));
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

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_payment_from_before_the_derived_ids_is_found_through_its_claim() {
            $crate::payments::a_payment_from_before_the_derived_ids_is_found_through_its_claim(
                $make,
            )
            .await;
        }
    };
}

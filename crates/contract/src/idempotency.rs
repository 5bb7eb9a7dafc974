//! The `IdempotencyStore` contract: one claim per key however many race for it, a
//! completed request replayed, another body refused, a crashed holder's lease taken over,
//! an expired record claimed afresh, and a completion that commits with its change or not
//! at all.

use chrono::Duration;
use milkrun_domain::StoreError;
use milkrun_domain::idempotency::{Claim, ClaimKey, Fingerprint, IdempotencyKey, StoredResponse};
use milkrun_domain::ports::IdempotencyStore;
use milkrun_store::idempotency::{Idempotency, LEASE_SECS, RETENTION_HOURS};
use milkrun_store::item::n;
use milkrun_store::ops::{Condition, Key, Write};
use milkrun_store::table::PROCESSED_EVENTS;
use milkrun_store::{ItemError, Stores};
use serde_json::json;
use uuid::Uuid;

fn fresh_key() -> ClaimKey {
    let key = IdempotencyKey::parse(&format!("contract #{}", Uuid::now_v7())).unwrap();
    ClaimKey::new("orders", Uuid::now_v7(), key)
}

fn body(quantity: u32) -> Fingerprint {
    Fingerprint::of(&json!({"items": [{"productId": "p-1", "quantity": quantity}]}))
}

fn created(order: &str) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: json!({"orderId": order, "status": "PENDING", "total": {"amount": 5000}}),
    }
}

/// A store whose claims' leases have run out the moment they are written (a crashed holder).
fn lapsing(stores: &Stores) -> Idempotency {
    Idempotency::with_timing(
        stores.items.clone(),
        Duration::zero(),
        Duration::hours(RETENTION_HOURS),
    )
}

pub async fn a_completed_request_is_replayed_to_the_same_body(stores: Stores) {
    let store = stores.idempotency;
    let (key, fingerprint) = (fresh_key(), body(2));
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::Claimed
    );
    store
        .complete(&key, &fingerprint, &created("o-1"))
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            store.claim(&key, &fingerprint).await.unwrap(),
            Claim::Replay(created("o-1"))
        );
    }
    let again = store.complete(&key, &fingerprint, &created("o-2")).await;
    assert!(
        matches!(again, Err(StoreError::VersionConflict)),
        "completed once"
    );
    let other_user = ClaimKey::new("orders", Uuid::now_v7(), key.key.clone());
    let other_scope = ClaimKey::new("payments", key.user_id, key.key.clone());
    for separate in [other_user, other_scope] {
        assert_eq!(
            store.claim(&separate, &fingerprint).await.unwrap(),
            Claim::Claimed,
            "keys are per user and per operation"
        );
    }
}

pub async fn another_body_is_refused_while_running_and_after_completion(stores: Stores) {
    let store = stores.idempotency;
    let (key, fingerprint) = (fresh_key(), body(2));
    store.claim(&key, &fingerprint).await.unwrap();
    assert_eq!(store.claim(&key, &body(3)).await.unwrap(), Claim::KeyReused);
    store
        .complete(&key, &fingerprint, &created("o-1"))
        .await
        .unwrap();
    assert_eq!(store.claim(&key, &body(3)).await.unwrap(), Claim::KeyReused);
}

pub async fn a_second_claim_while_the_first_runs_is_in_progress(stores: Stores) {
    let store = stores.idempotency;
    let (key, fingerprint) = (fresh_key(), body(2));
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::InProgress
    );
}

pub async fn twenty_concurrent_claims_of_one_key_have_one_winner(stores: Stores) {
    let (key, fingerprint) = (fresh_key(), body(2));
    let claims = (0..20).map(|_| {
        let (store, key, fingerprint) =
            (stores.idempotency.clone(), key.clone(), fingerprint.clone());
        tokio::spawn(async move { store.claim(&key, &fingerprint).await.unwrap() })
    });
    let outcomes: Vec<Claim> = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("task ran"))
        .collect();
    let claimed = outcomes.iter().filter(|c| **c == Claim::Claimed).count();
    let busy = outcomes.iter().filter(|c| **c == Claim::InProgress).count();
    assert_eq!((claimed, busy), (1, 19), "{outcomes:?}");
}

pub async fn a_lapsed_lease_is_taken_over_once_and_only_by_the_same_body(stores: Stores) {
    let (key, fingerprint) = (fresh_key(), body(2));
    assert_eq!(
        lapsing(&stores).claim(&key, &fingerprint).await.unwrap(),
        Claim::Claimed
    );
    let store = stores.idempotency.clone();
    assert_eq!(
        store.claim(&key, &body(3)).await.unwrap(),
        Claim::KeyReused,
        "a lapsed lease is not another body's to take"
    );
    let takeovers = (0..10).map(|_| {
        let (store, key, fingerprint) = (store.clone(), key.clone(), fingerprint.clone());
        tokio::spawn(async move { store.claim(&key, &fingerprint).await.unwrap() })
    });
    let outcomes: Vec<Claim> = futures::future::join_all(takeovers)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("task ran"))
        .collect();
    let claimed = outcomes.iter().filter(|c| **c == Claim::Claimed).count();
    assert_eq!(claimed, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|c| matches!(c, Claim::Claimed | Claim::InProgress))
    );
    store
        .complete(&key, &fingerprint, &created("o-1"))
        .await
        .unwrap();
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::Replay(created("o-1"))
    );
}

/// A store whose records are past their TTL the moment they are written (a day ago).
fn expiring(stores: &Stores) -> Idempotency {
    Idempotency::with_timing(
        stores.items.clone(),
        Duration::seconds(LEASE_SECS),
        -Duration::hours(1),
    )
}

pub async fn an_expired_record_is_claimed_afresh(stores: Stores) {
    let store = stores.idempotency.clone();
    // Completed, then past its TTL: gone, even before the store sweeps it, so any body may
    // claim the key again.
    let (key, fingerprint) = (fresh_key(), body(2));
    store.claim(&key, &fingerprint).await.unwrap();
    expiring(&stores)
        .complete(&key, &fingerprint, &created("o-1"))
        .await
        .unwrap();
    assert_eq!(store.claim(&key, &body(3)).await.unwrap(), Claim::Claimed);
    assert_eq!(
        store.claim(&key, &body(3)).await.unwrap(),
        Claim::InProgress
    );

    // Claimed under a live lease, then past its TTL: no longer held, so not completed.
    let (key, fingerprint) = (fresh_key(), body(2));
    let late = expiring(&stores);
    late.claim(&key, &fingerprint).await.unwrap();
    assert_eq!(store.claim(&key, &body(3)).await.unwrap(), Claim::Claimed);
    let lost = late.complete(&key, &fingerprint, &created("o-1")).await;
    assert!(matches!(lost, Err(StoreError::VersionConflict)));
}

pub async fn only_the_same_body_completes_its_claim(stores: Stores) {
    let store = stores.idempotency;
    let (key, fingerprint) = (fresh_key(), body(2));
    let never_claimed = store.complete(&key, &fingerprint, &created("o-0")).await;
    assert!(matches!(never_claimed, Err(StoreError::VersionConflict)));
    store.claim(&key, &fingerprint).await.unwrap();
    let wrong = store.complete(&key, &body(3), &created("o-1")).await;
    assert!(matches!(wrong, Err(StoreError::VersionConflict)));
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::InProgress,
        "still running, nothing stored"
    );
    store
        .complete(&key, &fingerprint, &created("o-1"))
        .await
        .unwrap();
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::Replay(created("o-1"))
    );
}

pub async fn a_released_claim_is_claimed_again_and_a_completed_one_is_kept(stores: Stores) {
    let store = stores.idempotency;
    let (key, fingerprint) = (fresh_key(), body(2));
    store.claim(&key, &fingerprint).await.unwrap();
    store.release(&key, &body(3)).await.unwrap();
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::InProgress,
        "another body's release leaves the claim"
    );
    store.release(&key, &fingerprint).await.unwrap();
    assert_eq!(
        store.claim(&key, &body(3)).await.unwrap(),
        Claim::Claimed,
        "released: the key is free, for a corrected body too"
    );
    store
        .complete(&key, &body(3), &created("o-1"))
        .await
        .unwrap();
    store.release(&key, &body(3)).await.unwrap();
    assert_eq!(
        store.claim(&key, &body(3)).await.unwrap(),
        Claim::Replay(created("o-1")),
        "a completed request is never released"
    );
}

/// The completion committed in the change's own transaction, as `POST /orders` does with
/// the order's insert: both or neither.
pub async fn a_completion_commits_with_its_change_or_not_at_all(stores: Stores) {
    let store = stores.idempotency.clone();
    let change = |key: &Key| {
        let mut item = key.to_item(&PROCESSED_EVENTS);
        item.insert("expiresAt".into(), n(chrono::Utc::now().timestamp() + 3600));
        Write::put(&PROCESSED_EVENTS, item, Some(Condition::NotExists))
    };
    let (key, fingerprint) = (fresh_key(), body(2));
    store.claim(&key, &fingerprint).await.unwrap();

    // The change's own condition fails: the completion is not written either.
    let existing = Key::partition(format!("CONTRACT#{}", Uuid::now_v7()));
    stores.items.write(change(&existing)).await.unwrap();
    let completion = store.complete_in(&key, &fingerprint, &created("o-1"));
    let refused = stores
        .items
        .transact(vec![change(&existing), completion])
        .await;
    assert!(matches!(
        refused,
        Err(ItemError::ConditionFailed { index: 0 })
    ));
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::InProgress
    );

    // The completion's condition fails (another body): the change is not written either.
    let order = Key::partition(format!("CONTRACT#{}", Uuid::now_v7()));
    let wrong = store.complete_in(&key, &body(3), &created("o-1"));
    let refused = stores.items.transact(vec![change(&order), wrong]).await;
    assert!(matches!(
        refused,
        Err(ItemError::ConditionFailed { index: 1 })
    ));
    assert_eq!(
        stores
            .items
            .get(&PROCESSED_EVENTS, &order, true)
            .await
            .unwrap(),
        None
    );

    // Both hold: both are written.
    let completion = store.complete_in(&key, &fingerprint, &created("o-1"));
    stores
        .items
        .transact(vec![change(&order), completion])
        .await
        .unwrap();
    assert!(
        stores
            .items
            .get(&PROCESSED_EVENTS, &order, true)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.claim(&key, &fingerprint).await.unwrap(),
        Claim::Replay(created("o-1"))
    );
}

#[macro_export]
macro_rules! idempotency_store_contract {
    ($make:expr) => {
        $crate::idempotency_store_contract!(@cases $make;
            a_completed_request_is_replayed_to_the_same_body,
            another_body_is_refused_while_running_and_after_completion,
            a_second_claim_while_the_first_runs_is_in_progress,
            twenty_concurrent_claims_of_one_key_have_one_winner,
            a_lapsed_lease_is_taken_over_once_and_only_by_the_same_body,
            an_expired_record_is_claimed_afresh,
            only_the_same_body_completes_its_claim,
            a_released_claim_is_claimed_again_and_a_completed_one_is_kept,
            a_completion_commits_with_its_change_or_not_at_all,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::idempotency::$case(milkrun_store::Stores::over($make)).await;
            }
        )+
    };
}

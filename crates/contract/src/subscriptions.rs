//! The `SubscriptionStore` contract: compare-and-swap saves, each customer's listing, the
//! vacation beside them, and the run's index holding only live subscriptions.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::SubscriptionStore;
use milkrun_domain::subscription::{RUN_SHARDS, Subscription, SubscriptionStatus, Vacation};
use uuid::Uuid;

use crate::none;

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, day).unwrap()
}

pub fn sample_subscription(user_id: Uuid) -> Subscription {
    let product = milkrun_testkit::product(vec![Uuid::now_v7()], &[("1L", 5_400)]);
    Subscription {
        quantity: 2,
        ..milkrun_testkit::subscription(user_id, &product, 0, date(1))
    }
}

/// Every live subscription of `user`, over every run shard.
async fn live_of(store: &dyn SubscriptionStore, user: Uuid) -> Vec<Uuid> {
    let mut found = Vec::new();
    for shard in 0..RUN_SHARDS {
        let mut page = PageRequest::first(100);
        loop {
            let listed = store.live(shard, &page).await.unwrap();
            let mine = listed.items.iter().filter(|s| s.user_id == user);
            found.extend(mine.map(|s| s.subscription_id));
            match listed.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
    }
    found.sort();
    found
}

pub async fn a_subscription_is_created_once_then_saved_at_its_version(
    store: Arc<dyn SubscriptionStore>,
) {
    let made = sample_subscription(Uuid::now_v7());
    store.create(&made, &none()).await.unwrap();
    let again = store.create(&made, &none()).await;
    assert!(matches!(again, Err(StoreError::AlreadyExists)));
    let read = store.get(made.subscription_id).await.unwrap().unwrap();
    assert_eq!(read, made);
    let changed = Subscription {
        quantity: 5,
        ..read.clone()
    };
    let saved = store.update(changed, &none()).await.unwrap();
    assert_eq!(saved.version, 1);
    let stale = store.update(read, &none()).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict)));
    let read = store.get(made.subscription_id).await.unwrap().unwrap();
    assert_eq!(read.quantity, 5);
}

pub async fn the_run_reads_only_live_subscriptions(store: Arc<dyn SubscriptionStore>) {
    let user = Uuid::now_v7();
    let (live, cancelled, ending) = (
        sample_subscription(user),
        sample_subscription(user),
        Subscription {
            end_date: Some(date(10)),
            ..sample_subscription(user)
        },
    );
    for made in [&live, &cancelled, &ending] {
        store.create(made, &none()).await.unwrap();
    }
    let mut all = vec![
        live.subscription_id,
        cancelled.subscription_id,
        ending.subscription_id,
    ];
    all.sort();
    assert_eq!(live_of(store.as_ref(), user).await, all);

    let cancelled = Subscription {
        status: SubscriptionStatus::Cancelled,
        ..cancelled
    };
    store.update(cancelled, &none()).await.unwrap();
    store.mark_generated(&ending, date(9)).await.unwrap();
    let mut still = vec![live.subscription_id, ending.subscription_id];
    still.sort();
    assert_eq!(live_of(store.as_ref(), user).await, still, "one day left");

    store.mark_generated(&ending, date(10)).await.unwrap();
    store.mark_generated(&live, date(10)).await.unwrap();
    assert_eq!(
        live_of(store.as_ref(), user).await,
        vec![live.subscription_id]
    );
    let marked = store.get(live.subscription_id).await.unwrap().unwrap();
    assert_eq!(marked.last_generated_for, Some(date(10)));
    assert_eq!(
        marked.version,
        live.version + 1,
        "a customer's edit read before retries"
    );
    let missing = sample_subscription(user);
    let absent = store.mark_generated(&missing, date(10)).await;
    assert!(matches!(absent, Err(StoreError::NotFound)));
}

pub async fn a_customers_subscriptions_list_newest_first_beside_their_vacation(
    store: Arc<dyn SubscriptionStore>,
) {
    let user = Uuid::now_v7();
    let mut made = Vec::new();
    for minutes in 0..3 {
        let subscription = Subscription {
            created_at: Utc::now() + chrono::Duration::minutes(minutes),
            ..sample_subscription(user)
        };
        store.create(&subscription, &none()).await.unwrap();
        made.push(subscription.subscription_id);
    }
    store
        .create(&sample_subscription(Uuid::now_v7()), &none())
        .await
        .unwrap();
    let first = store.for_user(user, &PageRequest::first(2)).await.unwrap();
    let ids: Vec<Uuid> = first.items.iter().map(|s| s.subscription_id).collect();
    assert_eq!(ids, vec![made[2], made[1]]);
    let rest = PageRequest {
        cursor: first.next_cursor,
        ..PageRequest::first(2)
    };
    let second = store.for_user(user, &rest).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].subscription_id, made[0]);
    assert!(second.next_cursor.is_none());

    assert_eq!(store.vacation(user).await.unwrap(), None);
    let away = Vacation {
        from: date(3),
        until: date(7),
    };
    store.set_vacation(user, Some(away), &none()).await.unwrap();
    assert_eq!(store.vacation(user).await.unwrap(), Some(away));
    store.set_vacation(user, None, &none()).await.unwrap();
    assert_eq!(store.vacation(user).await.unwrap(), None);
    store.set_vacation(user, None, &none()).await.unwrap();
}

#[macro_export]
macro_rules! subscription_store_contract {
    ($make:expr) => {
        $crate::subscription_store_contract!(@cases $make;
            a_subscription_is_created_once_then_saved_at_its_version,
            the_run_reads_only_live_subscriptions,
            a_customers_subscriptions_list_newest_first_beside_their_vacation,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::subscriptions::$case(milkrun_store::Stores::over($make).subscriptions)
                    .await;
            }
        )+
    };
}

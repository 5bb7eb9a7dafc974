//! The `CartStore` contract: one cart per customer, saved by compare-and-swap, and an
//! expired cart as good as none, even before the store has swept it away.

use std::sync::Arc;

use chrono::{Duration, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::cart::{Cart, IDLE_DAYS};
use milkrun_domain::ports::CartStore;
use uuid::Uuid;

use crate::none;

fn cart_with_line(user_id: Uuid) -> Cart {
    let mut cart = Cart::empty(user_id, Utc::now());
    cart.add(Uuid::now_v7(), Uuid::now_v7(), 2).unwrap();
    cart
}

pub async fn a_cart_is_created_once_then_saved_at_its_version(store: Arc<dyn CartStore>) {
    let user = Uuid::now_v7();
    assert_eq!(store.get(user).await.unwrap(), None);
    let saved = store.save(cart_with_line(user), &none()).await.unwrap();
    assert_eq!(saved.version, Some(0));
    assert_eq!(store.get(user).await.unwrap(), Some(saved.clone()));
    let second_creation = store.save(cart_with_line(user), &none()).await;
    assert!(matches!(second_creation, Err(StoreError::VersionConflict)));

    let mut changed = saved.clone();
    changed.items[0].quantity = 9;
    let changed = store.save(changed, &none()).await.unwrap();
    assert_eq!(changed.version, Some(1));
    let stale = store.save(saved, &none()).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict)));
    assert_eq!(store.get(user).await.unwrap().unwrap().items[0].quantity, 9);
}

pub async fn sixteen_concurrent_saves_of_one_read_have_one_winner(store: Arc<dyn CartStore>) {
    let user = Uuid::now_v7();
    let read = store.save(cart_with_line(user), &none()).await.unwrap();
    let saves = (0..16u32).map(|n| {
        let (store, mut cart) = (store.clone(), read.clone());
        cart.items[0].quantity = n + 1;
        tokio::spawn(async move { store.save(cart, &none()).await })
    });
    let results = futures::future::join_all(saves).await;
    let winners: Vec<Cart> = results
        .into_iter()
        .filter_map(|r| r.expect("task ran").ok())
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "compare-and-swap lets exactly one through"
    );
    assert_eq!(store.get(user).await.unwrap(), Some(winners[0].clone()));
}

pub async fn an_expired_cart_reads_as_none_and_is_replaced(store: Arc<dyn CartStore>) {
    let user = Uuid::now_v7();
    let mut old = cart_with_line(user);
    old.updated_at = Utc::now() - Duration::days(IDLE_DAYS + 1);
    store.save(old, &none()).await.unwrap();
    assert_eq!(store.get(user).await.unwrap(), None, "idle past its TTL");
    // Read as none, so saved as new: the lingering expired item must not block it.
    let fresh = store.save(cart_with_line(user), &none()).await.unwrap();
    assert_eq!(store.get(user).await.unwrap(), Some(fresh));
}

#[macro_export]
macro_rules! cart_store_contract {
    ($make:expr) => {
        $crate::cart_store_contract!(@cases $make;
            a_cart_is_created_once_then_saved_at_its_version,
            sixteen_concurrent_saves_of_one_read_have_one_winner,
            an_expired_cart_reads_as_none_and_is_replaced,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::carts::$case(milkrun_store::Stores::over($make).carts).await;
            }
        )+
    };
}

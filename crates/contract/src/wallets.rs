//! The `WalletStore` contract: a cause moves a balance once, the balance never goes below
//! zero however many debits race, and the ledger always sums to the balance.

use std::sync::Arc;

use chrono::{Duration, Utc};
use milkrun_domain::Effects;
use milkrun_domain::money::Money;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::WalletStore;
use milkrun_domain::wallet::{Cause, LedgerEntry, WalletRefusal, check_ledger};
use uuid::Uuid;

fn no_effects(_: &LedgerEntry) -> Effects {
    Effects::none()
}

async fn ledger(store: &dyn WalletStore, user: Uuid) -> Vec<LedgerEntry> {
    let (from, until) = (
        Utc::now() - Duration::days(1),
        Utc::now() + Duration::days(1),
    );
    let page = store
        .entries(user, from, until, &PageRequest::first(100))
        .await
        .unwrap();
    let mut entries = page.items;
    entries.reverse();
    entries
}

async fn balance(store: &dyn WalletStore, user: Uuid) -> u64 {
    store
        .get(user)
        .await
        .unwrap()
        .map_or(0, |w| w.balance.amount)
}

async fn top_up(store: &dyn WalletStore, user: Uuid, payment_id: Uuid, paise: u64) -> bool {
    let cause = Cause::Topup { payment_id };
    let applied = store
        .apply(user, cause, Money::inr(paise), "top-up", &no_effects)
        .await;
    applied.unwrap().unwrap().created
}

pub async fn each_cause_moves_the_balance_once(store: Arc<dyn WalletStore>) {
    let user = Uuid::now_v7();
    assert_eq!(store.get(user).await.unwrap(), None);
    let payment = Uuid::now_v7();
    assert!(top_up(store.as_ref(), user, payment, 50_000).await);
    assert!(
        !top_up(store.as_ref(), user, payment, 50_000).await,
        "the webhook after the answer"
    );
    let order = Uuid::now_v7();
    let debit = Cause::Debit { order_id: order };
    for attempt in 0..2 {
        let applied = store
            .apply(user, debit, Money::inr(5_400), "order", &no_effects)
            .await;
        let applied = applied.unwrap().unwrap();
        assert_eq!(applied.created, attempt == 0);
        assert_eq!(applied.entry.balance_after.amount, 44_600);
    }
    let refund = Cause::Refund { order_id: order };
    store
        .apply(user, refund, Money::inr(5_400), "cancelled", &no_effects)
        .await
        .unwrap()
        .unwrap();
    store
        .apply(user, refund, Money::inr(5_400), "cancelled", &no_effects)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(balance(store.as_ref(), user).await, 50_000);
    let entries = ledger(store.as_ref(), user).await;
    assert_eq!(entries.len(), 3);
    check_ledger(&entries, Money::inr(50_000)).unwrap();
    let found = store.entry(user, debit).await.unwrap().unwrap();
    assert_eq!(found.order_id, Some(order));
}

pub async fn a_debit_the_balance_does_not_cover_changes_nothing(store: Arc<dyn WalletStore>) {
    let user = Uuid::now_v7();
    top_up(store.as_ref(), user, Uuid::now_v7(), 1_000).await;
    let debit = Cause::Debit {
        order_id: Uuid::now_v7(),
    };
    let refused = store
        .apply(user, debit, Money::inr(5_400), "order", &no_effects)
        .await;
    let short = Money::inr(4_400);
    let balance_now = Money::inr(1_000);
    let expected = WalletRefusal::InsufficientBalance {
        balance: balance_now,
        short,
    };
    assert_eq!(refused.unwrap(), Err(expected));
    assert_eq!(balance(store.as_ref(), user).await, 1_000);
    assert_eq!(ledger(store.as_ref(), user).await.len(), 1);
    assert_eq!(store.entry(user, debit).await.unwrap(), None);
    check_ledger(&ledger(store.as_ref(), user).await, Money::inr(1_000)).unwrap();
}

pub async fn fifty_racing_debits_take_what_the_balance_covers_and_racing_topups_credit_once(
    store: Arc<dyn WalletStore>,
) {
    let user = Uuid::now_v7();
    top_up(store.as_ref(), user, Uuid::now_v7(), 2_000).await;
    let debits = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let debit = Cause::Debit {
                order_id: Uuid::now_v7(),
            };
            store
                .apply(user, debit, Money::inr(100), "order", &no_effects)
                .await
                .unwrap()
        })
    });
    let outcomes = futures::future::join_all(debits).await;
    let paid = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    assert_eq!(
        paid, 20,
        "2,000 paise pay for twenty 100-paise orders, no more"
    );
    assert_eq!(balance(store.as_ref(), user).await, 0);

    let payment = Uuid::now_v7();
    let topups = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { top_up(store.as_ref(), user, payment, 2_500).await })
    });
    let created = futures::future::join_all(topups).await;
    assert_eq!(
        created.into_iter().filter(|c| *c.as_ref().unwrap()).count(),
        1
    );
    assert_eq!(balance(store.as_ref(), user).await, 2_500);
    check_ledger(&ledger(store.as_ref(), user).await, Money::inr(2_500)).unwrap();
}

#[macro_export]
macro_rules! wallet_store_contract {
    ($make:expr) => {
        $crate::wallet_store_contract!(@cases $make;
            each_cause_moves_the_balance_once,
            a_debit_the_balance_does_not_cover_changes_nothing,
            fifty_racing_debits_take_what_the_balance_covers_and_racing_topups_credit_once,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::wallets::$case(milkrun_store::Stores::over($make).wallets).await;
            }
        )+
    };
}

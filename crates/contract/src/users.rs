//! The `UserStore` contract.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::UserStore;
use milkrun_domain::user::{ClientOrigin, NewUser, User};
use milkrun_domain::values::{Email, PasswordHash, PersonName, Role, UserStatus};
use uuid::Uuid;

use crate::none;

/// A user with an email no other test uses, so suites can share one table.
pub fn sample_user(tag: &str) -> User {
    let email = Email::parse(&format!("{tag}-{}@contract.test", Uuid::new_v4().simple())).unwrap();
    let new = NewUser {
        email,
        name: PersonName::parse("Contract Tester").unwrap(),
        phone: None,
        role: Role::Customer,
    };
    let origin = ClientOrigin {
        ip: "127.0.0.1".into(),
        user_agent: "contract".into(),
        region: None,
    };
    User::register(
        new,
        PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        &origin,
        Utc::now(),
    )
}

pub async fn create_then_read_back(store: Arc<dyn UserStore>) {
    let user = sample_user("read");
    store.create(&user, &none()).await.unwrap();
    assert_eq!(
        store.by_id(user.user_id).await.unwrap().as_ref(),
        Some(&user)
    );
    let shouted = Email::parse(&user.email.as_str().to_uppercase()).unwrap();
    assert_eq!(
        store.by_email(&shouted).await.unwrap().map(|u| u.user_id),
        Some(user.user_id)
    );
    assert_eq!(store.by_id(Uuid::new_v4()).await.unwrap(), None);
}

pub async fn duplicate_email_is_refused_and_first_user_kept(store: Arc<dyn UserStore>) {
    let first = sample_user("dup");
    store.create(&first, &none()).await.unwrap();
    let mut second = sample_user("dup");
    second.email = first.email.clone();
    assert!(matches!(
        store.create(&second, &none()).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(
        store
            .by_email(&first.email)
            .await
            .unwrap()
            .map(|u| u.user_id),
        Some(first.user_id)
    );
    assert_eq!(
        store.by_id(second.user_id).await.unwrap(),
        None,
        "the loser left nothing half-written"
    );
}

pub async fn concurrent_registrations_of_one_email_have_one_winner(store: Arc<dyn UserStore>) {
    let email = sample_user("race").email;
    let attempts = (0..16).map(|_| {
        let store = store.clone();
        let mut user = sample_user("race");
        user.email = email.clone();
        tokio::spawn(async move { (user.user_id, store.create(&user, &none()).await) })
    });
    let results: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<Uuid> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one registration wins: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|(_, r)| matches!(r, Ok(()) | Err(StoreError::AlreadyExists)))
    );
    for (id, result) in &results {
        let stored = store.by_id(*id).await.unwrap();
        assert_eq!(
            stored.is_some(),
            result.is_ok(),
            "losers wrote no user item"
        );
    }
    assert_eq!(
        store.by_email(&email).await.unwrap().map(|u| u.user_id),
        Some(winners[0])
    );
}

pub async fn update_bumps_version_and_stale_writes_conflict(store: Arc<dyn UserStore>) {
    let user = sample_user("update");
    store.create(&user, &none()).await.unwrap();
    let mut renamed = user.clone();
    renamed.name = PersonName::parse("Renamed").unwrap();
    let saved = store.update(renamed, &none()).await.unwrap();
    assert_eq!(saved.version, user.version + 1);
    assert_eq!(
        store.by_id(user.user_id).await.unwrap(),
        Some(saved.clone())
    );
    let mut stale = user.clone();
    stale.name = PersonName::parse("Stale").unwrap();
    assert!(matches!(
        store.update(stale, &none()).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(
        store
            .by_id(user.user_id)
            .await
            .unwrap()
            .unwrap()
            .name
            .as_str(),
        "Renamed"
    );
}

pub async fn concurrent_updates_from_one_read_have_one_winner(store: Arc<dyn UserStore>) {
    let user = sample_user("cas");
    store.create(&user, &none()).await.unwrap();
    let writers = (0..8).map(|i| {
        let (store, mut copy) = (store.clone(), user.clone());
        copy.order_count = i + 1;
        tokio::spawn(async move { store.update(copy, &none()).await })
    });
    let results: Vec<_> = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(
        store.by_id(user.user_id).await.unwrap().as_ref(),
        Some(winners[0])
    );
}

pub async fn update_of_unknown_user_is_not_found(store: Arc<dyn UserStore>) {
    let ghost = sample_user("ghost");
    assert!(matches!(
        store.update(ghost.clone(), &none()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.by_id(ghost.user_id).await.unwrap(),
        None,
        "an update never creates"
    );
}

pub async fn list_pages_newest_first_without_repeats(store: Arc<dyn UserStore>) {
    let base = Utc::now() + Duration::days(3650);
    let mut mine = Vec::new();
    for i in 0..5 {
        let mut user = sample_user("list");
        user.created_at = base + Duration::seconds(i);
        store.create(&user, &none()).await.unwrap();
        mine.push(user.user_id);
    }
    mine.reverse();
    let (mut seen, mut order, mut page) = (HashSet::new(), Vec::new(), PageRequest::first(2));
    loop {
        let result = store.list(&page).await.unwrap();
        assert!(result.items.len() <= 2);
        for user in result.items {
            assert!(seen.insert(user.user_id), "{} listed twice", user.user_id);
            order.push(user.user_id);
        }
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    let listed: Vec<Uuid> = order.into_iter().filter(|id| mine.contains(id)).collect();
    assert_eq!(listed, mine, "newest first, every one listed");
}

pub async fn garbage_cursor_is_refused(store: Arc<dyn UserStore>) {
    for cursor in ["not-a-cursor", "eyJ4IjoxfQ", "%%%"] {
        let page = PageRequest {
            limit: 5,
            cursor: Some(cursor.into()),
        };
        assert!(
            matches!(store.list(&page).await, Err(StoreError::InvalidCursor)),
            "{cursor} accepted"
        );
    }
}

/// Every user of `store`'s newsletter audience, a page of 2 at a time, each once.
async fn audience(store: &dyn UserStore) -> Vec<Uuid> {
    let (mut listed, mut page) = (Vec::new(), PageRequest::first(2));
    loop {
        let result = store.opted_in(&page).await.unwrap();
        for user in result.items {
            assert!(
                !listed.contains(&user.user_id),
                "{} listed twice",
                user.user_id
            );
            listed.push(user.user_id);
        }
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return listed,
        }
    }
}

pub async fn newsletter_lists_active_opted_in_customers_only(store: Arc<dyn UserStore>) {
    let with = |role: Role, status: UserStatus, opted_in: bool| {
        let mut user = sample_user("newsletter");
        user.role = role;
        user.status = status;
        user.preferences.newsletter_opt_in = opted_in;
        user
    };
    let reader = with(Role::Customer, UserStatus::Active, true);
    let leaving = with(Role::Customer, UserStatus::Active, true);
    let others = [
        with(Role::Customer, UserStatus::Active, false),
        with(Role::Customer, UserStatus::Disabled, true),
        with(Role::Admin, UserStatus::Active, true),
    ];
    for user in others.iter().chain([&reader, &leaving]) {
        store.create(user, &none()).await.unwrap();
    }
    let mut left = leaving.clone();
    left.preferences.newsletter_opt_in = false;
    store.update(left, &none()).await.unwrap();
    let mine = [reader.user_id, leaving.user_id]
        .into_iter()
        .chain(others.iter().map(|u| u.user_id));
    let mine: Vec<Uuid> = mine.collect();
    // The index is eventually consistent in DynamoDB: wait for it to settle.
    for _ in 0..50 {
        let listed: Vec<Uuid> = audience(store.as_ref())
            .await
            .into_iter()
            .filter(|id| mine.contains(id))
            .collect();
        if listed == vec![reader.user_id] {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("only the active customer still opted in is in the audience");
}

/// Expands to one `#[tokio::test]` per contract case, each with a fresh adapter from
/// `$make` (an async expression giving `Arc<dyn UserStore>`).
#[macro_export]
macro_rules! user_store_contract {
    ($make:expr) => {
        $crate::user_store_contract!(@cases $make;
            create_then_read_back,
            duplicate_email_is_refused_and_first_user_kept,
            concurrent_registrations_of_one_email_have_one_winner,
            update_bumps_version_and_stale_writes_conflict,
            concurrent_updates_from_one_read_have_one_winner,
            update_of_unknown_user_is_not_found,
            list_pages_newest_first_without_repeats,
            garbage_cursor_is_refused,
            newsletter_lists_active_opted_in_customers_only,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::users::$case(milkrun_store::Stores::over($make).users).await;
            }
        )+
    };
}

//! What authorization and login throttling read: an account's access as it is now, and
//! failed logins counted atomically per attempter and window.

use chrono::{Duration, Utc};
use milkrun_domain::login::{Attempter, LoginWindow};
use milkrun_domain::ports::{AccessLookup, LoginAttempts, UserRegistry, UserUpdates};
use milkrun_domain::values::{Role, UserStatus};
use milkrun_store::Stores;
use uuid::Uuid;

use crate::none;
use crate::users::sample_user;

pub async fn access_follows_the_account_as_it_is_now(stores: Stores) {
    let user = sample_user("access");
    stores.users.create(&user, &none()).await.unwrap();
    let access = stores.users.access(user.user_id).await.unwrap().unwrap();
    assert_eq!(
        (access.role, access.active, access.vendor_id),
        (Role::Customer, true, None)
    );
    let mut changed = user.clone();
    changed.role = Role::Admin;
    changed.status = UserStatus::Disabled;
    stores.users.update(changed, &none()).await.unwrap();
    let mut access = None;
    // An eventually consistent read: DynamoDB shows the write within moments.
    for _ in 0..20 {
        access = stores.users.access(user.user_id).await.unwrap();
        if access.as_ref().is_some_and(|a| !a.active) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let access = access.unwrap();
    assert_eq!((access.role, access.active), (Role::Admin, false));
    assert_eq!(stores.users.access(Uuid::new_v4()).await.unwrap(), None);
}

pub async fn failed_logins_count_atomically_per_attempter_and_window(stores: Stores) {
    let account = Attempter::Account(format!("{}@contract.test", Uuid::new_v4().simple()));
    let client = Attempter::Client(Uuid::new_v4().to_string());
    let window = LoginWindow::at(Utc::now());
    let both = [account.clone(), client.clone()];
    assert_eq!(stores.logins.failures(&both, window).await.unwrap(), [0, 0]);
    let attempts = (0..20).map(|_| {
        let (logins, account) = (stores.logins.clone(), account.clone());
        tokio::spawn(async move { logins.failed(&[account], window).await })
    });
    for attempt in futures::future::join_all(attempts).await {
        attempt.unwrap().unwrap();
    }
    stores.logins.failed(&both, window).await.unwrap();
    assert_eq!(
        stores.logins.failures(&both, window).await.unwrap(),
        [21, 1],
        "no failure lost"
    );
    let next = LoginWindow::at(Utc::now() + Duration::seconds(milkrun_domain::login::WINDOW_SECS));
    assert_eq!(
        stores.logins.failures(&both, next).await.unwrap(),
        [0, 0],
        "a new window starts afresh"
    );
    stores.logins.forget(&account, window).await.unwrap();
    assert_eq!(stores.logins.failures(&both, window).await.unwrap(), [0, 1]);
}

#[macro_export]
macro_rules! accounts_contract {
    ($make:expr) => {
        $crate::accounts_contract!(@cases $make;
            access_follows_the_account_as_it_is_now,
            failed_logins_count_atomically_per_attempter_and_window,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::accounts::$case(milkrun_store::Stores::over($make)).await;
            }
        )+
    };
}

//! The subscription service: subscriptions, the customer's vacation and calendar, the
//! prepaid wallet, the subscription run by hand (`POST /jobs/subscriptions`), and the nightly run
//! that places each due day's order through the same checkout as any order.

pub mod input;
pub mod job_routes;
pub mod jobs;
pub mod routes;
pub mod run;
pub mod service;
pub mod wallet;

use std::sync::Arc;

use milkrun_domain::ports::IdempotencyStore;
use milkrun_platform::{Adapters, HttpService, Needs};
use milkrun_store::table::{
    AUDIT, CARTS, IDEMPOTENCY, ORDERS, OUTBOX, PAYMENTS, PRODUCTS, SUBSCRIPTIONS, USERS, VENDORS,
    WALLETS,
};

pub use routes::{documented, router};
pub use run::{RunPage, RunReport, SubscriptionRun};
pub use service::SubscriptionService;
pub use wallet::WalletService;

/// The routes' state: each use case, and the adapters.
#[derive(Clone)]
pub struct Api {
    pub subscriptions: SubscriptionService,
    pub wallet: WalletService,
    pub idempotency: Arc<dyn IdempotencyStore>,
}

impl Api {
    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self {
            subscriptions: SubscriptionService::from_adapters(adapters),
            wallet: WalletService::from_adapters(adapters),
            idempotency: adapters.stores.idempotency.clone(),
        }
    }
}

/// What the run reads and writes: the subscriptions, and everything placing an order does.
pub static RUN_TABLES: &[&milkrun_store::TableSpec] = &[
    &SUBSCRIPTIONS,
    &WALLETS,
    &USERS,
    &ORDERS,
    &PRODUCTS,
    &VENDORS,
    &CARTS,
    &IDEMPOTENCY,
    &AUDIT,
    &OUTBOX,
];

pub static HTTP: HttpService = HttpService {
    name: "subscription",
    needs: Needs {
        tables: &[
            &SUBSCRIPTIONS,
            &WALLETS,
            &PAYMENTS,
            &ORDERS,
            &PRODUCTS,
            &VENDORS,
            &CARTS,
            &IDEMPOTENCY,
            &AUDIT,
            &OUTBOX,
        ],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| router().with_state(Api::from_adapters(adapters)),
    start: None,
};

/// The subscription run by hand (`POST /jobs/subscriptions`): what the nightly run reads and
/// writes, and the checkout's start.
pub static JOBS_HTTP: HttpService = HttpService {
    name: "subscription-job",
    needs: RUN_NEEDS,
    api: |adapters| job_routes::router().with_state(adapters.clone()),
    start: None,
};

/// The run's Lambda (EventBridge Scheduler at 21:30 Asia/Kolkata, and its fan-out queue).
pub const RUN_NEEDS: Needs = Needs {
    tables: RUN_TABLES,
    mail: false,
    signing: false,
    verification: false,
    checkout: true,
};

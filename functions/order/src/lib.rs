//! The order service: `POST /orders` places an order and starts its checkout; the order's
//! reads; and what people do to it afterwards (cancel, approve, reject, an admin's forced
//! move). The checkout-task Lambda (`lambda/src/bin/checkout_task.rs`) runs the checkout's
//! steps; the scheduled resume-checkouts Lambda (`lambda/src/bin/resume_checkouts.rs`) starts
//! again the checkouts that stopped with no execution running.

pub mod routes;
pub mod service;

use chrono::{TimeDelta, Utc};
use milkrun_checkout::{CheckoutPorts, STALLED_AFTER, resume_stalled};
use milkrun_platform::{Adapters, HttpService, JobRun, JobService, Needs};
use milkrun_store::table::{
    AUDIT, CARTS, DELIVERIES, IDEMPOTENCY, INVENTORY, ORDERS, OUTBOX, PAYMENTS, PRODUCTS, USERS,
    VENDORS, WALLETS,
};

pub use routes::{documented, router};
pub use service::OrderService;

pub static HTTP: HttpService = HttpService {
    name: "order",
    needs: Needs {
        tables: &[
            &ORDERS,
            &IDEMPOTENCY,
            &CARTS,
            &PRODUCTS,
            &PAYMENTS,
            &DELIVERIES,
            &INVENTORY,
            &WALLETS,
            // The cut-off of a one-off order: its pincode's vendors' cutoffTime.
            &VENDORS,
            &AUDIT,
            &OUTBOX,
        ],
        mail: false,
        signing: false,
        verification: false,
        checkout: true,
    },
    api: |adapters| router().with_state(OrderService::from_adapters(adapters)),
    start: None,
};

/// What the checkout-task Lambda reads and writes: every step's ports.
pub static CHECKOUT_TASK_NEEDS: Needs = Needs {
    tables: &[
        &ORDERS,
        &USERS,
        &VENDORS,
        &PRODUCTS,
        &INVENTORY,
        &PAYMENTS,
        &DELIVERIES,
        &WALLETS,
        &AUDIT,
        &OUTBOX,
    ],
    mail: false,
    signing: false,
    verification: false,
    checkout: false,
};

pub static RESUME_CHECKOUTS: JobService = JobService {
    name: "resume-checkouts",
    needs: Needs {
        // Beyond the orders: what ending an order whose runs keep dying gives back (its
        // stock, its payment, from a wallet too, its deliveries), with audit and events.
        tables: &[
            &ORDERS,
            &INVENTORY,
            &PAYMENTS,
            &DELIVERIES,
            &WALLETS,
            &AUDIT,
            &OUTBOX,
        ],
        mail: false,
        signing: false,
        verification: false,
        checkout: true,
    },
    run: run_resume_checkouts,
};

/// `MILKRUN_STALLED_AFTER_SECS` (whole seconds, 0 or more) overrides [`STALLED_AFTER`]: an
/// operator sweeping by hand after an incident, the emulated test. Below five minutes it may
/// start a second execution beside one still running, which every step tolerates.
fn stalled_after() -> TimeDelta {
    std::env::var("MILKRUN_STALLED_AFTER_SECS")
        .ok()
        .and_then(|secs| secs.parse::<u32>().ok())
        .map_or(STALLED_AFTER, |secs| TimeDelta::seconds(secs.into()))
}

fn run_resume_checkouts(adapters: Adapters, correlation_id: String) -> JobRun {
    Box::pin(async move {
        let idle_since = Utc::now() - stalled_after();
        let ports = CheckoutPorts::from_stores(&adapters.stores, adapters.gateway.clone());
        let report = resume_stalled(&ports, adapters.checkout.as_ref(), idle_since).await?;
        tracing::info!(%correlation_id, resumed = report.resumed, failed = report.failed,
            given_up = report.given_up, "stalled checkouts swept");
        if report.failed > 0 {
            // An error, so the function's errors alarm says it; the next sweep tries again.
            let failed = format!("{} stalled checkouts did not start again", report.failed);
            return Err(milkrun_domain::DomainError::Internal(failed));
        }
        Ok(serde_json::to_value(report).expect("a report serializes"))
    })
}

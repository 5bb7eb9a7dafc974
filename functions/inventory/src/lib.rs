//! The inventory service: a vendor's stock rows, ADD / SUBTRACT / SET with LOW_STOCK events,
//! and the daily reconcile that alerts admins about every row under its threshold.

pub mod reconcile;
pub mod routes;
pub mod service;

use milkrun_http::jobs::hand_job;
use milkrun_platform::{Adapters, HttpService, JobRun, JobService, Needs};
use milkrun_store::table::{AUDIT, INVENTORY, OUTBOX, PRODUCTS, VENDORS};

pub use reconcile::{ReconcileReport, reconcile_stock};
pub use routes::{documented, router};
pub use service::InventoryService;

pub static HTTP: HttpService = HttpService {
    name: "inventory",
    needs: Needs {
        tables: &[&INVENTORY, &PRODUCTS, &VENDORS, &AUDIT, &OUTBOX],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    // POST /jobs/reconcile-stock: the reconcile by hand, in the function that holds its code.
    api: |adapters| {
        router()
            .with_state(InventoryService::from_adapters(adapters))
            .merge(hand_job(
                "reconcile-stock",
                adapters.clone(),
                |adapters, _, id| run_reconcile(adapters, id),
            ))
    },
    start: None,
};

pub static RECONCILE: JobService = JobService {
    name: "reconcile-stock",
    needs: Needs {
        tables: &[&INVENTORY, &OUTBOX],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    run: run_reconcile,
};

fn run_reconcile(adapters: Adapters, correlation_id: String) -> JobRun {
    Box::pin(async move {
        let stores = &adapters.stores;
        let report = reconcile_stock(
            stores.stock.as_ref(),
            stores.audit.as_ref(),
            &correlation_id,
        )
        .await?;
        Ok(serde_json::to_value(report).expect("a report serializes"))
    })
}

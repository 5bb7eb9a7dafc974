//! `milkrun job …`: the scheduled jobs, run by hand over the local data folder.

use std::path::PathBuf;

use milkrun_local::InProcessBus;

use crate::serve::LocalStores;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(clap::Subcommand)]
pub enum Job {
    /// Publish a LOW_STOCK admin alert for every stock row under its threshold.
    ReconcileStock {
        /// The data folder `milkrun serve` uses.
        #[arg(long, default_value = "./.milkrun")]
        data: PathBuf,
    },
}

pub async fn run(job: Job) -> Result<(), BoxError> {
    match job {
        Job::ReconcileStock { data } => reconcile_stock(data).await,
    }
}

async fn reconcile_stock(data: PathBuf) -> Result<(), BoxError> {
    let stores = LocalStores::open(&data)?;
    let bus = InProcessBus::new();
    let correlation_id = format!("reconcile-stock-{}", uuid::Uuid::now_v7());
    let report = milkrun_inventory::reconcile_stock(stores.stock.as_ref(), &bus, &correlation_id)
        .await
        .map_err(|e| format!("reconcile failed: {e:?}"))?;
    for alert in bus.published() {
        println!("{}", serde_json::to_string(&alert)?);
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

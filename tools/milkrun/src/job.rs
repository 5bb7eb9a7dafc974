//! `milkrun job …` and `milkrun dlq …`: the scheduled jobs and the dead-letter list, by hand,
//! over the data folder `milkrun serve` uses (a running server delivers what they commit).

use std::path::PathBuf;

use milkrun_domain::ports::DeadLetters;

use crate::serve;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(clap::Subcommand)]
pub enum Job {
    /// Place every subscription order due on a delivery date (the nightly run, by hand).
    /// Safe to repeat: each (subscription, date) gets one order however often it runs.
    Subscriptions {
        /// The delivery date (YYYY-MM-DD); tomorrow in Asia/Kolkata when left out.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// The data folder `milkrun serve` uses.
        #[arg(long, default_value = "./.milkrun")]
        data: PathBuf,
    },
    /// Compute, store (replacing an earlier one), announce and mail the daily report of a
    /// delivery date. Safe to repeat.
    DailyReport {
        /// The delivery date (YYYY-MM-DD); yesterday in Asia/Kolkata when left out.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// The data folder `milkrun serve` uses.
        #[arg(long, default_value = "./.milkrun")]
        data: PathBuf,
    },
    /// Commit a LOW_STOCK admin alert for every stock row under its threshold.
    ReconcileStock {
        /// The data folder `milkrun serve` uses.
        #[arg(long, default_value = "./.milkrun")]
        data: PathBuf,
    },
}

#[derive(clap::Subcommand)]
pub enum Dlq {
    /// Print each dead letter (a delivery that failed every retry) as a JSON line.
    List {
        #[arg(long, default_value = "./.milkrun")]
        data: PathBuf,
    },
    /// Deliver every dead letter again, once, to the consumer it failed in; those
    /// delivered leave the list.
    Replay {
        #[arg(long, default_value = "./.milkrun")]
        data: PathBuf,
    },
}

pub async fn run(job: Job) -> Result<(), BoxError> {
    match job {
        Job::Subscriptions { date, data } => {
            let host = serve::open(&data, None).await?;
            let adapters = &host.adapters;
            let report = milkrun_subscription::jobs::run_subscriptions(adapters, date)
                .await
                .map_err(|e| format!("the subscription run failed: {e}"))?;
            println!("{report}");
            // The orders' checkouts run in this process: let them finish before it ends.
            host.settle().await;
            match report["failed"].as_u64() {
                Some(failed) if failed > 0 => Err(format!(
                    "{failed} customers' days failed (see the log); run it again"
                )
                .into()),
                _ => Ok(()),
            }
        }
        Job::DailyReport { date, data } => {
            let host = serve::open(&data, None).await?;
            let correlation_id = format!("daily-report-{}", uuid::Uuid::now_v7());
            let run =
                milkrun_reporting::run_daily_report(host.adapters.clone(), date, correlation_id);
            let report = run
                .await
                .map_err(|e| format!("the daily report failed: {e}"))?;
            println!("{report}");
            Ok(())
        }
        Job::ReconcileStock { data } => {
            let host = serve::open(&data, None).await?;
            let correlation_id = format!("reconcile-stock-{}", uuid::Uuid::now_v7());
            let report = (milkrun_inventory::RECONCILE.run)(host.adapters.clone(), correlation_id)
                .await
                .map_err(|e| format!("reconcile failed: {e}"))?;
            println!("{report}");
            Ok(())
        }
    }
}

pub async fn dlq(command: Dlq) -> Result<(), BoxError> {
    match command {
        Dlq::List { data } => {
            let host = serve::open(&data, None).await?;
            for letter in host.adapters.stores.dead_letters.list(1000).await? {
                println!("{}", serde_json::to_string(&letter)?);
            }
            Ok(())
        }
        Dlq::Replay { data } => {
            let host = serve::open(&data, None).await?;
            let report = milkrun_local::replay(&host.bus).await?;
            println!("{}", serde_json::to_string(&report)?);
            if report.failed > 0 {
                return Err(format!(
                    "{} dead letters failed again and stay listed",
                    report.failed
                )
                .into());
            }
            Ok(())
        }
    }
}

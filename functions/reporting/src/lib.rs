//! The reporting service: what operators read (the audit trail of one entity, the analytics
//! log, the daily report and vendor settlements), the consumer that keeps every event in the
//! analytics log, and the daily report's job.

pub mod alerts;
pub mod analytics;
pub mod daily;
pub mod reach;
pub mod routes;
pub mod settlement;

use std::sync::Arc;

use chrono::NaiveDate;
use milkrun_domain::DomainError;
use milkrun_domain::events::Topic;
use milkrun_http::jobs::hand_job;
use milkrun_platform::{Adapters, ConsumerService, HttpService, JobRun, JobService, Needs};
use milkrun_store::table::{ANALYTICS, AUDIT, DELIVERIES, ORDERS, OUTBOX, REPORTS, VENDORS};

pub use alerts::AlertRecorder;
pub use analytics::AnalyticsRecorder;
pub use daily::{DailyReportJob, DailyReportRun, VendorNames, default_report_date, report_mail};
pub use routes::{ReportingService, documented, router};
pub use settlement::SettlementService;

pub static HTTP: HttpService = HttpService {
    name: "reporting",
    needs: Needs {
        tables: &[
            &AUDIT,
            &ANALYTICS,
            &REPORTS,
            &ORDERS,
            &DELIVERIES,
            &VENDORS,
            &OUTBOX,
        ],
        // POST /jobs/daily-report mails the report it stores.
        mail: true,
        signing: false,
        verification: false,
        checkout: false,
    },
    // POST /jobs/daily-report: the report by hand, in the function that holds its code.
    api: |adapters| {
        router()
            .with_state(ReportingService::from_adapters(adapters))
            .merge(hand_job("daily-report", adapters.clone(), run_daily_report))
    },
    start: None,
};

/// What the analytics and alerts consumers need: the table they keep events in.
const ANALYTICS_ONLY: Needs = Needs {
    tables: &[&ANALYTICS],
    mail: false,
    signing: false,
    verification: false,
    checkout: false,
};

/// Every event on every topic → one AnalyticsEvent (SPEC §6 analytics log).
pub static ANALYTICS_CONSUMER: ConsumerService = ConsumerService {
    name: "analytics-consumer",
    needs: ANALYTICS_ONLY,
    topics: &Topic::ALL,
    handler: |adapters| {
        Arc::new(AnalyticsRecorder {
            log: adapters.stores.analytics.clone(),
        })
    },
};

/// Every event on the admin-alerts topic → one alert, listed by `GET /alerts`.
pub static ALERTS_CONSUMER: ConsumerService = ConsumerService {
    name: "alerts-consumer",
    needs: ANALYTICS_ONLY,
    topics: &[Topic::AdminAlerts],
    handler: |adapters| {
        Arc::new(AlertRecorder {
            alerts: adapters.stores.analytics.clone(),
        })
    },
};

/// What the daily report job reads and writes, and it mails the report.
pub const REPORT_NEEDS: Needs = Needs {
    tables: &[&ORDERS, &DELIVERIES, &REPORTS, &AUDIT, &OUTBOX, &VENDORS],
    mail: true,
    signing: false,
    verification: false,
    checkout: false,
};

/// The daily report (01:00 UTC): yesterday's in Asia/Kolkata. A date of the caller's
/// choosing goes through [`run_daily_report`].
pub static DAILY_REPORT: JobService = JobService {
    name: "daily-report",
    needs: REPORT_NEEDS,
    run: |adapters, correlation_id| run_daily_report(adapters, None, correlation_id),
};

/// Runs the daily report for `date` (yesterday in Asia/Kolkata when `None`) and answers
/// what it stored.
pub fn run_daily_report(
    adapters: Adapters,
    date: Option<NaiveDate>,
    correlation_id: String,
) -> JobRun {
    Box::pin(async move {
        let run = DailyReportJob::from_adapters(&adapters)
            .run(date, &correlation_id)
            .await?;
        Ok::<_, DomainError>(serde_json::to_value(run).expect("a run report serializes"))
    })
}

//! The scheduled jobs by name, for `POST /jobs/{name}` and `milkrun job`: the same run the
//! schedule starts, for a date of the caller's choosing.

use chrono::{NaiveDate, TimeDelta, Utc};
use milkrun_domain::DomainError;
use milkrun_domain::checkout::platform_today;
use milkrun_platform::Adapters;

use crate::run::SubscriptionRun;

/// The delivery date a run without one places: tomorrow in the platform's time zone (the
/// schedule fires at 21:30 IST, after today's cut-off).
pub fn default_run_date() -> NaiveDate {
    platform_today(Utc::now()) + TimeDelta::days(1)
}

/// Runs the job `name` (`subscriptions`, `daily-report`, `reconcile-stock`) and answers its
/// report. `date` is the delivery date placed (`subscriptions`, default tomorrow) or
/// reported (`daily-report`, default yesterday), both in Asia/Kolkata.
pub async fn run_by_name(
    adapters: &Adapters,
    name: &str,
    date: Option<NaiveDate>,
    correlation_id: String,
) -> Result<serde_json::Value, DomainError> {
    match name {
        "subscriptions" => {
            let date = date.unwrap_or_else(default_run_date);
            let report = SubscriptionRun::from_adapters(adapters).run(date).await?;
            let mut answer = serde_json::to_value(report).expect("a report serializes");
            answer["date"] = serde_json::json!(date);
            Ok(answer)
        }
        "daily-report" => {
            milkrun_reporting::run_daily_report(adapters.clone(), date, correlation_id).await
        }
        "reconcile-stock" => {
            (milkrun_inventory::RECONCILE.run)(adapters.clone(), correlation_id).await
        }
        _ => Err(DomainError::NotFound("job")),
    }
}

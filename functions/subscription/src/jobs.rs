//! The subscription run by hand, for `POST /jobs/subscriptions` and `milkrun job`: the same
//! run the schedule starts, for a date of the caller's choosing.

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

/// Places every subscription order due on `date` (tomorrow in Asia/Kolkata when `None`) and
/// answers the run's report with its date: `POST /jobs/subscriptions` and `milkrun job
/// subscriptions`. The other jobs by hand are served by the functions that hold their code
/// ([`milkrun_http::jobs`]).
pub async fn run_subscriptions(
    adapters: &Adapters,
    date: Option<NaiveDate>,
) -> Result<serde_json::Value, DomainError> {
    let date = date.unwrap_or_else(default_run_date);
    let report = SubscriptionRun::from_adapters(adapters).run(date).await?;
    let mut answer = serde_json::to_value(report).expect("a report serializes");
    answer["date"] = serde_json::json!(date);
    Ok(answer)
}

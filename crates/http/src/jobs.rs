//! `POST /jobs/<name>`: a scheduled job run by hand, served by the function whose code the
//! job is.
//!
//! API Gateway sends a job's own path (`/jobs/daily-report`) to the function that owns the
//! job, and the rest of `/jobs/{name}` to the subscription job function; the local router
//! holds them all, a static path before `{name}`, as API Gateway orders them. So no function
//! links another's job: the daily report's chart, font and mail stay out of the subscription
//! run's function (bench/README.md, "Lean Lambdas"). The one documented operation is
//! `POST /jobs/{name}` (the subscription service's), whatever function serves a name.

use std::future::Future;
use std::pin::Pin;

use axum::routing::post;
use axum::{Json, Router};
use chrono::NaiveDate;
use milkrun_domain::{DomainError, FieldErrors};
use serde::Deserialize;

use crate::query::date_query;
use crate::{AdminActor, ApiError, ApiQuery};

/// A job's run: its state, the date asked for (the job's default when `None`), and the
/// correlation id its effects carry; it answers its report.
pub type HandRun<S> = fn(S, Option<NaiveDate>, String) -> JobAnswer;

/// A job's report, to come (the same type as `milkrun_platform::JobRun`).
pub type JobAnswer =
    Pin<Box<dyn Future<Output = Result<serde_json::Value, DomainError>> + Send + 'static>>;

#[derive(Debug, Deserialize)]
struct JobDate {
    date: Option<String>,
}

/// The route `POST /jobs/<name>` running `run` over `state` for an administrator.
pub fn hand_job<S: Clone + Send + Sync + 'static>(
    name: &'static str,
    state: S,
    run: HandRun<S>,
) -> Router {
    let handler = move |AdminActor(caller): AdminActor, ApiQuery(query): ApiQuery<JobDate>| {
        let state = state.clone();
        async move {
            let date = job_date(query.date.as_deref())?;
            tracing::info!(by = %caller.user.user_id, ?date, job = name, "a job by hand");
            let correlation_id = caller.audit.correlation_id.clone();
            Ok::<_, ApiError>(Json(run(state, date, correlation_id).await?))
        }
    };
    Router::new().route(&format!("/jobs/{name}"), post(handler))
}

/// `?date=`, checked as every date parameter is ([`date_query`]).
pub fn job_date(raw: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    let mut errors = FieldErrors::new();
    let date = date_query(&mut errors, "date", raw)?;
    Ok(errors.into_result(|| date)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_date_is_optional_and_a_calendar_day() {
        assert_eq!(job_date(None).unwrap(), None);
        let day = NaiveDate::from_ymd_opt(2026, 12, 6);
        assert_eq!(job_date(Some("2026-12-06")).unwrap(), day);
        let malformed = job_date(Some("06-12-2026")).unwrap_err();
        assert_eq!(malformed.status().as_u16(), 400);
        let no_such_day = job_date(Some("2030-02-30")).unwrap_err();
        assert_eq!(no_such_day.status().as_u16(), 409);
    }
}

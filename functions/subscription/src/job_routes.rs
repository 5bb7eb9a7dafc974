//! The subscription run by hand, `POST /jobs/subscriptions` (the other jobs' own paths lead
//! to the functions that hold their code, `milkrun_http::jobs`): a function of its own, so
//! that the subscription function, which serves customers, links neither the run nor the
//! checkout's start (Step Functions).

use axum::Json;
use axum::extract::State;
use milkrun_domain::DomainError;
use milkrun_http::jobs::job_date;
use milkrun_http::{AdminActor, ApiError, ApiPath, ApiQuery, ErrorBody};
use milkrun_platform::Adapters;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::routes::{date_schema, query_param};

milkrun_http::service_routes! { Adapters;
    [run_job]
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize)]
pub struct JobQuery {
    date: Option<String>,
}

impl IntoParams for JobQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![query_param(
            "date",
            false,
            "`subscriptions`: the delivery date the run places, after today (default: tomorrow in Asia/Kolkata). `daily-report`: the delivery date reported, any date (default: yesterday in Asia/Kolkata). `reconcile-stock` takes none.",
            date_schema(),
        )]
    }
}

#[utoipa::path(post, path = "/jobs/{name}", tag = "jobs", security(("bearer" = [])),
    params(("name" = String, Path, pattern = "^(subscriptions|daily-report|reconcile-stock)$"), JobQuery),
    responses((status = 200, body = Object, description = "The run's report."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "No such job."), (status = 409, body = ErrorBody, description = "`subscriptions` with a date not after today: a run places orders to come.")))]
async fn run_job(
    State(adapters): State<Adapters>,
    AdminActor(caller): AdminActor,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<JobQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let date = job_date(query.date.as_deref())?;
    if name != "subscriptions" {
        // The other jobs' own paths lead to the functions that hold their code
        // (milkrun_http::jobs): what reaches this one is no job.
        return Err(DomainError::NotFound("job").into());
    }
    let today = milkrun_domain::checkout::platform_today(chrono::Utc::now());
    if date.is_some_and(|d| d <= today) {
        // A well-formed date the calendar refuses: a conflict, as POST /orders' window.
        let message = "A run places orders to come: the date must be after today (Asia/Kolkata).";
        return Err(DomainError::conflict(message).into());
    }
    tracing::info!(by = %caller.user.user_id, ?date, "the subscription run, by hand");
    Ok(Json(crate::jobs::run_subscriptions(&adapters, date).await?))
}

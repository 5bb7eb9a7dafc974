//! The analytics log (SPEC §6): the consumer that keeps every domain event as an
//! AnalyticsEvent, and `GET /analytics/events?type=&date=`, one type's events of one day,
//! newest first. Admins only.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use milkrun_domain::analytics::{AnalyticsEvent, parse_event_type};
use milkrun_domain::checkout::{DATE_PATTERN, not_a_calendar_day, parse_date};
use milkrun_domain::events::{EventEnvelope, EventType};
use milkrun_domain::ports::{AnalyticsLog, EventHandler};
use milkrun_domain::{DomainError, FieldErrors, schema};
use milkrun_http::{AdminActor, ApiError, ApiQuery, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use crate::routes::ReportingService;

/// The consumer's name: its dead letters are kept and replayed under it.
pub const CONSUMER_NAME: &str = "analytics-consumer";

/// Keeps every event it is handed, once: the log's put-if-absent by eventId is the dedup,
/// so the host keeps no processed-event record for it.
pub struct AnalyticsRecorder {
    pub log: Arc<dyn AnalyticsLog>,
}

#[async_trait]
impl EventHandler for AnalyticsRecorder {
    fn name(&self) -> &'static str {
        CONSUMER_NAME
    }

    fn wants(&self, _: EventType) -> bool {
        true
    }

    fn deduplicates_itself(&self) -> bool {
        true
    }

    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError> {
        let added = self.log.append(&AnalyticsEvent::of(event)).await?;
        if !added {
            tracing::info!(event_id = %event.event_id, "analytics event kept already");
        }
        Ok(())
    }
}

/// `YYYY-MM-DD` with a real month and day (the day itself is checked when read).

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsList {
    items: Vec<AnalyticsEvent>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AnalyticsQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    date: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for AnalyticsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let event_type: RefOr<Schema> = RefOr::Ref(Ref::from_schema_name("EventType"));
        let date = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .pattern(Some(DATE_PATTERN))
            .build();
        let params = [
            schema::query_param("type", true, "The event type.", event_type),
            schema::query_param(
                "date",
                true,
                "The day the events occurred, in Asia/Kolkata.",
                date,
            ),
        ];
        params.into_iter().chain(schema::paging_params()).collect()
    }
}

/// The listing `?type=&date=` names: both required and well-formed, each bad one named.
fn listing(query: &AnalyticsQuery, errors: &mut FieldErrors) -> (EventType, chrono::NaiveDate) {
    let event_type = errors.required("type", query.event_type.as_deref(), parse_event_type);
    let date = errors.required("date", query.date.as_deref(), parse_date);
    // Placeholders only ever seen when `errors` stops the request.
    (
        event_type.unwrap_or(EventType::OrderPlaced),
        date.unwrap_or_default(),
    )
}

#[utoipa::path(get, path = "/analytics/events", tag = "analytics", security(("bearer" = [])), params(AnalyticsQuery),
    responses((status = 200, body = AnalyticsList, description = "One page of the type's events of that day, newest first."), (status = 400, body = ErrorBody, description = "`type` not an event type, `date` not YYYY-MM-DD, or a bad `limit`."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue, or a `date` spelled as the pattern allows that is no day of the calendar (e.g. 2030-02-30).")))]
pub async fn analytics_events(
    State(service): State<ReportingService>,
    _admin: AdminActor,
    paging: Paging,
    ApiQuery(query): ApiQuery<AnalyticsQuery>,
) -> Result<Json<AnalyticsList>, ApiError> {
    if query.date.as_deref().is_some_and(not_a_calendar_day) {
        return Err(DomainError::NotFound("day").into());
    }
    let mut errors = FieldErrors::new();
    let (event_type, day) = listing(&query, &mut errors);
    let scope = format!("analytics|{}|{day}", event_type.as_str());
    let page = paging.request(
        &scope,
        query.limit.as_deref(),
        query.cursor.clone(),
        &mut errors,
    );
    errors.into_result(|| ())?;
    let page = service
        .analytics
        .of_day(event_type, day, &page?)
        .await
        .map_err(DomainError::from)?;
    let page = paging.seal(&scope, page);
    Ok(Json(AnalyticsList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

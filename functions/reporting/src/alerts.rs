//! Admin alerts (SPEC §7 admin-alerts): the consumer of that topic that keeps each alert
//! once (FRAUD_SUSPECTED, LOW_STOCK from the nightly sweep, DAILY_REPORT_READY, ...), and
//! `GET /alerts?type=&since=`, newest first, for managers and admins.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use milkrun_domain::analytics::{AnalyticsEvent, parse_event_type};
use milkrun_domain::events::{EventEnvelope, EventType};
use milkrun_domain::ports::{AdminAlerts, EventHandler};
use milkrun_domain::values::{InvalidValue, Role};
use milkrun_domain::{DomainError, FieldErrors, schema};
use milkrun_http::{Actor, ApiError, ApiQuery, ErrorBody, Paging, require_role};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use crate::routes::ReportingService;

/// The consumer's name: its dead letters are kept and replayed under it.
pub const CONSUMER_NAME: &str = "alerts-consumer";

/// Keeps every event the admin-alerts topic hands it, once: the put-if-absent by eventId is
/// the dedup, so the host keeps no processed-event record for it.
pub struct AlertRecorder {
    pub alerts: Arc<dyn AdminAlerts>,
}

#[async_trait]
impl EventHandler for AlertRecorder {
    fn name(&self) -> &'static str {
        CONSUMER_NAME
    }

    /// Whatever reached the topic is an alert (a LOW_STOCK of the nightly sweep included).
    fn wants(&self, _: EventType) -> bool {
        true
    }

    fn deduplicates_itself(&self) -> bool {
        true
    }

    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError> {
        if !self.alerts.keep(&AnalyticsEvent::of(event)).await? {
            tracing::info!(event_id = %event.event_id, "alert kept already");
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertList {
    items: Vec<AnalyticsEvent>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AlertQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for AlertQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let event_type: RefOr<Schema> = RefOr::Ref(Ref::from_schema_name("EventType"));
        let since = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .build();
        let params = [
            schema::query_param("type", false, "Only alerts of this event type.", event_type),
            schema::query_param(
                "since",
                false,
                "Only alerts that occurred at or after this instant (RFC 3339).",
                since,
            ),
        ];
        params.into_iter().chain(schema::paging_params()).collect()
    }
}

fn parse_since(raw: &str) -> Result<DateTime<Utc>, InvalidValue> {
    DateTime::parse_from_rfc3339(raw)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| InvalidValue("must be an RFC 3339 date-time, e.g. 2026-03-01T00:00:00Z"))
}

#[utoipa::path(get, path = "/alerts", tag = "analytics", security(("bearer" = [])), params(AlertQuery),
    description = "The admin alerts: every event that reached the admin-alerts topic (a fraud hold, a LOW_STOCK of the nightly sweep, DAILY_REPORT_READY, ...), kept once each, newest first. Managers and admins; customers and vendors 403.",
    responses((status = 200, body = AlertList, description = "One page of the alerts, newest first."), (status = 400, body = ErrorBody, description = "`type` not an event type, `since` not an RFC 3339 date-time, or a bad `limit`."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
pub async fn alerts(
    State(service): State<ReportingService>,
    caller: Actor,
    paging: Paging,
    ApiQuery(query): ApiQuery<AlertQuery>,
) -> Result<Json<AlertList>, ApiError> {
    require_role(caller, &[Role::Manager, Role::Admin])?;
    let mut errors = FieldErrors::new();
    let event_type = query
        .event_type
        .as_deref()
        .and_then(|raw| errors.check("type", parse_event_type(raw)));
    let since = query
        .since
        .as_deref()
        .and_then(|raw| errors.check("since", parse_since(raw)));
    let type_name = event_type.map_or("", EventType::as_str);
    let since_key = since.map(|s| s.to_rfc3339()).unwrap_or_default();
    let scope = format!("alerts|{type_name}|{since_key}");
    let page = paging.request(
        &scope,
        query.limit.as_deref(),
        query.cursor.clone(),
        &mut errors,
    );
    errors.into_result(|| ())?;
    let page = service
        .alerts
        .alerts(event_type, since, &page?)
        .await
        .map_err(DomainError::from)?;
    let page = paging.seal(&scope, page);
    Ok(Json(AlertList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

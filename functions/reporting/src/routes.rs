//! `GET /audit?entityId=`: who did what to one entity, newest first; and
//! `GET /analytics/events` (in [`crate::analytics`]). Admins only.

use axum::Json;
use axum::extract::State;
use milkrun_domain::FieldErrors;
use std::sync::Arc;

use milkrun_domain::audit::AuditEntry;
use milkrun_domain::ports::{AnalyticsLog, AuditLog};
use milkrun_domain::schema;
use milkrun_domain::values::bounded_text;
use milkrun_http::{AdminActor, ApiError, ApiQuery, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use crate::analytics::{__path_analytics_events, analytics_events};

milkrun_http::service_routes! { ReportingService;
    [audit_trail]
    [analytics_events]
}

type ApiResult<T> = Result<T, ApiError>;

/// The longest entity id accepted (a stock row's id is three UUIDs).
const MAX_ENTITY_ID_CHARS: usize = 128;

/// What the reporting routes read.
#[derive(Clone)]
pub struct ReportingService {
    pub audit: Arc<dyn AuditLog>,
    pub analytics: Arc<dyn AnalyticsLog>,
}

impl ReportingService {
    pub fn from_adapters(adapters: &milkrun_platform::Adapters) -> Self {
        Self {
            audit: adapters.stores.audit.clone(),
            analytics: adapters.stores.analytics.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditList {
    items: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    entity_id: String,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for AuditQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let entity = schema::query_param(
            "entityId",
            true,
            "A userId, vendorId, productId, or `vendorId:productId:variantId` for a stock row.",
            schema::text_128(),
        );
        [entity]
            .into_iter()
            .chain(schema::paging_params())
            .collect()
    }
}

#[utoipa::path(get, path = "/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditList, description = "One page of the audit trail."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
async fn audit_trail(
    State(service): State<ReportingService>,
    _admin: AdminActor,
    paging: Paging,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let mut errors = FieldErrors::new();
    let entity_id = errors
        .check(
            "entityId",
            bounded_text(&query.entity_id, MAX_ENTITY_ID_CHARS),
        )
        .unwrap_or_default();
    let scope = format!("audit|{entity_id}");
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    errors.into_result(|| ())?;
    let page = page?;
    let page = service
        .audit
        .for_entity(&entity_id, &page)
        .await
        .map_err(milkrun_domain::DomainError::from)?;
    let page = paging.seal(&scope, page);
    Ok(Json(AuditList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

//! `GET /audit?entityId=`: who did what to one entity, newest first. Admins only.

use axum::Json;
use axum::extract::State;
use milkrun_domain::FieldErrors;
use std::sync::Arc;

use milkrun_domain::audit::AuditEntry;
use milkrun_domain::ports::AuditLog;
use milkrun_http::{AdminActor, ApiError, ApiQuery, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes as handlers;

type ApiResult<T> = Result<T, ApiError>;

/// The longest entity id accepted (a stock row's id is three UUIDs).
const MAX_ENTITY_ID_CHARS: usize = 128;

/// What the reporting routes read.
#[derive(Clone)]
pub struct ReportingService {
    pub audit: Arc<dyn AuditLog>,
}

impl ReportingService {
    pub fn from_adapters(adapters: &milkrun_platform::Adapters) -> Self {
        Self {
            audit: adapters.stores.audit.clone(),
        }
    }
}

/// The documented routes, before a service is bound (enough to describe them).
pub fn routes() -> OpenApiRouter<ReportingService> {
    OpenApiRouter::new().routes(handlers!(audit_trail))
}

pub fn api(service: ReportingService) -> OpenApiRouter {
    routes().with_state(service)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditList {
    items: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(rename_all = "camelCase")]
pub struct AuditQuery {
    /// A userId, vendorId, productId, or `vendorId:productId:variantId` for a stock row.
    entity_id: Option<String>,
    /// 1 to 100, default 20.
    limit: Option<String>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audit_trail(
    State(service): State<ReportingService>,
    _admin: AdminActor,
    paging: Paging,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let mut errors = FieldErrors::new();
    let entity_id = query.entity_id.unwrap_or_default().trim().to_owned();
    if entity_id.is_empty() || entity_id.chars().count() > MAX_ENTITY_ID_CHARS {
        errors.add(
            "entityId",
            format!("is required, at most {MAX_ENTITY_ID_CHARS} characters"),
        );
    }
    let scope = format!("audit|{entity_id}");
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    errors.into_result(|| ())?;
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

//! The vendor service's HTTP surface.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use milkrun_domain::values::{Email, Pincode};
use milkrun_domain::vendor::{Capacity, Vendor, VendorInput};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::{AdminActor, ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes as handlers;
use uuid::Uuid;

use crate::service::VendorService;

type ApiResult<T> = Result<T, ApiError>;

/// The documented routes, before a service is bound (enough to describe them).
pub fn routes() -> OpenApiRouter<VendorService> {
    OpenApiRouter::new()
        .routes(handlers!(list_vendors, create_vendor))
        .routes(handlers!(get_vendor, patch_vendor, delete_vendor))
}

/// All vendor routes bound to the service.
pub fn api(service: VendorService) -> OpenApiRouter {
    routes().with_state(service)
}

/// A vendor as clients see it (without the storage version).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VendorView {
    vendor_id: Uuid,
    name: String,
    email: Email,
    phone: String,
    address: String,
    #[schema(value_type = Vec<String>)]
    service_areas: Vec<Pincode>,
    rating: f64,
    is_active: bool,
    capacity: Capacity,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Vendor> for VendorView {
    fn from(v: Vendor) -> Self {
        Self {
            vendor_id: v.vendor_id,
            name: v.name.into(),
            email: v.email,
            phone: v.phone.into(),
            address: v.address,
            service_areas: v.service_areas,
            rating: v.rating,
            is_active: v.is_active,
            capacity: v.capacity,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VendorList {
    items: Vec<VendorView>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct VendorQuery {
    /// Only vendors serving this 6-digit pincode.
    pincode: Option<String>,
    /// 1 to 100, default 20 (ignored with `pincode`).
    limit: Option<String>,
    cursor: Option<String>,
}

/// Cursors of the active-vendor listing (the pincode lookup answers in one page).
const VENDORS_SCOPE: &str = "vendors";

fn vendor_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| DomainError::NotFound("vendor").into())
}

#[utoipa::path(get, path = "/vendors", tag = "vendors", params(VendorQuery),
    responses((status = 200, body = VendorList), (status = 400, body = ErrorBody)))]
async fn list_vendors(
    State(service): State<VendorService>,
    paging: Paging,
    ApiQuery(query): ApiQuery<VendorQuery>,
) -> ApiResult<Json<VendorList>> {
    let mut errors = FieldErrors::new();
    let pincode = query
        .pincode
        .map(|raw| errors.check("pincode", Pincode::parse(&raw)));
    let page = paging.request(
        VENDORS_SCOPE,
        query.limit.as_deref(),
        query.cursor,
        &mut errors,
    );
    errors.into_result(|| ())?;
    let page = service.list(pincode.flatten(), &page).await?;
    let page = paging.seal(VENDORS_SCOPE, page).map(VendorView::from);
    Ok(Json(VendorList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/vendors/{vendorId}", tag = "vendors", params(("vendorId" = Uuid, Path)),
    responses((status = 200, body = VendorView), (status = 404, body = ErrorBody)))]
async fn get_vendor(
    State(service): State<VendorService>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<VendorView>> {
    Ok(Json(service.get(vendor_id(&id)?).await?.into()))
}

#[utoipa::path(post, path = "/vendors", tag = "vendors", security(("bearer" = [])), request_body = VendorInput,
    responses((status = 201, body = VendorView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_vendor(
    State(service): State<VendorService>,
    AdminActor(actor): AdminActor,
    ApiJson(body): ApiJson<VendorInput>,
) -> ApiResult<(StatusCode, Json<VendorView>)> {
    Ok((
        StatusCode::CREATED,
        Json(service.create(body, &actor.audit).await?.into()),
    ))
}

#[utoipa::path(patch, path = "/vendors/{vendorId}", tag = "vendors", security(("bearer" = [])), params(("vendorId" = Uuid, Path)), request_body = VendorInput,
    responses((status = 200, body = VendorView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn patch_vendor(
    State(service): State<VendorService>,
    AdminActor(actor): AdminActor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<VendorInput>,
) -> ApiResult<Json<VendorView>> {
    let vendor = service.update(vendor_id(&id)?, body, &actor.audit).await?;
    Ok(Json(vendor.into()))
}

#[utoipa::path(delete, path = "/vendors/{vendorId}", tag = "vendors", security(("bearer" = [])), params(("vendorId" = Uuid, Path)),
    responses((status = 200, body = VendorView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_vendor(
    State(service): State<VendorService>,
    AdminActor(actor): AdminActor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<VendorView>> {
    let vendor = service.deactivate(vendor_id(&id)?, &actor.audit).await?;
    Ok(Json(vendor.into()))
}

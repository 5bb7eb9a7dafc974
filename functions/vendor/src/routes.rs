//! The vendor service's HTTP surface.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use milkrun_domain::schema;
use milkrun_domain::values::{Email, Pincode, parse_uuid};
use milkrun_domain::vendor::{Capacity, CapacityInput, Vendor, VendorInput};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::{AdminActor, ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::service::VendorService;

milkrun_http::service_routes! { VendorService;
    [list_vendors, create_vendor]
    [get_vendor, patch_vendor, delete_vendor]
}

type ApiResult<T> = Result<T, ApiError>;

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
    #[schema(schema_with = milkrun_domain::schema::cutoff_time_required)]
    cutoff_time: String,
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
            cutoff_time: v.cutoff_time.to_string(),
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

#[derive(Debug, Deserialize)]
pub struct VendorQuery {
    pincode: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for VendorQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let pincode = schema::query_param(
            "pincode",
            false,
            "Only vendors serving this pincode (then in one page: limit and cursor are ignored).",
            schema::pincode_required(),
        );
        [pincode]
            .into_iter()
            .chain(schema::paging_params())
            .collect()
    }
}

/// A new vendor: the fields of a vendor's PATCH, with name, email, phone, address and
/// service areas required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewVendor {
    #[schema(schema_with = schema::text_100, required = true)]
    name: Option<String>,
    #[schema(schema_with = schema::email_required, required = true)]
    email: Option<String>,
    #[schema(schema_with = schema::phone_required, required = true)]
    phone: Option<String>,
    #[schema(schema_with = schema::text_300, required = true)]
    address: Option<String>,
    #[schema(schema_with = schema::pincodes_required, required = true)]
    service_areas: Option<Vec<String>>,
    /// 0 to 5; 0 when left out.
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 5)]
    rating: Option<serde_json::Value>,
    /// 100 orders a day when left out.
    capacity: Option<CapacityInput>,
    /// 21:00 when left out.
    #[schema(schema_with = milkrun_domain::schema::cutoff_time_or_null)]
    cutoff_time: Option<String>,
}

impl From<NewVendor> for VendorInput {
    fn from(new: NewVendor) -> Self {
        Self {
            name: new.name,
            email: new.email,
            phone: new.phone,
            address: new.address,
            service_areas: new.service_areas,
            rating: new.rating,
            capacity: new.capacity,
            cutoff_time: new.cutoff_time,
            is_active: None,
        }
    }
}

/// Cursors of the active-vendor listing (the pincode lookup answers in one page).
const VENDORS_SCOPE: &str = "vendors";

fn vendor_id(raw: &str) -> Result<Uuid, ApiError> {
    parse_uuid(raw).ok_or_else(|| DomainError::NotFound("vendor").into())
}

#[utoipa::path(get, path = "/vendors", tag = "vendors", params(VendorQuery),
    responses((status = 200, body = VendorList, description = "One page of the active vendors that match the filters."), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
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
    let page = service.list(pincode.flatten(), &page?).await?;
    let page = paging.seal(VENDORS_SCOPE, page).map(VendorView::from);
    Ok(Json(VendorList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/vendors/{vendorId}", tag = "vendors", params(("vendorId" = Uuid, Path)),
    responses((status = 200, body = VendorView, description = "The vendor."), (status = 404, body = ErrorBody)))]
async fn get_vendor(
    State(service): State<VendorService>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<VendorView>> {
    Ok(Json(service.get(vendor_id(&id)?).await?.into()))
}

#[utoipa::path(post, path = "/vendors", tag = "vendors", security(("bearer" = [])), request_body = NewVendor,
    responses((status = 201, body = VendorView, description = "The vendor, created."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn create_vendor(
    State(service): State<VendorService>,
    AdminActor(actor): AdminActor,
    ApiJson(body): ApiJson<NewVendor>,
) -> ApiResult<(StatusCode, Json<VendorView>)> {
    Ok((
        StatusCode::CREATED,
        Json(service.create(body.into(), &actor.audit).await?.into()),
    ))
}

#[utoipa::path(patch, path = "/vendors/{vendorId}", tag = "vendors", security(("bearer" = [])), params(("vendorId" = Uuid, Path)), request_body = VendorInput,
    responses((status = 200, body = VendorView, description = "The vendor as it now is."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
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
    responses((status = 200, body = VendorView, description = "The vendor, now inactive."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_vendor(
    State(service): State<VendorService>,
    AdminActor(actor): AdminActor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<VendorView>> {
    let vendor = service.deactivate(vendor_id(&id)?, &actor.audit).await?;
    Ok(Json(vendor.into()))
}

//! The inventory service's HTTP surface. A VENDOR user reaches only its own vendor's rows,
//! an admin every vendor's; everyone else is refused.

use axum::Json;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::State;
use axum::http::request::Parts;
use milkrun_domain::inventory::{InventoryRow, StockKey, StockOperation, parse_threshold};
use milkrun_domain::schema;
use milkrun_domain::values::{Role, parse_uuid};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::json::parse_json;
use milkrun_http::{Actor, ApiError, ApiPath, ApiQuery, AuthUser, ErrorBody, Paging, require_role};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::service::InventoryService;

milkrun_http::service_routes! { InventoryService;
    [list_inventory]
    [adjust_stock]
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryList {
    items: Vec<InventoryRow>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryQuery {
    vendor_id: String,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for InventoryQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let vendor = schema::query_param("vendorId", true, "Whose stock.", schema::uuid_required());
        [vendor]
            .into_iter()
            .chain(schema::paging_params())
            .collect()
    }
}

/// `{operation, quantity, lowStockThreshold?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockChange {
    #[schema(value_type = Operation, required = true)]
    operation: Option<String>,
    /// Units moved (ADD, SUBTRACT) or the new stock (SET). Stock never goes below 0 or above
    /// 1,000,000,000: such a change is a 409 and changes nothing.
    #[schema(schema_with = schema::quantity_required, required = true)]
    quantity: Option<serde_json::Value>,
    /// Replaces the row's threshold (10 for a new row when left out).
    #[schema(schema_with = schema::quantity_or_null)]
    low_stock_threshold: Option<serde_json::Value>,
}

// The document's name for what `milkrun_domain::inventory::StockOperation` parses.
/// How `quantity` changes the stock: ADD it, SUBTRACT it (refused, changing nothing, if the
/// stock would go below zero) or SET the stock to it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
enum Operation {
    Add,
    Subtract,
    Set,
}

/// An admin or a vendor's user: checked before the query or body is read, so anyone else
/// hears 403, never a validation error first.
pub struct StockKeeper(Actor);

impl<S: Send + Sync> FromRequestParts<S> for StockKeeper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let actor = Actor::from_request_parts(parts, state).await?;
        require_role(actor, &[Role::Admin, Role::Vendor]).map(StockKeeper)
    }
}

/// Admins reach every vendor's rows, a VENDOR user only its own (403 for another's).
fn require_access(user: &AuthUser, vendor_id: Uuid) -> Result<(), ApiError> {
    match user.role {
        Role::Admin => Ok(()),
        Role::Vendor if user.vendor_id == Some(vendor_id) => Ok(()),
        Role::Vendor => Err(ApiError::forbidden(
            "You can only manage your own vendor's stock.",
        )),
        _ => Err(ApiError::forbidden("Your role does not allow this action.")),
    }
}

fn path_id(raw: &str, what: &'static str) -> Result<Uuid, ApiError> {
    parse_uuid(raw).ok_or_else(|| DomainError::NotFound(what).into())
}

#[utoipa::path(get, path = "/inventory", tag = "inventory", security(("bearer" = [])), params(InventoryQuery),
    responses((status = 200, body = InventoryList, description = "One page of stock rows."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "No such vendor, or a `cursor` this listing did not issue.")))]
async fn list_inventory(
    State(service): State<InventoryService>,
    StockKeeper(caller): StockKeeper,
    paging: Paging,
    ApiQuery(query): ApiQuery<InventoryQuery>,
) -> ApiResult<Json<InventoryList>> {
    let mut errors = FieldErrors::new();
    let vendor_id = parse_uuid(&query.vendor_id);
    if vendor_id.is_none() {
        errors.add("vendorId", "must be a vendor id (UUID)");
    }
    let scope = format!("inventory|{vendor_id:?}");
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    let vendor_id = errors.into_result(|| vendor_id.expect("checked"))?;
    require_access(&caller.user, vendor_id)?;
    let page = paging.seal(&scope, service.list(vendor_id, &page?).await?);
    Ok(Json(InventoryList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(put, path = "/inventory/{vendorId}/{productId}/{variantId}", tag = "inventory", security(("bearer" = [])),
    params(("vendorId" = Uuid, Path), ("productId" = Uuid, Path), ("variantId" = Uuid, Path)), request_body = StockChange,
    responses((status = 200, body = InventoryRow, description = "The stock row as it now is."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn adjust_stock(
    State(service): State<InventoryService>,
    StockKeeper(actor): StockKeeper,
    ApiPath((vendor, product, variant)): ApiPath<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Json<InventoryRow>> {
    let key = StockKey {
        vendor_id: path_id(&vendor, "vendor")?,
        product_id: path_id(&product, "product")?,
        variant_id: path_id(&variant, "variant")?,
    };
    require_access(&actor.user, key.vendor_id)?;
    // Read only once the caller may change this vendor's stock.
    let body: StockChange = parse_json(&body)?;
    let operation = StockOperation::parse(body.operation.as_deref(), body.quantity.as_ref());
    let mut errors = operation.as_ref().err().cloned().unwrap_or_default();
    let threshold = body
        .low_stock_threshold
        .as_ref()
        .and_then(|raw| errors.check("lowStockThreshold", parse_threshold(raw)));
    let operation = errors.into_result(|| operation.expect("checked"))?;
    let row = service
        .adjust(key, operation, threshold, &actor.audit)
        .await?;
    Ok(Json(row))
}

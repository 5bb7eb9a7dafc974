//! The cart service's HTTP surface: a customer's own cart, nobody else's (there is no cart
//! id to guess: the cart is the caller's).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use milkrun_domain::cart::{CartLine, PricedCart, parse_line_quantity};
use milkrun_domain::values::parse_uuid;
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::json::parse_json;
use milkrun_http::{ApiError, ApiPath, CustomerActor, ErrorBody};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::service::CartService;

milkrun_http::service_routes! { CartService;
    [view_cart, empty_cart]
    [add_item]
    [set_item, remove_item]
}

type ApiResult<T> = Result<T, ApiError>;

/// `{productId, variantId, quantity}`: adds `quantity` units to that line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewCartItem {
    /// An active product (404 otherwise).
    #[schema(schema_with = milkrun_domain::schema::uuid_required, required = true)]
    product_id: Option<String>,
    /// One of the product's variants (404 otherwise).
    #[schema(schema_with = milkrun_domain::schema::uuid_required, required = true)]
    variant_id: Option<String>,
    /// Units to add; a line holds at most 100 and a cart at most 32 lines (409 beyond), as many as an order may have.
    #[schema(schema_with = milkrun_domain::schema::line_quantity_required, required = true)]
    quantity: Option<serde_json::Value>,
}

/// `{quantity}`: the line's new quantity (remove a line with DELETE).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartItemQuantity {
    #[schema(schema_with = milkrun_domain::schema::line_quantity_required, required = true)]
    quantity: Option<serde_json::Value>,
}

fn required_uuid(errors: &mut FieldErrors, field: &str, raw: Option<&str>) -> Option<Uuid> {
    let parsed = raw.and_then(parse_uuid);
    match raw {
        None => errors.add(field, "is required"),
        Some(_) if parsed.is_none() => errors.add(field, "must be a UUID"),
        Some(_) => {}
    }
    parsed
}

fn required_quantity(errors: &mut FieldErrors, raw: Option<&serde_json::Value>) -> Option<u32> {
    match raw {
        None => {
            errors.add("quantity", "is required");
            None
        }
        Some(raw) => errors.check("quantity", parse_line_quantity(raw)),
    }
}

/// A line's path: ids that are not UUIDs name no line (404).
fn line_path(product: &str, variant: &str) -> Result<(Uuid, Uuid), ApiError> {
    let not_found = || ApiError::from(DomainError::NotFound("cart item"));
    let product_id = parse_uuid(product).ok_or_else(not_found)?;
    let variant_id = parse_uuid(variant).ok_or_else(not_found)?;
    Ok((product_id, variant_id))
}

#[utoipa::path(get, path = "/cart", tag = "cart", security(("bearer" = [])),
    responses((status = 200, body = PricedCart, description = "The caller's cart, each line priced from the catalog, with its total."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn view_cart(
    State(service): State<CartService>,
    CustomerActor(caller): CustomerActor,
) -> ApiResult<Json<PricedCart>> {
    Ok(Json(service.view(caller.user.user_id).await?))
}

#[utoipa::path(delete, path = "/cart", tag = "cart", security(("bearer" = [])),
    responses((status = 204, description = "The cart is empty."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn empty_cart(
    State(service): State<CartService>,
    CustomerActor(caller): CustomerActor,
) -> ApiResult<StatusCode> {
    service.clear(&caller.audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/cart/items", tag = "cart", security(("bearer" = [])), request_body = NewCartItem,
    responses((status = 200, body = PricedCart, description = "The cart with the units added, priced again."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn add_item(
    State(service): State<CartService>,
    CustomerActor(caller): CustomerActor,
    body: Bytes,
) -> ApiResult<Json<PricedCart>> {
    let body: NewCartItem = parse_json(&body)?;
    let mut errors = FieldErrors::new();
    let product_id = required_uuid(&mut errors, "productId", body.product_id.as_deref());
    let variant_id = required_uuid(&mut errors, "variantId", body.variant_id.as_deref());
    let quantity = required_quantity(&mut errors, body.quantity.as_ref());
    let line = errors.into_result(|| CartLine {
        product_id: product_id.expect("checked"),
        variant_id: variant_id.expect("checked"),
        quantity: quantity.expect("checked"),
    })?;
    Ok(Json(service.add(&caller.audit, line).await?))
}

#[utoipa::path(patch, path = "/cart/items/{productId}/{variantId}", tag = "cart", security(("bearer" = [])),
    params(("productId" = Uuid, Path), ("variantId" = Uuid, Path)), request_body = CartItemQuantity,
    responses((status = 200, body = PricedCart, description = "The cart with the line's new quantity, priced again."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn set_item(
    State(service): State<CartService>,
    CustomerActor(caller): CustomerActor,
    ApiPath((product, variant)): ApiPath<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<PricedCart>> {
    let (product_id, variant_id) = line_path(&product, &variant)?;
    let body: CartItemQuantity = parse_json(&body)?;
    let mut errors = FieldErrors::new();
    let quantity = required_quantity(&mut errors, body.quantity.as_ref());
    let quantity = errors.into_result(|| quantity.expect("checked"))?;
    let line = CartLine {
        product_id,
        variant_id,
        quantity,
    };
    Ok(Json(service.set_quantity(&caller.audit, line).await?))
}

#[utoipa::path(delete, path = "/cart/items/{productId}/{variantId}", tag = "cart", security(("bearer" = [])),
    params(("productId" = Uuid, Path), ("variantId" = Uuid, Path)),
    responses((status = 200, body = PricedCart, description = "The cart without that line, priced again."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_item(
    State(service): State<CartService>,
    CustomerActor(caller): CustomerActor,
    ApiPath((product, variant)): ApiPath<(String, String)>,
) -> ApiResult<Json<PricedCart>> {
    let (product_id, variant_id) = line_path(&product, &variant)?;
    Ok(Json(
        service
            .remove(&caller.audit, product_id, variant_id)
            .await?,
    ))
}

//! The product service's HTTP surface.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use milkrun_domain::product::{Product, ProductFilter, ProductInput, Variant, VariantAvailability};
use milkrun_domain::values::{Category, Pincode};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::{AdminActor, ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes as handlers;
use uuid::Uuid;

use crate::service::{ProductSearch, ProductService};

type ApiResult<T> = Result<T, ApiError>;

/// The longest `q` accepted (names are at most 120 characters).
const MAX_QUERY_CHARS: usize = 120;

/// The documented routes, before a service is bound (enough to describe them).
pub fn routes() -> OpenApiRouter<ProductService> {
    OpenApiRouter::new()
        .routes(handlers!(list_products, create_product))
        .routes(handlers!(get_product, patch_product, delete_product))
}

/// All product routes bound to the service.
pub fn api(service: ProductService) -> OpenApiRouter {
    routes().with_state(service)
}

/// A product as clients see it (without the storage version).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    product_id: Uuid,
    name: String,
    category: Category,
    description: String,
    variants: Vec<Variant>,
    vendor_ids: Vec<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    is_active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    created_by: Uuid,
    updated_by: Uuid,
}

impl From<Product> for ProductView {
    fn from(p: Product) -> Self {
        Self {
            product_id: p.product_id,
            name: p.name,
            category: p.category,
            description: p.description,
            variants: p.variants,
            vendor_ids: p.vendor_ids,
            image_url: p.image_url,
            is_active: p.is_active,
            created_at: p.created_at,
            updated_at: p.updated_at,
            created_by: p.created_by,
            updated_by: p.updated_by,
        }
    }
}

/// One product with how much of each variant can be ordered now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductDetails {
    #[serde(flatten)]
    product: ProductView,
    availability: Vec<VariantAvailability>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductList {
    items: Vec<ProductView>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(rename_all = "camelCase")]
pub struct ProductQuery {
    /// MILK, CURD, PANEER, BUTTER, GHEE or OTHER.
    category: Option<String>,
    /// Some variant costs at least this many paise…
    min_price: Option<String>,
    /// …and at most this many.
    max_price: Option<String>,
    /// Name contains (case-insensitive).
    q: Option<String>,
    /// Sold by this vendor.
    vendor_id: Option<String>,
    /// Sold by a vendor serving this 6-digit pincode.
    pincode: Option<String>,
    /// 1 to 100, default 20.
    limit: Option<String>,
    cursor: Option<String>,
}

fn parse_paise(raw: &str) -> Result<u64, milkrun_domain::values::InvalidValue> {
    raw.parse::<u64>()
        .map_err(|_| milkrun_domain::values::InvalidValue("must be a whole number of paise"))
}

impl ProductQuery {
    /// The search these parameters ask for, naming every bad one.
    fn search(&self, errors: &mut FieldErrors) -> ProductSearch {
        let category = self
            .category
            .as_deref()
            .and_then(|raw| errors.check("category", Category::parse(raw)));
        let min_price = self
            .min_price
            .as_deref()
            .and_then(|raw| errors.check("minPrice", parse_paise(raw)));
        let max_price = self
            .max_price
            .as_deref()
            .and_then(|raw| errors.check("maxPrice", parse_paise(raw)));
        if let (Some(min), Some(max)) = (min_price, max_price)
            && min > max
        {
            errors.add("maxPrice", "must not be below minPrice");
        }
        let name_contains = self.q.as_deref().map(str::trim).and_then(|q| {
            if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
                errors.add("q", format!("must be 1 to {MAX_QUERY_CHARS} characters"));
                None
            } else {
                Some(q.to_lowercase())
            }
        });
        let vendor_id = self.vendor_id.as_deref().and_then(|raw| {
            let id = Uuid::parse_str(raw).ok();
            if id.is_none() {
                errors.add("vendorId", "must be a vendor id (UUID)");
            }
            id
        });
        let pincode = self
            .pincode
            .as_deref()
            .and_then(|raw| errors.check("pincode", Pincode::parse(raw)));
        ProductSearch {
            filter: ProductFilter {
                category,
                min_price,
                max_price,
                name_contains,
                vendor_ids: None,
            },
            vendor_id,
            pincode,
        }
    }
}

fn product_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| DomainError::NotFound("product").into())
}

#[utoipa::path(get, path = "/products", tag = "products", params(ProductQuery),
    responses((status = 200, body = ProductList), (status = 400, body = ErrorBody)))]
async fn list_products(
    State(service): State<ProductService>,
    paging: Paging,
    ApiQuery(query): ApiQuery<ProductQuery>,
) -> ApiResult<Json<ProductList>> {
    let mut errors = FieldErrors::new();
    let search = query.search(&mut errors);
    let scope = search.scope();
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    errors.into_result(|| ())?;
    let page = service.list(search, &page).await?;
    let page = paging.seal(&scope, page).map(ProductView::from);
    Ok(Json(ProductList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/products/{productId}", tag = "products", params(("productId" = Uuid, Path)),
    responses((status = 200, body = ProductDetails), (status = 404, body = ErrorBody)))]
async fn get_product(
    State(service): State<ProductService>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProductDetails>> {
    let (product, availability) = service.get_with_availability(product_id(&id)?).await?;
    Ok(Json(ProductDetails {
        product: product.into(),
        availability,
    }))
}

#[utoipa::path(post, path = "/products", tag = "products", security(("bearer" = [])), request_body = ProductInput,
    responses((status = 201, body = ProductView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_product(
    State(service): State<ProductService>,
    AdminActor(actor): AdminActor,
    ApiJson(body): ApiJson<ProductInput>,
) -> ApiResult<(StatusCode, Json<ProductView>)> {
    let product = service.create(body, &actor.audit).await?;
    Ok((StatusCode::CREATED, Json(product.into())))
}

#[utoipa::path(patch, path = "/products/{productId}", tag = "products", security(("bearer" = [])), params(("productId" = Uuid, Path)), request_body = ProductInput,
    responses((status = 200, body = ProductView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn patch_product(
    State(service): State<ProductService>,
    AdminActor(actor): AdminActor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProductInput>,
) -> ApiResult<Json<ProductView>> {
    let product = service.update(product_id(&id)?, body, &actor.audit).await?;
    Ok(Json(product.into()))
}

#[utoipa::path(delete, path = "/products/{productId}", tag = "products", security(("bearer" = [])), params(("productId" = Uuid, Path)),
    responses((status = 200, body = ProductView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_product(
    State(service): State<ProductService>,
    AdminActor(actor): AdminActor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProductView>> {
    let product = service.deactivate(product_id(&id)?, &actor.audit).await?;
    Ok(Json(product.into()))
}

//! The product service's HTTP surface.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use milkrun_domain::product::{
    Product, ProductFilter, ProductInput, Variant, VariantAvailability, VariantInput,
};
use milkrun_domain::schema;
use milkrun_domain::values::bounded_text;
use milkrun_domain::values::{Category, Pincode, parse_uuid};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::{AdminActor, ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::service::{ProductSearch, ProductService};

milkrun_http::service_routes! { ProductService;
    [list_products, create_product]
    [get_product, patch_product, delete_product]
}

type ApiResult<T> = Result<T, ApiError>;

/// The longest `q` accepted (names are at most 120 characters).
const MAX_QUERY_CHARS: usize = 120;

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductQuery {
    category: Option<String>,
    min_price: Option<String>,
    max_price: Option<String>,
    q: Option<String>,
    vendor_id: Option<String>,
    pincode: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for ProductQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        use schema::query_param as param;
        [
            param("category", false, "In this category.", Category::schema()),
            param(
                "minPrice",
                false,
                "Some variant costs at least this many paise…",
                schema::paise_required(),
            ),
            param(
                "maxPrice",
                false,
                "…and at most this many (below minPrice, nothing matches).",
                schema::paise_required(),
            ),
            param(
                "q",
                false,
                "The name contains this (case-insensitive).",
                schema::text_120(),
            ),
            param(
                "vendorId",
                false,
                "Sold by this vendor.",
                schema::uuid_required(),
            ),
            param(
                "pincode",
                false,
                "Sold by a vendor serving this pincode.",
                schema::pincode_required(),
            ),
        ]
        .into_iter()
        .chain(schema::paging_params())
        .collect()
    }
}

fn parse_paise(raw: &str) -> Result<u64, milkrun_domain::values::InvalidValue> {
    raw.parse::<u64>()
        .ok()
        .filter(|paise| *paise <= milkrun_domain::money::MAX_AMOUNT)
        .ok_or(milkrun_domain::values::InvalidValue(
            "must be a whole number of paise from 0 to 1000000000",
        ))
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
        let name_contains = self.q.as_deref().and_then(|raw| {
            errors
                .check("q", bounded_text(raw, MAX_QUERY_CHARS))
                .map(|q| q.to_lowercase())
        });
        let vendor_id = self.vendor_id.as_deref().and_then(|raw| {
            let id = parse_uuid(raw);
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
    parse_uuid(raw).ok_or_else(|| DomainError::NotFound("product").into())
}

/// A new product: the fields of a product's PATCH, with name, category and variants required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewProduct {
    #[schema(schema_with = schema::text_120, required = true)]
    name: Option<String>,
    #[schema(value_type = Category, required = true)]
    category: Option<String>,
    #[schema(schema_with = schema::optional_text_2000_or_null)]
    description: Option<String>,
    #[schema(required = true, nullable = false, min_items = 1, max_items = 20)]
    variants: Option<Vec<VariantInput>>,
    #[schema(schema_with = schema::vendor_ids_or_null)]
    vendor_ids: Option<Vec<Uuid>>,
    #[schema(schema_with = schema::https_url_or_null)]
    image_url: Option<String>,
}

impl From<NewProduct> for ProductInput {
    fn from(new: NewProduct) -> Self {
        Self {
            name: new.name,
            category: new.category,
            description: new.description,
            variants: new.variants,
            vendor_ids: new.vendor_ids,
            image_url: new.image_url,
            is_active: None,
        }
    }
}

#[utoipa::path(get, path = "/products", tag = "products", params(ProductQuery),
    responses((status = 200, body = ProductList, description = "One page of the active products that match the filters."), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
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
    let page = service.list(search, &page?).await?;
    let page = paging.seal(&scope, page).map(ProductView::from);
    Ok(Json(ProductList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/products/{productId}", tag = "products", params(("productId" = Uuid, Path)),
    responses((status = 200, body = ProductDetails, description = "The product, its variants and prices, and how much of each variant can be ordered now."), (status = 404, body = ErrorBody)))]
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

#[utoipa::path(post, path = "/products", tag = "products", security(("bearer" = [])), request_body = NewProduct,
    responses((status = 201, body = ProductView, description = "The product, created."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "A vendorId or variantId names nothing"), (status = 409, body = ErrorBody, description = "A variant name or id repeats"), (status = 413, body = ErrorBody)))]
async fn create_product(
    State(service): State<ProductService>,
    AdminActor(actor): AdminActor,
    ApiJson(body): ApiJson<NewProduct>,
) -> ApiResult<(StatusCode, Json<ProductView>)> {
    let product = service.create(body.into(), &actor.audit).await?;
    Ok((StatusCode::CREATED, Json(product.into())))
}

#[utoipa::path(patch, path = "/products/{productId}", tag = "products", security(("bearer" = [])), params(("productId" = Uuid, Path)), request_body = ProductInput,
    responses((status = 200, body = ProductView, description = "The product as it now is."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such product, or a vendorId or variantId names nothing"), (status = 409, body = ErrorBody, description = "A variant name or id repeats"), (status = 413, body = ErrorBody)))]
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
    responses((status = 200, body = ProductView, description = "The product, now inactive (`isActive` false): listings leave it out."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_product(
    State(service): State<ProductService>,
    AdminActor(actor): AdminActor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProductView>> {
    let product = service.deactivate(product_id(&id)?, &actor.audit).await?;
    Ok(Json(product.into()))
}

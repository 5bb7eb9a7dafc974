//! The whole API's OpenAPI document, merged from every service's documented routes.
//! Describing routes needs no service instance, so this function carries no state.

use utoipa::openapi::OpenApi;

/// Every service's routes in one document; a new service adds one line here.
pub fn openapi() -> OpenApi {
    let mut document = milkrun_user::routes().into_openapi();
    document.merge(milkrun_vendor::routes().into_openapi());
    document.merge(milkrun_product::routes().into_openapi());
    document.merge(milkrun_inventory::routes().into_openapi());
    document.merge(milkrun_reporting::routes().into_openapi());
    document
}

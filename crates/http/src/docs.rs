//! `/openapi.json` and the Swagger UI at `/docs`, from the document the routers generated.

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

/// Adds the bearer scheme the protected routes refer to, then serves document and UI.
pub fn docs_router(mut openapi: OpenApi) -> Router {
    openapi.info = utoipa::openapi::InfoBuilder::new()
        .title("milkrun API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Milk and dairy delivery marketplace: users, catalog, cart, checkout, deliveries.",
        ))
        .build();
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
}

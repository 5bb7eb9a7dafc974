//! `/openapi.json` and the Swagger UI at `/docs`, from the document the routers generated.

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa_swagger_ui::SwaggerUi;

/// The merged routes' document as clients read it: the API's title, the bearer scheme the
/// protected routes refer to, and a description on every error response whose route gave
/// none (OpenAPI requires one on each). Applying it twice changes nothing.
pub fn document(mut openapi: OpenApi) -> OpenApi {
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
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                    && let Some(description) = error_description(status)
                {
                    response.description = description.to_string();
                }
            }
        }
    }
    openapi
}

/// What an error status means on any route, in the error body's terms (`errorCode`,
/// `details`). A route that means more by it says so in its own annotation.
pub fn error_description(status: &str) -> Option<&'static str> {
    Some(match status {
        "400" => {
            "The request is invalid: `VALIDATION_ERROR` (`details` names each bad field and \
             why) or `MALFORMED_JSON` (the body is not the JSON this route reads)."
        }
        "401" => "`UNAUTHORIZED`: the bearer token is missing, invalid or expired.",
        "403" => "`FORBIDDEN`: the caller's role may not do this.",
        "404" => "`NOT_FOUND`: no such resource, or none the caller may see.",
        "409" => {
            "The resource's state forbids it: `CONFLICT`, `INVALID_TRANSITION` (a status move \
             its lifecycle does not allow) or `IDEMPOTENCY_IN_PROGRESS` (a request with the \
             same `Idempotency-Key` is still running; retry later)."
        }
        "413" => "`PAYLOAD_TOO_LARGE`: the body, or a list in it, is over its limit.",
        "422" => {
            "Understood but refused: `OUT_OF_STOCK`, `PROFILE_INCOMPLETE`, \
             `NO_VENDOR_AVAILABLE`, or `IDEMPOTENCY_KEY_REUSED` (the key came with another \
             body)."
        }
        "429" => "`TOO_MANY_REQUESTS`: too many attempts; wait, then retry.",
        _ => return None,
    })
}

/// Serves the [`document`] of `openapi` at `/openapi.json` and the Swagger UI at `/docs`.
pub fn docs_router(openapi: OpenApi) -> Router {
    let document = serde_json::to_value(document(openapi)).expect("a document serializes");
    docs_router_json(document)
}

/// Serves a finished document as it is (the docs function's `docs/openapi.json`) at
/// `/openapi.json`, and the Swagger UI at `/docs`.
pub fn docs_router_json(document: serde_json::Value) -> Router {
    Router::new().merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", document))
}

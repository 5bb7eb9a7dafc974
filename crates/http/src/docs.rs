//! `/openapi.json` and the Swagger UI at `/docs`, from the document the routers generated.

use axum::Router;
use axum::response::{Html, IntoResponse as _, Redirect};
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};

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
    let json = axum::body::Bytes::from(document.to_string());
    let openapi_json = move || {
        let json = json.clone();
        async move { ([(http::header::CONTENT_TYPE, "application/json")], json).into_response() }
    };
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(|| async { Redirect::to("/docs/") }))
        .route("/docs/", get(|| async { Html(SWAGGER_UI_PAGE) }))
}

/// Swagger UI 5.32.6 as the browser fetches it from jsDelivr's copy of the npm package
/// `swagger-ui-dist`, each file pinned by Subresource Integrity (the sha384 of that file in
/// `npm pack swagger-ui-dist@5.32.6`): the browser runs only those bytes. Served from here,
/// its 1.8 MB of assets were a third of the docs Lambda's bootstrap (bench/README.md).
const SWAGGER_UI_PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>milkrun API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.32.6/swagger-ui.css"
  integrity="sha384-9Q2fpS+xeS4ffJy6CagnwoUl+4ldAYhOs9pgZuEKxypVModhmZFzeMlvVsAjf7uT" crossorigin="anonymous">
<style>html { box-sizing: border-box; overflow-y: scroll; } *, *:before, *:after { box-sizing: inherit; } body { margin: 0; background: #fafafa; }</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.32.6/swagger-ui-bundle.js"
  integrity="sha384-EYdOaiRwn44zNjrw+Tfs06qYz9BGQVo2f4/pLY5i7VorbjnZNhdplAbTBk8FXHUJ" crossorigin="anonymous"></script>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.32.6/swagger-ui-standalone-preset.js"
  integrity="sha384-49fpFaVrAWI/qdgl9Vv5E/4NXxRUiJX5vGuLws1NUpTWGtEqzWEx8gHTw2UTehFK" crossorigin="anonymous"></script>
<script>
window.onload = () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
};
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use http::{Request, StatusCode};
    use tower::ServiceExt as _;

    async fn get(router: &Router, path: &str) -> (StatusCode, http::HeaderMap, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, usize::MAX).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn serves_the_document_and_a_page_that_loads_it() {
        let router = docs_router_json(serde_json::json!({"openapi": "3.1.0"}));
        let (status, headers, body) = get(&router, "/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[http::header::CONTENT_TYPE], "application/json");
        assert_eq!(body, r#"{"openapi":"3.1.0"}"#);

        let (status, headers, _) = get(&router, "/docs").await;
        assert!(status.is_redirection());
        assert_eq!(headers[http::header::LOCATION], "/docs/");

        let (status, _, page) = get(&router, "/docs/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(r#"url: "/openapi.json""#));
        // Every file the page loads from elsewhere is pinned by its hash.
        let remote = page.matches(r#"="https://"#).count();
        assert_eq!(remote, 3);
        assert_eq!(page.matches(r#"integrity="sha384-"#).count(), remote);
    }
}

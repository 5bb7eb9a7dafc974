//! The docs Lambda: `/openapi.json` (docs/openapi.json, compiled in) and the Swagger UI at
//! `/docs`, for all functions.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let docs = milkrun_http::docs::docs_router_json(milkrun_docs::openapi());
    milkrun_http::serve_lambda(milkrun_http::finish_public(docs)).await
}

//! Finishing a router with the shared layers, and hosting it in Lambda or on a socket.

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router, middleware};
use milkrun_domain::ErrorCode;
use tower::ServiceExt;
use tower::util::MapResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any, CorsLayer};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::lambda_answer::LambdaAnswer;
use crate::request_ids::{CORRELATION_HEADER, correlate};

/// Bodies above this are refused with 413 before any handler sees them.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::of(
        ErrorCode::MethodNotAllowed,
        "This method is not allowed on this path.",
    )
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal(&"handler panicked").into_response()
}

fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            CORRELATION_HEADER,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([CORRELATION_HEADER])
}

/// Wraps a service's routes with everything a milkrun API response must carry.
pub fn finish(routes: Router, auth: Auth) -> Router {
    finish_public(routes.layer(Extension(auth)))
}

/// `finish` for routers with no protected route (the docs): no verification keys needed.
pub fn finish_public(routes: Router) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(spec_bodies))
        .layer(middleware::from_fn(correlate))
        .layer(cors())
}

/// The code SPEC §4 gives an error status, for refusals made outside our extractors.
fn code_for(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        429 => ErrorCode::TooManyRequests,
        400..=499 => ErrorCode::ValidationError,
        _ => ErrorCode::InternalError,
    }
}

/// Every refusal leaves in the SPEC error body, even one a layer or extractor of a
/// library made in plain text: the safety net behind our own extractors.
async fn spec_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let code = code_for(status);
        let message = status
            .canonical_reason()
            .unwrap_or("The request was refused.");
        return ApiError::of(code, message).into_response();
    }
    response
}

/// The router as lambda_http serves it: every answer made an API Gateway response by
/// [`LambdaAnswer`] (text as UTF-8, without lambda_http's charset decoding).
pub fn lambda_service(router: Router) -> MapResponse<Router, fn(Response) -> LambdaAnswer> {
    ServiceExt::<lambda_http::Request>::map_response(router, LambdaAnswer as fn(_) -> _)
}

/// Runs the router as this Lambda function's handler.
pub async fn serve_lambda(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_service(router)).await
}

/// Serves the router on a TCP socket until Ctrl-C.
pub async fn serve_socket(router: Router, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Splits a service's documented routes into the finished router serving them, plus
/// `/openapi.json` and `/docs` describing exactly those routes.
pub fn app(routes: Router, openapi: utoipa::openapi::OpenApi, auth: Auth) -> Router {
    finish(routes.merge(crate::docs::docs_router(openapi)), auth)
}

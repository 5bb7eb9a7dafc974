//! Where a request came from: IP, user agent and region, wherever the API is hosted.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use milkrun_domain::user::ClientOrigin;

use crate::error::ApiError;

/// Extracts the caller's [`ClientOrigin`].
///
/// The IP comes from API Gateway's request context in Lambda, or the socket locally.
/// Forwarding headers are trusted only when neither exists, since clients can forge them.
/// The region comes from CloudFront's viewer-country header when a distribution adds it.
pub struct Origin(pub ClientOrigin);

const MAX_HEADER_CHARS: usize = 256;

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    (!text.is_empty()).then(|| text.chars().take(MAX_HEADER_CHARS).collect())
}

fn lambda_source_ip(parts: &Parts) -> Option<String> {
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.clone(),
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        _ => None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = lambda_source_ip(parts)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|info| info.0.ip().to_string())
            })
            .or_else(|| {
                header_text(&parts.headers, "x-forwarded-for")
                    .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let user_agent = header_text(&parts.headers, USER_AGENT.as_str())
            .unwrap_or_else(|| "unknown".to_owned());
        let region = header_text(&parts.headers, "cloudfront-viewer-country");
        Ok(Origin(ClientOrigin {
            ip,
            user_agent,
            region,
        }))
    }
}

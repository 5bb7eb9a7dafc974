//! Correlation and request ids: echoed or generated at the edge, carried in a task-local so
//! every log line and every error body of the request can name them.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

pub const CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");
const MAX_CORRELATION_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    /// Follows a business flow across services; chosen by the caller or generated here.
    pub correlation_id: String,
    /// Names this one request: Lambda's request id in AWS, a fresh UUID elsewhere.
    pub request_id: String,
}

tokio::task_local! {
    static CURRENT: RequestIds;
}

impl RequestIds {
    /// The ids of the request being served, if called while serving one.
    pub fn current() -> Option<RequestIds> {
        CURRENT.try_with(Clone::clone).ok()
    }

    pub fn correlation_id() -> String {
        Self::current()
            .map(|ids| ids.correlation_id)
            .unwrap_or_default()
    }
}

/// Accepts a caller's correlation id only if it is short printable ASCII (log-safe).
fn accepted_correlation_id(value: Option<&HeaderValue>) -> Option<String> {
    let text = value?.to_str().ok()?.trim();
    let ok = !text.is_empty()
        && text.len() <= MAX_CORRELATION_ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| text.to_owned())
}

fn function_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "milkrun-local".into())
    })
}

/// Middleware: assigns ids, opens the request's log span, logs the outcome, echoes the header.
pub async fn correlate(request: Request, next: Next) -> Response {
    let correlation_id = accepted_correlation_id(request.headers().get(&CORRELATION_HEADER))
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let request_id = request
        .extensions()
        .get::<lambda_http::Context>()
        .map(|context| context.request_id.clone())
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let span = tracing::info_span!(
        "request",
        correlation_id = %correlation_id,
        request_id = %request_id,
        function = function_name(),
        method = %request.method(),
        path = %request.uri().path(),
        user_id = tracing::field::Empty,
    );
    let ids = RequestIds {
        correlation_id: correlation_id.clone(),
        request_id,
    };
    let started = std::time::Instant::now();
    let mut response = CURRENT
        .scope(ids, next.run(request))
        .instrument(span.clone())
        .await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "served"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&correlation_id) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_printable_ids_are_echoed() {
        let ok = HeaderValue::from_static("order-42_abc:1");
        assert_eq!(
            accepted_correlation_id(Some(&ok)).as_deref(),
            Some("order-42_abc:1")
        );
        let spaced = HeaderValue::from_static("has space");
        assert_eq!(accepted_correlation_id(Some(&spaced)), None);
        let long = HeaderValue::from_str(&"a".repeat(200)).unwrap();
        assert_eq!(accepted_correlation_id(Some(&long)), None);
        assert_eq!(accepted_correlation_id(None), None);
    }
}

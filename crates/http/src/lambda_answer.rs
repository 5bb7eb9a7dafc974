//! How an axum answer becomes lambda_http's response body, without lambda_http's charset
//! decoder.
//!
//! lambda_http turns a `Response<B>` into text or base64 bytes by its content type, and
//! decodes text with encoding_rs for whatever charset the type names: ≈ 150 KB of code and
//! tables in every HTTP bootstrap (bench/README.md, "Lean Lambdas"), for charsets this API
//! never writes. [`LambdaAnswer`] makes the same text-or-bytes choice (its prefixes and
//! suffixes, `Content-Encoding`, the `x-lambda-http-content-encoding: text` override) and
//! takes text as UTF-8, which every body of ours is. Where lambda_http would replace bytes
//! that are not UTF-8 with U+FFFD, this sends them as bytes (base64; a REST API without
//! binary media types passes that base64 on as text). Every Lambda HTTP handler (the
//! functions' and the docs') hands its answers over this way.

use std::pin::Pin;

use axum::body::to_bytes;
use axum::response::IntoResponse as _;
use lambda_http::http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap};
use lambda_http::{Body, Response};

use crate::ApiError;

/// What lambda_http sends as text (its `TEXT_ENCODING_PREFIXES` and `_SUFFIXES`).
const TEXT_PREFIXES: [&str; 5] = [
    "text",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/yaml",
];
const TEXT_SUFFIXES: [&str; 3] = ["+xml", "+yaml", "+json"];
/// A handler's way to have lambda_http send any content type as text.
const TEXT_OVERRIDE: &str = "x-lambda-http-content-encoding";

/// An axum router's answer, handed to lambda_http.
pub struct LambdaAnswer(pub axum::response::Response);

impl lambda_http::IntoResponse for LambdaAnswer {
    fn into_response(self) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(async move {
            let (parts, body) = self.0.into_parts();
            let (parts, bytes) = match to_bytes(body, usize::MAX).await {
                Ok(bytes) => (parts, bytes),
                // Where lambda_http would panic (and the Lambda die): logged, and the SPEC's
                // 500, whose body is in memory.
                Err(error) => {
                    let (parts, body) = ApiError::internal(&error).into_response().into_parts();
                    (parts, to_bytes(body, usize::MAX).await.unwrap_or_default())
                }
            };
            let body = lambda_body(&parts.headers, bytes.to_vec());
            Response::from_parts(parts, body)
        })
    }
}

/// Text when lambda_http would send text and the bytes are UTF-8; bytes otherwise.
fn lambda_body(headers: &HeaderMap, bytes: Vec<u8>) -> Body {
    if !is_text(headers) {
        return Body::Binary(bytes);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Body::Text(text),
        Err(not_utf8) => Body::Binary(not_utf8.into_bytes()),
    }
}

/// lambda_http's `ConvertBody` rules, in its order.
fn is_text(headers: &HeaderMap) -> bool {
    if headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let Some(content_type) = headers.get(CONTENT_TYPE) else {
        return true;
    };
    let content_type = content_type.to_str().unwrap_or_default();
    let mime = content_type.trim().split(';').next().unwrap_or_default();
    TEXT_PREFIXES.iter().any(|p| content_type.starts_with(p))
        || TEXT_SUFFIXES.iter().any(|s| mime.ends_with(s))
        || headers
            .get(TEXT_OVERRIDE)
            .is_some_and(|value| value == "text")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::IntoResponse;

    async fn body_of(content_type: Option<&str>, encoding: Option<&str>, bytes: &[u8]) -> Body {
        let mut answer = axum::response::Response::new(axum::body::Body::from(bytes.to_vec()));
        if let Some(value) = content_type {
            answer
                .headers_mut()
                .insert(CONTENT_TYPE, value.parse().unwrap());
        }
        if let Some(value) = encoding {
            answer
                .headers_mut()
                .insert(CONTENT_ENCODING, value.parse().unwrap());
        }
        LambdaAnswer(answer).into_response().await.into_body()
    }

    #[tokio::test]
    async fn json_and_problem_json_go_as_text() {
        let json = body_of(Some("application/json"), None, b"{\"a\":1}").await;
        assert_eq!(json, Body::Text("{\"a\":1}".into()));
        let problem = body_of(Some("application/problem+json; charset=utf-8"), None, b"{}").await;
        assert_eq!(problem, Body::Text("{}".into()));
        let html = body_of(Some("text/html; charset=utf-8"), None, "café".as_bytes()).await;
        assert_eq!(html, Body::Text("café".into()));
    }

    #[tokio::test]
    async fn images_compressed_bodies_and_bad_utf8_go_as_bytes() {
        let png = body_of(Some("image/png"), None, &[0x89, b'P', b'N', b'G']).await;
        assert_eq!(png, Body::Binary(vec![0x89, b'P', b'N', b'G']));
        let gzip = body_of(Some("application/json"), Some("gzip"), &[0x1f, 0x8b]).await;
        assert_eq!(gzip, Body::Binary(vec![0x1f, 0x8b]));
        let latin1 = body_of(Some("text/plain; charset=latin1"), None, &[0xe9]).await;
        assert_eq!(latin1, Body::Binary(vec![0xe9]));
        // lambda_http's suffix rule reads the type up to `;` untrimmed.
        let spaced = body_of(Some("application/x+json ;charset=utf-8"), None, b"{}").await;
        assert_eq!(spaced, Body::Binary(b"{}".to_vec()));
    }

    #[tokio::test]
    async fn the_text_override_makes_any_type_text() {
        let mut answer = axum::response::Response::new(axum::body::Body::from("a,b"));
        let headers = answer.headers_mut();
        headers.insert(CONTENT_TYPE, "application/octet-stream".parse().unwrap());
        headers.insert(TEXT_OVERRIDE, "text".parse().unwrap());
        let body = LambdaAnswer(answer).into_response().await.into_body();
        assert_eq!(body, Body::Text("a,b".into()));
    }

    #[tokio::test]
    async fn no_content_type_is_text() {
        assert_eq!(body_of(None, None, b"ok").await, Body::Text("ok".into()));
        assert_eq!(body_of(None, None, b"").await, Body::Text(String::new()));
    }
}

//! A JSON body extractor whose every refusal is a SPEC error body: 400 `MALFORMED_JSON`
//! for bytes that are not JSON, 400 `VALIDATION_ERROR` naming the field for JSON of the
//! wrong shape, 413 `PAYLOAD_TOO_LARGE` past the body limit.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use milkrun_domain::ErrorCode;
use milkrun_domain::FieldErrors;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large()
                } else {
                    ApiError::of(
                        ErrorCode::MalformedJson,
                        "The request body could not be read.",
                    )
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::malformed_json("the body is empty")),
        // serde would read a struct from an array too; every milkrun body is an object.
        Some(b'[') => {
            return Err(ApiError::validation(&FieldErrors::single(
                "body",
                "must be a JSON object",
            )));
        }
        Some(_) => {}
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::validation(&FieldErrors::single(&field, data_error_message(&inner)))
            }
            _ => ApiError::malformed_json(&format!(
                "line {} column {}",
                inner.line(),
                inner.column()
            )),
        }
    })
}

/// serde's message without its " at line L column C" suffix, which means nothing to a client.
fn data_error_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        age: u8,
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert_eq!(
            parse_json::<Body>(b"{\"name\": ").unwrap_err().code(),
            "MALFORMED_JSON"
        );
        assert_eq!(
            parse_json::<Body>(b"").unwrap_err().code(),
            "MALFORMED_JSON"
        );
        assert_eq!(
            parse_json::<Body>(b"not json").unwrap_err().code(),
            "MALFORMED_JSON"
        );
    }

    #[test]
    fn wrong_shapes_are_validation_errors() {
        let error = parse_json::<Body>(br#"{"name": "a", "age": "old"}"#).unwrap_err();
        assert_eq!(error.code(), "VALIDATION_ERROR");
        assert_eq!(
            parse_json::<Body>(b"[1,2]").unwrap_err().code(),
            "VALIDATION_ERROR"
        );
    }
}

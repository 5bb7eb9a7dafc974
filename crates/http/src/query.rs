//! A query-string extractor whose refusals are SPEC error bodies.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use milkrun_domain::FieldErrors;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::validation(&refused_fields(&rejection.body_text())))
    }
}

/// serde's "missing field `x`" names the parameter; anything else is about the query as a whole.
fn refused_fields(reason: &str) -> FieldErrors {
    let missing = reason
        .split_once("missing field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(name, _)| name);
    match missing {
        Some(name) => FieldErrors::single(name, "is required"),
        None => FieldErrors::single("query", reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_parameter_is_named() {
        let fields = refused_fields("Failed to deserialize query string: missing field `entityId`");
        assert_eq!(fields.fields()["entityId"], "is required");
        assert!(
            refused_fields("invalid type")
                .fields()
                .contains_key("query")
        );
    }
}

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
            .map_err(|rejection| {
                ApiError::validation(&FieldErrors::single("query", rejection.body_text()))
            })
    }
}

//! A path extractor whose refusals are SPEC error bodies. A segment that does not decode
//! (`/vendors/%FF`) or is not of the expected type names nothing that exists: 404.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| {
                tracing::info!(reason = %rejection.body_text(), "path refused");
                ApiError::not_found("resource")
            })
    }
}

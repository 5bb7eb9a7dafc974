//! A query-string extractor whose refusals are SPEC error bodies.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::NaiveDate;
use milkrun_domain::checkout::{calendar_days, parse_date};
use milkrun_domain::{DomainError, FieldErrors};
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

/// A date parameter `field`: absent, or a day as `YYYY-MM-DD`. A malformed one is kept in
/// `errors` under `field` (a 400 with the request's other field errors); one spelled right
/// but no day of the calendar (2030-02-30) is a 409 at once, as everywhere in this API.
pub fn date_query(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
) -> Result<Option<NaiveDate>, DomainError> {
    calendar_days(&[raw])?;
    Ok(raw.and_then(|raw| errors.check(field, parse_date(raw))))
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

//! The small attribute-value and error helpers every DynamoDB adapter uses.

use aws_sdk_dynamodb::types::AttributeValue;
use milkrun_domain::StoreError;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: u32) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Maps an error to a backend `StoreError` saying what was being done.
pub(crate) fn backend<E: std::error::Error + Send + Sync + 'static>(
    context: &'static str,
) -> impl Fn(E) -> StoreError {
    move |error| StoreError::backend(context, error)
}

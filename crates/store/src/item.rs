//! Items as DynamoDB models them: a map of named attribute values. serde_dynamo's
//! technology-free types are the currency, so entities convert with serde and each store
//! implementation converts to its own representation in one place.

use milkrun_domain::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use serde_dynamo::{AttributeValue as Value, Item};

pub fn s(value: impl Into<String>) -> Value {
    Value::S(value.into())
}

/// A number attribute. DynamoDB numbers are decimal text; ours are whole numbers.
pub fn n(value: impl Into<i128>) -> Value {
    Value::N(value.into().to_string())
}

/// The whole number an `N` attribute holds.
pub fn number(value: &Value) -> Option<i128> {
    match value {
        Value::N(text) => text.parse().ok(),
        _ => None,
    }
}

/// The text of an `S` attribute of `item`.
pub fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(Value::S(text)) => Some(text),
        _ => None,
    }
}

/// An entity as an item (its serde field names become attribute names).
pub fn encode<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::backend("encoding an item", e))
}

/// An item as an entity; attributes the entity does not name (keys, index keys) are ignored.
pub fn decode<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::backend("decoding an item", e))
}

/// Any serializable value as one attribute (a nested map or list).
pub fn attribute<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|e| StoreError::backend("encoding an attribute", e))
}

pub fn from_attribute<T: DeserializeOwned>(value: Value) -> Result<T, StoreError> {
    serde_dynamo::from_attribute_value(value)
        .map_err(|e| StoreError::backend("decoding an attribute", e))
}

/// Numbers compare by value, strings by their UTF-8 bytes (as DynamoDB compares them);
/// anything else, or two different types, do not compare.
pub fn compare(left: &Value, right: &Value) -> Option<std::cmp::Ordering> {
    match (left, right) {
        (Value::S(a), Value::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::N(_), Value::N(_)) => match (number(left), number(right)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => {
                let (a, b) = (decimal(left)?, decimal(right)?);
                a.partial_cmp(&b)
            }
        },
        _ => None,
    }
}

fn decimal(value: &Value) -> Option<f64> {
    match value {
        Value::N(text) => text.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;

    #[test]
    fn numbers_compare_by_value_and_strings_by_bytes() {
        assert_eq!(compare(&n(9), &n(10)), Some(Ordering::Less));
        assert_eq!(
            compare(&Value::N("2.5".into()), &n(2)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&s("b"), &s("a")), Some(Ordering::Greater));
        assert_eq!(compare(&s("9"), &n(9)), None, "types do not mix");
    }
}

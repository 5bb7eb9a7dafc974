//! An entity's own attributes packed into one binary `packed` attribute: its JSON, raw
//! deflated. DynamoDB bills a write by the item's size in 1 KB steps (twice inside a
//! transaction), and counts every attribute name of every nested map and list; a one-line
//! order came to 1.1–1.4 KB as attributes and ≈ 0.7 KB packed, so each of its writes bills
//! half. Only what a key, an index or a condition reads stays an attribute of its own.

use std::collections::HashMap;

use milkrun_domain::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::item::{Item, Value, n, number};
use crate::ops::VERSION_ATTRIBUTE;

/// The attribute the packed entity lives in.
pub const PACKED: &str = "packed";

/// DynamoDB's item limit: a body that inflates past it is not one we wrote.
const MAX_INFLATED: usize = 400 * 1024;

/// Level 6 of 10: on a 1.4 KB order, level 9 packs no smaller and takes longer.
const LEVEL: u8 = 6;

/// An entity whose version the item keeps beside its packed body.
pub trait Versioned {
    fn set_version(&mut self, version: u64);
}

/// An item holding `value` packed, with `version` as an attribute of its own (the
/// compare-and-swap conditions read it there), for the caller to add keys to.
pub fn packed_item<T: Serialize>(value: &T, version: u64) -> Result<Item, StoreError> {
    Ok(Item::from(HashMap::from([
        (PACKED.to_owned(), pack(value)?),
        (VERSION_ATTRIBUTE.to_owned(), n(version)),
    ])))
}

/// `value` as a binary attribute: its JSON, raw deflated.
pub fn pack<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| StoreError::backend("packing an item", e))?;
    Ok(Value::B(miniz_oxide::deflate::compress_to_vec(
        &json, LEVEL,
    )))
}

/// What [`pack`] packed into `attribute`.
pub fn unpack_value<T: DeserializeOwned>(attribute: &Value) -> Result<T, StoreError> {
    let Value::B(packed) = attribute else {
        return Err(StoreError::backend_message(
            "unpacking an attribute",
            "a packed attribute is binary",
        ));
    };
    serde_json::from_slice(&inflate(packed)?)
        .map_err(|e| StoreError::backend("unpacking an attribute", e))
}

/// The entity `item` holds: packed, at the item's own `version` (the packed copy lags by
/// the versioned write that stored it), or as attributes (an item written before its
/// entity was packed). Both are read as JSON, so that each entity's deserializer is
/// linked once (a Lambda bootstrap's size, bench/README.md "Lean Lambdas").
pub fn unpack<T: DeserializeOwned + Versioned>(item: Item) -> Result<T, StoreError> {
    let version = item.get(VERSION_ATTRIBUTE).and_then(number);
    let json = match item.get(PACKED) {
        Some(Value::B(packed)) => inflate(packed)?,
        _ => attributes_as_json(item)?,
    };
    let mut entity: T =
        serde_json::from_slice(&json).map_err(|e| StoreError::backend("unpacking an item", e))?;
    if let Some(version) = version {
        entity.set_version(u64::try_from(version).unwrap_or_default());
    }
    Ok(entity)
}

/// An item's attributes as the JSON its entity was serialized from (a number as a number,
/// a map as an object, a set as an array).
fn attributes_as_json(item: Item) -> Result<Vec<u8>, StoreError> {
    let fields = item
        .into_inner()
        .into_iter()
        .map(|(name, value)| (name, plain(value)));
    serde_json::to_vec(&serde_json::Value::Object(fields.collect()))
        .map_err(|e| StoreError::backend("reading an item", e))
}

fn plain(value: Value) -> serde_json::Value {
    use serde_json::Value as Json;
    let number = |text: String| match text.parse::<serde_json::Number>() {
        Ok(number) => Json::Number(number),
        Err(_) => Json::String(text),
    };
    let bytes = |b: Vec<u8>| Json::Array(b.into_iter().map(Json::from).collect());
    match value {
        Value::S(text) => Json::String(text),
        Value::N(text) => number(text),
        Value::Bool(b) => Json::Bool(b),
        Value::Null(_) => Json::Null,
        Value::B(b) => bytes(b),
        Value::L(list) => Json::Array(list.into_iter().map(plain).collect()),
        Value::M(map) => Json::Object(map.into_iter().map(|(k, v)| (k, plain(v))).collect()),
        Value::Ss(set) => Json::Array(set.into_iter().map(Json::String).collect()),
        Value::Ns(set) => Json::Array(set.into_iter().map(number).collect()),
        Value::Bs(set) => Json::Array(set.into_iter().map(bytes).collect()),
    }
}

fn inflate(packed: &[u8]) -> Result<Vec<u8>, StoreError> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(packed, MAX_INFLATED)
        .map_err(|e| StoreError::backend_message("inflating an item", e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::item::encode;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Entity {
        name: String,
        lines: Vec<u32>,
        #[serde(default)]
        version: u64,
    }

    impl Versioned for Entity {
        fn set_version(&mut self, version: u64) {
            self.version = version;
        }
    }

    fn entity() -> Entity {
        Entity {
            name: "Toned Milk".repeat(20),
            lines: (0..50).collect(),
            version: 2,
        }
    }

    #[test]
    fn a_packed_entity_is_smaller_and_unpacks_at_the_items_version() {
        let mut item = packed_item(&entity(), 2).unwrap();
        let Some(Value::B(bytes)) = item.get(PACKED) else {
            panic!("the body is binary");
        };
        assert!(bytes.len() < serde_json::to_vec(&entity()).unwrap().len() / 2);
        assert_eq!(
            item.get(VERSION_ATTRIBUTE),
            Some(&n(2)),
            "the version a condition reads"
        );
        item.insert(VERSION_ATTRIBUTE.into(), n(3));
        let read: Entity = unpack(item).unwrap();
        assert_eq!(
            read,
            Entity {
                version: 3,
                ..entity()
            }
        );
    }

    #[test]
    fn an_entity_written_as_attributes_still_reads() {
        let mut item = encode(&entity()).unwrap();
        item.insert(VERSION_ATTRIBUTE.into(), n(5));
        assert_eq!(
            unpack::<Entity>(item).unwrap(),
            Entity {
                version: 5,
                ..entity()
            }
        );
    }

    #[test]
    fn a_body_that_does_not_inflate_is_an_error() {
        let mut item = packed_item(&entity(), 2).unwrap();
        item.insert(PACKED.into(), Value::B(vec![0xff, 0x00, 0x13]));
        assert!(unpack::<Entity>(item).is_err());
    }
}

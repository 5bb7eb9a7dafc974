//! An entity's own attributes packed into one binary `body` attribute: its JSON, raw
//! deflated. DynamoDB bills a write by the item's size in 1 KB steps (twice inside a
//! transaction), and counts every attribute name of every nested map and list; a one-line
//! order came to 1.1–1.4 KB as attributes and ≈ 0.7 KB packed, so each of its writes bills
//! half. Only what a key, an index or a condition reads stays an attribute of its own.

use milkrun_domain::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::item::{Item, Value};

/// The attribute the packed entity lives in.
pub const BODY: &str = "body";

/// DynamoDB's item limit: a body that inflates past it is not one we wrote.
const MAX_INFLATED: usize = 400 * 1024;

/// Level 6 of 10: on a 1.4 KB order, level 9 packs no smaller and takes longer.
const LEVEL: u8 = 6;

/// `value` as the `body` attribute.
pub fn pack<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| StoreError::backend("packing an item", e))?;
    Ok(Value::B(miniz_oxide::deflate::compress_to_vec(
        &json, LEVEL,
    )))
}

/// The entity packed in `item`'s body, or `None` if the item has no body (one written as
/// plain attributes, before its entity was packed).
pub fn unpack<T: DeserializeOwned>(item: &Item) -> Option<Result<T, StoreError>> {
    let Some(Value::B(packed)) = item.get(BODY) else {
        return None;
    };
    Some(inflate(packed).and_then(|json| {
        serde_json::from_slice(&json).map_err(|e| StoreError::backend("unpacking an item", e))
    }))
}

fn inflate(packed: &[u8]) -> Result<Vec<u8>, StoreError> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(packed, MAX_INFLATED)
        .map_err(|e| StoreError::backend_message("inflating an item", e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Entity {
        name: String,
        lines: Vec<u32>,
    }

    #[test]
    fn a_packed_entity_unpacks_as_it_was() {
        let entity = Entity {
            name: "Toned Milk".repeat(20),
            lines: (0..50).collect(),
        };
        let mut item = Item::from(HashMap::new());
        item.insert(BODY.into(), pack(&entity).unwrap());
        let Some(Value::B(bytes)) = item.get(BODY) else {
            panic!("the body is binary");
        };
        assert!(bytes.len() < serde_json::to_vec(&entity).unwrap().len());
        assert_eq!(unpack::<Entity>(&item).unwrap().unwrap(), entity);
    }

    #[test]
    fn an_item_without_a_body_is_not_packed_and_a_bad_body_is_an_error() {
        let mut item = Item::from(HashMap::new());
        assert!(unpack::<Entity>(&item).is_none());
        item.insert(BODY.into(), Value::B(vec![0xff, 0x00, 0x13]));
        assert!(unpack::<Entity>(&item).unwrap().is_err());
    }
}

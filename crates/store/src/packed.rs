//! An entity's own attributes packed into one binary `body` attribute: its JSON, raw
//! deflated. DynamoDB bills a write by the item's size in 1 KB steps (twice inside a
//! transaction), and counts every attribute name of every nested map and list; a one-line
//! order came to 1.1–1.4 KB as attributes and ≈ 0.7 KB packed, so each of its writes bills
//! half. Only what a key, an index or a condition reads stays an attribute of its own.

use std::collections::HashMap;

use milkrun_domain::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::item::{Item, Value, decode, n, number};
use crate::ops::VERSION_ATTRIBUTE;

/// The attribute the packed entity lives in.
pub const BODY: &str = "body";

/// DynamoDB's item limit: a body that inflates past it is not one we wrote.
const MAX_INFLATED: usize = 400 * 1024;

/// Level 6 of 10: on a 1.4 KB order, level 9 packs no smaller and takes longer.
const LEVEL: u8 = 6;

/// An item holding `value` packed in its body, for the caller to add keys to. An entity's
/// `version` is an attribute of its own as well, as it is unpacked: the compare-and-swap
/// conditions read it there.
pub fn packed_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    let unpackable = |e| StoreError::backend("packing an item", e);
    let entity = serde_json::to_value(value).map_err(unpackable)?;
    let json = serde_json::to_vec(&entity).map_err(unpackable)?;
    let body = Value::B(miniz_oxide::deflate::compress_to_vec(&json, LEVEL));
    let mut item = Item::from(HashMap::from([(BODY.to_owned(), body)]));
    if let Some(version) = entity
        .get(VERSION_ATTRIBUTE)
        .and_then(serde_json::Value::as_u64)
    {
        item.insert(VERSION_ATTRIBUTE.into(), n(version));
    }
    Ok(item)
}

/// The entity `item` holds: packed in its body, with the item's own `version` (the body's
/// copy lags by the versioned write that stored it), or as attributes (an item written
/// before its entity was packed).
pub fn unpack<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let Some(Value::B(packed)) = item.get(BODY) else {
        return decode(item);
    };
    let malformed = |e| StoreError::backend("unpacking an item", e);
    let mut entity: serde_json::Value =
        serde_json::from_slice(&inflate(packed)?).map_err(malformed)?;
    let version = item.get(VERSION_ATTRIBUTE).and_then(number);
    if let (Some(version), Some(fields)) = (version, entity.as_object_mut()) {
        let version = u64::try_from(version).unwrap_or_default();
        fields.insert(VERSION_ATTRIBUTE.into(), version.into());
    }
    serde_json::from_value(entity).map_err(malformed)
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

    fn entity() -> Entity {
        Entity {
            name: "Toned Milk".repeat(20),
            lines: (0..50).collect(),
            version: 2,
        }
    }

    #[test]
    fn a_packed_entity_is_smaller_and_unpacks_at_the_items_version() {
        let mut item = packed_item(&entity()).unwrap();
        let Some(Value::B(bytes)) = item.get(BODY) else {
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
        let mut item = packed_item(&entity()).unwrap();
        item.insert(BODY.into(), Value::B(vec![0xff, 0x00, 0x13]));
        assert!(unpack::<Entity>(item).is_err());
    }
}

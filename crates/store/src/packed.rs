//! An entity's own attributes packed into one binary `packed` attribute: its JSON, raw
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
    let json = serde_json::to_vec(value).map_err(|e| StoreError::backend("packing an item", e))?;
    let packed = Value::B(miniz_oxide::deflate::compress_to_vec(&json, LEVEL));
    Ok(Item::from(HashMap::from([
        (PACKED.to_owned(), packed),
        (VERSION_ATTRIBUTE.to_owned(), n(version)),
    ])))
}

/// The entity `item` holds: packed, at the item's own `version` (the packed copy lags by
/// the versioned write that stored it), or as attributes (an item written before its
/// entity was packed).
pub fn unpack<T: DeserializeOwned + Versioned>(item: Item) -> Result<T, StoreError> {
    let Some(Value::B(packed)) = item.get(PACKED) else {
        return decode(item);
    };
    let mut entity: T = serde_json::from_slice(&inflate(packed)?)
        .map_err(|e| StoreError::backend("unpacking an item", e))?;
    if let Some(version) = item.get(VERSION_ATTRIBUTE).and_then(number) {
        entity.set_version(u64::try_from(version).unwrap_or_default());
    }
    Ok(entity)
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

//! Compare-and-swap on the `version` attribute, the one design every versioned entity uses:
//! a new item must not exist, a changed one must still carry the version it was read at.

use chrono::{DateTime, SecondsFormat, Utc};
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::effects::{Refused, commit};
use crate::item::{Item, n, s};
use crate::ops::{Condition, Key, VERSION_ATTRIBUTE, Write};
use crate::port::ItemStore;
use crate::table::{BY_CREATED_AT, TableSpec};

/// The put of `item` as version `read_at + 1` (`read_at: None`: a new item).
pub fn versioned_put(table: &'static TableSpec, mut item: Item, read_at: Option<u64>) -> Write {
    let next = read_at.map_or(0, |v| v + 1);
    item.insert(VERSION_ATTRIBUTE.into(), n(next));
    let condition = match read_at {
        None => Condition::NotExists,
        Some(version) => Condition::Version(version),
    };
    Write::put(table, item, Some(condition))
}

/// Puts `item` into the newest-first listing `list_key` (the sparse `ByCreatedAt` index).
pub fn list_under(item: &mut Item, list_key: &str, created_at: DateTime<Utc>, id: Uuid) {
    let created = created_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    item.insert(BY_CREATED_AT.partition_key.into(), s(list_key));
    item.insert(BY_CREATED_AT.sort_key.into(), s(format!("{created}#{id}")));
}

/// Commits a change whose first write is a versioned put of `key`: a failed condition there
/// means `AlreadyExists` (new item) or `VersionConflict` / `NotFound` (changed item).
pub async fn commit_versioned(
    store: &dyn ItemStore,
    writes: Vec<Write>,
    effects: &Effects,
    key: &Key,
    read_at: Option<u64>,
) -> Result<(), StoreError> {
    let table = writes[0].table();
    match commit(store, writes, effects).await? {
        Ok(()) => Ok(()),
        Err(Refused::Effect) => Err(StoreError::AlreadyExists),
        Err(Refused::Change(_)) if read_at.is_none() => Err(StoreError::AlreadyExists),
        Err(Refused::Change(_)) => Err(changed_or_gone(store, table, key).await?),
    }
}

/// Why a versioned put of `key` found its condition failed: the item changed since it was
/// read (`VersionConflict`) or is gone (`NotFound`).
pub async fn changed_or_gone(
    store: &dyn ItemStore,
    table: &'static TableSpec,
    key: &Key,
) -> Result<StoreError, StoreError> {
    Ok(match store.get(table, key, true).await? {
        Some(_) => StoreError::VersionConflict,
        None => StoreError::NotFound,
    })
}

/// Writes `item` over the stored version `read_at`, with `effects`; answers the version it
/// now has (`VersionConflict` or `NotFound` if it is not there as read).
pub async fn update_versioned(
    store: &dyn ItemStore,
    table: &'static TableSpec,
    key: &Key,
    item: Item,
    read_at: u64,
    effects: &Effects,
) -> Result<u64, StoreError> {
    let write = versioned_put(table, item, Some(read_at));
    commit_versioned(store, vec![write], effects, key, Some(read_at)).await?;
    Ok(read_at + 1)
}

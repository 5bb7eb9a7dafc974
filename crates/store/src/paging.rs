//! Listings over the item store, written once: opaque cursors that only resume the query
//! they came from, and pages of `limit` items with a cursor only when more follow.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use milkrun_domain::StoreError;
use milkrun_domain::page::{Page, PageRequest};

use serde::de::DeserializeOwned;

use crate::item::{Item, Value, decode, text};
use crate::ops::{Key, Query, position_of};
use crate::port::ItemStore;
use crate::table::TableSpec;

/// The cursor resuming after `position`: base64url of its attributes as DynamoDB JSON.
pub fn encode_cursor(position: &Item) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).expect("items serialize"))
}

/// The resume point a cursor stands for, accepted only if it names exactly `query`'s
/// position attributes, as strings, in `query`'s partition: garbage or a cursor of another
/// listing is `InvalidCursor`, never a store error.
pub fn decode_cursor(cursor: &str, query: &Query) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let position: Item = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    let expected = query.position_attributes();
    let well_formed = position.len() == expected.len()
        && expected
            .iter()
            .all(|name| matches!(position.get(*name), Some(Value::S(_))))
        && text(&position, query.partition_attribute()) == Some(query.partition.as_str());
    if well_formed {
        Ok(position)
    } else {
        Err(StoreError::InvalidCursor)
    }
}

/// Sets `query` to start where `page`'s cursor left off (refusing a cursor of another
/// listing) and to read `batch` items a call.
fn resume(query: &mut Query, page: &PageRequest, batch: u32) -> Result<(), StoreError> {
    query.start_after = page
        .cursor
        .as_deref()
        .map(|cursor| decode_cursor(cursor, query))
        .transpose()?;
    query.limit = batch;
    Ok(())
}

/// Every item of `query` as an entity, a page at a time.
pub async fn list<T: DeserializeOwned>(
    store: &dyn ItemStore,
    query: Query,
    page: &PageRequest,
) -> Result<Page<T>, StoreError> {
    list_as(store, query, page, decode).await
}

/// Every item of `query` read by `read` (e.g. a packed entity's), a page at a time.
pub async fn list_as<T>(
    store: &dyn ItemStore,
    query: Query,
    page: &PageRequest,
    read: fn(Item) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    list_where(store, query, page, page.limit + 1, |item| {
        read(item).map(Some)
    })
    .await
}

/// One page of `query`'s items, each turned into a `T` by `keep` (or skipped when it
/// answers `None`), resuming at `page.cursor`; the store is read `batch` items a call
/// (more than a page when `keep` is selective).
pub async fn list_where<T>(
    store: &dyn ItemStore,
    mut query: Query,
    page: &PageRequest,
    batch: u32,
    mut keep: impl FnMut(Item) -> Result<Option<T>, StoreError>,
) -> Result<Page<T>, StoreError> {
    let positions = query.position_attributes();
    resume(&mut query, page, batch)?;
    let limit = page.limit as usize;
    let mut kept: Vec<(Item, T)> = Vec::new();
    loop {
        let result = store.query(&query).await?;
        for item in result.items {
            let position = position_of(&item, &positions);
            if let Some(value) = keep(item)? {
                kept.push((position, value));
                if kept.len() > limit {
                    break;
                }
            }
        }
        if kept.len() > limit || result.last_key.is_none() {
            break;
        }
        query.start_after = result.last_key;
    }
    let next_cursor = (kept.len() > limit).then(|| encode_cursor(&kept[limit - 1].0));
    Ok(Page {
        items: kept
            .into_iter()
            .take(limit)
            .map(|(_, value)| value)
            .collect(),
        next_cursor,
    })
}

/// The items `listed` (entries of a keys-only index of `table`) name, read by key with
/// eventually consistent BatchGets (the index is eventually consistent too), each through
/// `read`, in `listed`'s order. An item gone since the index listed it is left out.
pub async fn read_listed<T>(
    store: &dyn ItemStore,
    table: &'static TableSpec,
    listed: Vec<Item>,
    read: fn(Item) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut found = found_by_key(store, table, &listed).await?;
    (listed.iter())
        .filter_map(|entry| Key::of(table, entry).and_then(|key| found.remove(&key)))
        .map(read)
        .collect()
}

/// The items of `table` that `entries` (each holding the table's key: index entries, or
/// their positions) name, read by key with eventually consistent BatchGets, by key. An
/// item gone since is not there.
async fn found_by_key(
    store: &dyn ItemStore,
    table: &'static TableSpec,
    entries: &[Item],
) -> Result<HashMap<Key, Item>, StoreError> {
    let keys: Vec<Key> = (entries.iter())
        .filter_map(|entry| Key::of(table, entry))
        .collect();
    let items = store.batch_get_eventual(table, &keys).await?;
    Ok((items.into_iter())
        .filter_map(|item| Key::of(table, &item).map(|key| (key, item)))
        .collect())
}

/// One page of `query`, a keys-only index of `table`, its items read by key (eventually
/// consistent, like the index): the index costs one small entry an item, written only when
/// a key changes, where a copy of the whole item was rewritten with every write of it.
pub async fn list_by_key<T>(
    store: &dyn ItemStore,
    table: &'static TableSpec,
    query: Query,
    page: &PageRequest,
    read: fn(Item) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let batch = page.limit + 1;
    list_by_key_where(store, table, query, page, batch, read, |_| true).await
}

/// The most keys one BatchGetItem reads.
const BATCH_GET_KEYS: usize = 100;

/// [`list_by_key`] keeping only the items `keep` accepts: a partition that holds more than
/// one listing's items (or entries of items gone since the index listed them) is read on,
/// `batch` index entries a Query (more than a page when `keep` is selective), until the
/// page is full or the partition ends, so a page is short only at the end. Only the items
/// the page still needs are read by key, one BatchGetItem at a time; an entry left over
/// once the page is full means a cursor (its page may then turn out empty).
pub async fn list_by_key_where<T>(
    store: &dyn ItemStore,
    table: &'static TableSpec,
    mut query: Query,
    page: &PageRequest,
    batch: u32,
    read: fn(Item) -> Result<T, StoreError>,
    keep: impl Fn(&T) -> bool,
) -> Result<Page<T>, StoreError> {
    let positions = query.position_attributes();
    resume(&mut query, page, batch.max(1))?;
    let limit = page.limit as usize;
    if limit == 0 {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let mut kept: Vec<(Item, T)> = Vec::new();
    let mut more = false;
    'pages: loop {
        let result = store.query(&query).await?;
        let mut entries: Vec<Item> = (result.items.iter())
            .map(|entry| position_of(entry, &positions))
            .collect();
        while !entries.is_empty() {
            if kept.len() == limit {
                more = true;
                break 'pages;
            }
            let take = (limit - kept.len()).min(BATCH_GET_KEYS).min(entries.len());
            let chunk: Vec<Item> = entries.drain(..take).collect();
            let mut items = found_by_key(store, table, &chunk).await?;
            for position in chunk {
                let Some(item) = Key::of(table, &position).and_then(|key| items.remove(&key))
                else {
                    continue;
                };
                let value = read(item)?;
                if keep(&value) {
                    kept.push((position, value));
                }
            }
        }
        let Some(last_key) = result.last_key else {
            break;
        };
        if kept.len() == limit {
            more = true;
            break;
        }
        query.start_after = Some(last_key);
    }
    let next_cursor = more.then(|| encode_cursor(&kept[limit - 1].0));
    Ok(Page {
        items: kept.into_iter().map(|(_, value)| value).collect(),
        next_cursor,
    })
}

/// Every item of `query`'s partition, however many calls it takes.
pub async fn query_all(store: &dyn ItemStore, mut query: Query) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    loop {
        let result = store.query(&query).await?;
        items.extend(result.items);
        match result.last_key {
            Some(last) => query.start_after = Some(last),
            None => return Ok(items),
        }
    }
}

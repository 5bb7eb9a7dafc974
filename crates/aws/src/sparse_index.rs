//! The "newest first" listing every table here uses: items that should be listed carry
//! `listKey` (one value per kind of item) and `createdKey` (creation time + id), so a sparse
//! `ByCreatedAt` index holds exactly them in time order, and a listing is a Query on it.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::page::PageRequest;
use uuid::Uuid;

/// The index name, as template.yaml declares it on every table that lists.
pub const BY_CREATED_AT_INDEX: &str = "ByCreatedAt";

type Item = HashMap<String, AttributeValue>;

/// Puts `item` into the listing of `list_key`.
pub fn add_list_keys(item: &mut Item, list_key: &str, created_at: DateTime<Utc>, id: Uuid) {
    let created = created_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    item.insert("listKey".into(), AttributeValue::S(list_key.into()));
    item.insert(
        "createdKey".into(),
        AttributeValue::S(format!("{created}#{id}")),
    );
}

/// One query of the listing, newest first: up to `limit` items and where to go on from.
pub async fn query(
    client: &Client,
    table: &str,
    list_key: &str,
    limit: i32,
    start: Option<Item>,
) -> Result<(Vec<Item>, Option<Item>), StoreError> {
    let output = client
        .query()
        .table_name(table)
        .index_name(BY_CREATED_AT_INDEX)
        .key_condition_expression("listKey = :list")
        .expression_attribute_values(":list", AttributeValue::S(list_key.into()))
        .scan_index_forward(false)
        .limit(limit)
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| StoreError::backend("listing", e.into_service_error()))?;
    Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
}

/// One page of the listing from `page.cursor`: `limit + 1` items are asked for, so that a
/// next cursor is given only when there is a next item.
pub async fn page(
    client: &Client,
    table: &str,
    list_key: &str,
    page: &PageRequest,
    cursor_keys: &[&str],
    cursor_is_ours: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<(Vec<Item>, Option<String>), StoreError> {
    let start = page
        .cursor
        .as_deref()
        .map(|c| crate::cursor::decode(c, cursor_keys, &cursor_is_ours))
        .transpose()?;
    let (mut items, _) = query(client, table, list_key, page.limit as i32 + 1, start).await?;
    let next_cursor = if items.len() > page.limit as usize {
        items.truncate(page.limit as usize);
        items
            .last()
            .and_then(|item| crate::cursor::encode(item, cursor_keys))
    } else {
        None
    };
    Ok((items, next_cursor))
}

/// A strongly consistent read of one item.
pub async fn get(client: &Client, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| StoreError::backend("reading an item", e.into_service_error()))?;
    Ok(output.item)
}

//! Vendors in DynamoDB. `VENDOR#<id>` / `VENDOR` holds the vendor; each pincode an active
//! vendor serves has an `AREA#<pincode>` / `VENDOR#<id>` item carrying a copy of it, so
//! "vendors serving this pincode" is one Query on a key. The vendor and its area items are
//! rewritten in one transaction, conditional on the version read. Active vendors carry
//! `listKey`, so the sparse `ByCreatedAt` index lists exactly them, newest first.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use milkrun_domain::StoreError;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{VendorReads, VendorWrites};
use milkrun_domain::values::Pincode;
use milkrun_domain::vendor::Vendor;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use uuid::Uuid;

use crate::attributes::{backend, s};
use crate::sparse_index;
use crate::transaction;

const LIST_KEY: &str = "VENDOR";
const CURSOR_KEYS: [&str; 4] = ["pk", "sk", "listKey", "createdKey"];

type Item = HashMap<String, AttributeValue>;

pub struct DynamoDbVendors {
    client: Client,
    table: String,
}

fn vendor_key(vendor_id: Uuid) -> Item {
    Item::from([
        ("pk".into(), s(format!("VENDOR#{vendor_id}"))),
        ("sk".into(), s("VENDOR")),
    ])
}

fn area_key(pincode: &Pincode, vendor_id: Uuid) -> Item {
    Item::from([
        ("pk".into(), s(format!("AREA#{pincode}"))),
        ("sk".into(), s(format!("VENDOR#{vendor_id}"))),
    ])
}

fn document(vendor: &Vendor, key: Item) -> Result<Item, StoreError> {
    let mut item: Item = to_item(vendor).map_err(backend("encoding a vendor"))?;
    item.extend(key);
    Ok(item)
}

fn vendor_item(vendor: &Vendor) -> Result<Item, StoreError> {
    let mut item = document(vendor, vendor_key(vendor.vendor_id))?;
    if vendor.is_active {
        sparse_index::add_list_keys(&mut item, LIST_KEY, vendor.created_at, vendor.vendor_id);
    }
    Ok(item)
}

fn decode(mut item: Item) -> Result<Vendor, StoreError> {
    for key in CURSOR_KEYS {
        item.remove(key);
    }
    from_item(item).map_err(backend("decoding a vendor"))
}

/// The pincodes whose area items should exist for this vendor: none once inactive.
fn indexed_areas(vendor: &Vendor) -> BTreeSet<&Pincode> {
    if vendor.is_active {
        vendor.service_areas.iter().collect()
    } else {
        BTreeSet::new()
    }
}

impl DynamoDbVendors {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(backend("building a put"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete(&self, key: Item) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .build()
            .map_err(backend("building a delete"))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// The area puts and deletes that take the index from `before` to `after`.
    fn area_writes(
        &self,
        before: Option<&Vendor>,
        after: &Vendor,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let old = before.map(indexed_areas).unwrap_or_default();
        let new = indexed_areas(after);
        let mut writes = Vec::new();
        for pincode in &new {
            writes.push(self.put(document(after, area_key(pincode, after.vendor_id))?, None)?);
        }
        for pincode in old.difference(&new) {
            writes.push(self.delete(area_key(pincode, after.vendor_id))?);
        }
        Ok(writes)
    }
}

#[async_trait]
impl VendorWrites for DynamoDbVendors {
    async fn create(&self, vendor: &Vendor) -> Result<(), StoreError> {
        let mut items = vec![self.put(vendor_item(vendor)?, Some("attribute_not_exists(pk)"))?];
        items.extend(self.area_writes(None, vendor)?);
        match transaction::write(&self.client, items, "creating a vendor").await? {
            None => Ok(()),
            Some(_) => Err(StoreError::AlreadyExists),
        }
    }

    async fn update(&self, mut vendor: Vendor) -> Result<Vendor, StoreError> {
        let stored = self
            .get(vendor.vendor_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if stored.version != vendor.version {
            return Err(StoreError::VersionConflict);
        }
        vendor.version += 1;
        let guarded = Put::builder()
            .table_name(&self.table)
            .set_item(Some(vendor_item(&vendor)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(stored.version.to_string()))
            .build()
            .map_err(backend("building a put"))?;
        let mut items = vec![TransactWriteItem::builder().put(guarded).build()];
        items.extend(self.area_writes(Some(&stored), &vendor)?);
        match transaction::write(&self.client, items, "updating a vendor").await? {
            None => Ok(vendor),
            Some(_) => Err(StoreError::VersionConflict),
        }
    }
}

#[async_trait]
impl VendorReads for DynamoDbVendors {
    async fn get(&self, vendor_id: Uuid) -> Result<Option<Vendor>, StoreError> {
        sparse_index::get(&self.client, &self.table, vendor_key(vendor_id))
            .await?
            .map(decode)
            .transpose()
    }

    async fn serving(&self, pincode: &Pincode) -> Result<Vec<Vendor>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :area")
            .expression_attribute_values(":area", s(format!("AREA#{pincode}")))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| StoreError::backend("finding vendors", e.into_service_error()))?;
        items.into_iter().map(decode).collect()
    }

    async fn list_active(&self, page: &PageRequest) -> Result<Page<Vendor>, StoreError> {
        let (items, next_cursor) = sparse_index::page(
            &self.client,
            &self.table,
            LIST_KEY,
            page,
            &CURSOR_KEYS,
            |keys| keys.get("listKey").map(String::as_str) == Some(LIST_KEY),
        )
        .await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<Result<_, _>>()?,
            next_cursor,
        })
    }
}

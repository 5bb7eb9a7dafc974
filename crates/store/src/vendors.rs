//! Vendors over the item store. `VENDOR#<id>` / `VENDOR` holds the vendor (active ones
//! listed newest first); each pincode an active vendor serves has an `AREA#<pincode>` /
//! `VENDOR#<id>` item carrying a copy of it, so "who serves this pincode" is one query on a
//! key. A deactivated vendor keeps no area items. The vendor and its area items change in
//! one transaction, conditional on the version read.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{VendorReads, VendorWrites};
use milkrun_domain::values::Pincode;
use milkrun_domain::vendor::Vendor;
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::item::{Item, decode, encode};
use crate::ops::{Key, Query, Write};
use crate::paging::{list, query_all};
use crate::port::ItemStore;
use crate::table::{BY_CREATED_AT, VENDORS};
use crate::versioned::{commit_versioned, list_under, versioned_put};

const LIST_KEY: &str = "VENDOR";

pub struct Vendors {
    store: Arc<dyn ItemStore>,
}

fn vendor_key(vendor_id: Uuid) -> Key {
    Key::with_sort(format!("VENDOR#{vendor_id}"), "VENDOR")
}

fn area_partition(pincode: &Pincode) -> String {
    format!("AREA#{pincode}")
}

fn area_key(pincode: &Pincode, vendor_id: Uuid) -> Key {
    Key::with_sort(area_partition(pincode), format!("VENDOR#{vendor_id}"))
}

fn copy_at(vendor: &Vendor, key: &Key) -> Result<Item, StoreError> {
    let mut item = encode(vendor)?;
    key.add_to(&VENDORS, &mut item);
    Ok(item)
}

/// The pincodes whose area items should exist for this vendor: none once inactive.
fn indexed_areas(vendor: &Vendor) -> BTreeSet<&Pincode> {
    if vendor.is_active {
        vendor.service_areas.iter().collect()
    } else {
        BTreeSet::new()
    }
}

/// The vendor's put (versioned) and the area puts and deletes that take the index from
/// `before` to `after`.
fn vendor_writes(before: Option<&Vendor>, after: &Vendor) -> Result<Vec<Write>, StoreError> {
    let mut item = copy_at(after, &vendor_key(after.vendor_id))?;
    if after.is_active {
        list_under(&mut item, LIST_KEY, after.created_at, after.vendor_id);
    }
    let mut writes = vec![versioned_put(&VENDORS, item, before.map(|b| b.version))];
    let new = indexed_areas(after);
    for pincode in &new {
        let copy = copy_at(after, &area_key(pincode, after.vendor_id))?;
        writes.push(Write::put(&VENDORS, copy, None));
    }
    let old = before.map(indexed_areas).unwrap_or_default();
    for pincode in old.difference(&new) {
        writes.push(Write::delete(
            &VENDORS,
            area_key(pincode, after.vendor_id),
            None,
        ));
    }
    Ok(writes)
}

impl Vendors {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl VendorWrites for Vendors {
    async fn create(&self, vendor: &Vendor, effects: &Effects) -> Result<(), StoreError> {
        let key = vendor_key(vendor.vendor_id);
        let writes = vendor_writes(None, vendor)?;
        commit_versioned(self.store.as_ref(), writes, effects, &key, None).await
    }

    async fn update(
        &self,
        before: &Vendor,
        mut after: Vendor,
        effects: &Effects,
    ) -> Result<Vendor, StoreError> {
        after.version = before.version + 1;
        let key = vendor_key(after.vendor_id);
        let writes = vendor_writes(Some(before), &after)?;
        commit_versioned(
            self.store.as_ref(),
            writes,
            effects,
            &key,
            Some(before.version),
        )
        .await?;
        Ok(after)
    }
}

#[async_trait]
impl VendorReads for Vendors {
    async fn get(&self, vendor_id: Uuid) -> Result<Option<Vendor>, StoreError> {
        let item = self
            .store
            .get(&VENDORS, &vendor_key(vendor_id), true)
            .await?;
        item.map(decode).transpose()
    }

    async fn get_many(&self, vendor_ids: &[Uuid]) -> Result<Vec<Vendor>, StoreError> {
        let keys: Vec<Key> = vendor_ids.iter().map(|id| vendor_key(*id)).collect();
        let items = self.store.batch_get(&VENDORS, &keys).await?;
        items.into_iter().map(decode).collect()
    }

    async fn serving(&self, pincode: &Pincode) -> Result<Vec<Vendor>, StoreError> {
        let query = Query::table(&VENDORS, area_partition(pincode));
        let items = query_all(self.store.as_ref(), query).await?;
        items.into_iter().map(decode).collect()
    }

    async fn list_active(&self, page: &PageRequest) -> Result<Page<Vendor>, StoreError> {
        let query = Query::index(&VENDORS, &BY_CREATED_AT, LIST_KEY).descending();
        list(self.store.as_ref(), query, page).await
    }
}

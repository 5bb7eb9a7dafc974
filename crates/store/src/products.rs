//! Products over the item store: `PRODUCT#<id>` items; active ones are listed newest first,
//! and a filtered listing pages through that listing keeping what the filter matches.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{ProductReads, ProductWrites};
use milkrun_domain::product::{Product, ProductFilter};
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::item::{Item, decode, encode};
use crate::ops::{Key, Query};
use crate::paging::list_where;
use crate::port::ItemStore;
use crate::table::{BY_CREATED_AT, PRODUCTS};
use crate::versioned::{commit_versioned, list_under, update_versioned, versioned_put};

const LIST_KEY: &str = "PRODUCT";

pub struct Products {
    store: Arc<dyn ItemStore>,
}

fn product_key(product_id: Uuid) -> Key {
    Key::partition(format!("PRODUCT#{product_id}"))
}

fn product_item(product: &Product) -> Result<Item, StoreError> {
    let mut item = encode(product)?;
    product_key(product.product_id).add_to(&PRODUCTS, &mut item);
    if product.is_active {
        list_under(&mut item, LIST_KEY, product.created_at, product.product_id);
    }
    Ok(item)
}

impl Products {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl ProductWrites for Products {
    async fn create(&self, product: &Product, effects: &Effects) -> Result<(), StoreError> {
        let key = product_key(product.product_id);
        let write = versioned_put(&PRODUCTS, product_item(product)?, None);
        commit_versioned(self.store.as_ref(), vec![write], effects, &key, None).await
    }

    async fn update(&self, mut product: Product, effects: &Effects) -> Result<Product, StoreError> {
        let (key, item, read_at) = (
            product_key(product.product_id),
            product_item(&product)?,
            product.version,
        );
        let store = self.store.as_ref();
        product.version = update_versioned(store, &PRODUCTS, &key, item, read_at, effects).await?;
        Ok(product)
    }
}

#[async_trait]
impl ProductReads for Products {
    async fn get(&self, product_id: Uuid) -> Result<Option<Product>, StoreError> {
        let item = self
            .store
            .get(&PRODUCTS, &product_key(product_id), true)
            .await?;
        item.map(decode).transpose()
    }

    async fn get_many(&self, product_ids: &[Uuid]) -> Result<Vec<Product>, StoreError> {
        // DynamoDB refuses a batch that names one key twice.
        let unique: std::collections::BTreeSet<Uuid> = product_ids.iter().copied().collect();
        let keys: Vec<Key> = unique.into_iter().map(product_key).collect();
        let items = self.store.batch_get(&PRODUCTS, &keys).await?;
        items.into_iter().map(decode).collect()
    }

    async fn list(
        &self,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, StoreError> {
        let query = Query::index(&PRODUCTS, &BY_CREATED_AT, LIST_KEY).descending();
        // A selective filter: read the listing 200 items a call.
        list_where(self.store.as_ref(), query, page, 200, |item| {
            let product: Product = decode(item)?;
            Ok(filter.matches(&product).then_some(product))
        })
        .await
    }
}

//! Products in DynamoDB: `PRODUCT#<id>` items; active ones carry `listKey`/`createdKey`, so
//! the sparse `ByCreatedAt` index holds exactly the listable products, newest first.
//! Listings page through that index and keep what the filter matches.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use milkrun_domain::StoreError;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{ProductReads, ProductWrites};
use milkrun_domain::product::{Product, ProductFilter};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use uuid::Uuid;

use crate::attributes::s;
use crate::sparse_index;

const LIST_KEY: &str = "PRODUCT";
const CURSOR_KEYS: [&str; 3] = ["pk", "listKey", "createdKey"];
/// Items read per index query of a filtered listing.
const BATCH: i32 = 200;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoDbProducts {
    client: Client,
    table: String,
}

fn product_item(product: &Product) -> Result<Item, StoreError> {
    let mut item: Item =
        to_item(product).map_err(|e| StoreError::backend("encoding a product", e))?;
    item.insert("pk".into(), s(format!("PRODUCT#{}", product.product_id)));
    if product.is_active {
        sparse_index::add_list_keys(&mut item, LIST_KEY, product.created_at, product.product_id);
    }
    Ok(item)
}

fn decode(mut item: Item) -> Result<Product, StoreError> {
    for key in CURSOR_KEYS {
        item.remove(key);
    }
    from_item(item).map_err(|e| StoreError::backend("decoding a product", e))
}

impl DynamoDbProducts {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn put(
        &self,
        item: Item,
        condition: &str,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(expected.map(|v| {
                HashMap::from([(":expected".to_owned(), AttributeValue::N(v.to_string()))])
            }))
            .send()
            .await;
        match result.map_err(SdkError::into_service_error) {
            Ok(_) => Ok(()),
            Err(error) if error.is_conditional_check_failed_exception() => {
                Err(StoreError::VersionConflict)
            }
            Err(error) => Err(StoreError::backend("writing a product", error)),
        }
    }
}

#[async_trait]
impl ProductWrites for DynamoDbProducts {
    async fn create(&self, product: &Product) -> Result<(), StoreError> {
        self.put(product_item(product)?, "attribute_not_exists(pk)", None)
            .await
            .map_err(|e| match e {
                StoreError::VersionConflict => StoreError::AlreadyExists,
                other => other,
            })
    }

    async fn update(&self, mut product: Product) -> Result<Product, StoreError> {
        let expected = product.version;
        product.version += 1;
        match self
            .put(
                product_item(&product)?,
                "attribute_exists(pk) AND version = :expected",
                Some(expected),
            )
            .await
        {
            Err(StoreError::VersionConflict) if self.get(product.product_id).await?.is_none() => {
                Err(StoreError::NotFound)
            }
            other => other.map(|()| product),
        }
    }
}

#[async_trait]
impl ProductReads for DynamoDbProducts {
    async fn get(&self, product_id: Uuid) -> Result<Option<Product>, StoreError> {
        let key = Item::from([("pk".into(), s(format!("PRODUCT#{product_id}")))]);
        sparse_index::get(&self.client, &self.table, key)
            .await?
            .map(decode)
            .transpose()
    }

    async fn list(
        &self,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, StoreError> {
        let limit = page.limit as usize;
        let mut start = page
            .cursor
            .as_deref()
            .map(|c| {
                crate::cursor::decode(c, &CURSOR_KEYS, |k| {
                    k.get("listKey").map(String::as_str) == Some(LIST_KEY)
                })
            })
            .transpose()?;
        let mut matched: Vec<(Item, Product)> = Vec::new();
        loop {
            let (items, last_evaluated_key) =
                sparse_index::query(&self.client, &self.table, LIST_KEY, BATCH, start.take())
                    .await?;
            for item in items {
                let product = decode(item.clone())?;
                if filter.matches(&product) {
                    matched.push((item, product));
                }
                if matched.len() > limit {
                    break;
                }
            }
            start = last_evaluated_key;
            if start.is_none() || matched.len() > limit {
                break;
            }
        }
        let next_cursor = if matched.len() > limit {
            crate::cursor::encode(&matched[limit - 1].0, &CURSOR_KEYS)
        } else {
            None
        };
        Ok(Page {
            items: matched.into_iter().take(limit).map(|(_, p)| p).collect(),
            next_cursor,
        })
    }
}

//! Products in DynamoDB: `PRODUCT#<id>` items; active ones carry `listKey`/`createdKey`, so
//! the sparse `ByCreatedAt` index holds exactly the listable products, newest first.
//! Listings page through that index and keep what the filter matches.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::SecondsFormat;
use milkrun_domain::StoreError;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{ProductReads, ProductWrites};
use milkrun_domain::product::{Product, ProductFilter};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use uuid::Uuid;

/// Must match the `ProductsTable` definition in template.yaml.
pub const BY_CREATED_AT_INDEX: &str = "ByCreatedAt";
const LIST_KEY: &str = "PRODUCT";
const CURSOR_KEYS: [&str; 3] = ["pk", "listKey", "createdKey"];
/// Items read per index query of a filtered listing.
const BATCH: i32 = 200;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoDbProducts {
    client: Client,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn product_item(product: &Product) -> Result<Item, StoreError> {
    let mut item: Item =
        to_item(product).map_err(|e| StoreError::backend("encoding a product", e))?;
    item.insert("pk".into(), s(format!("PRODUCT#{}", product.product_id)));
    if product.is_active {
        item.insert("listKey".into(), s(LIST_KEY));
        let created = product
            .created_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        item.insert(
            "createdKey".into(),
            s(format!("{created}#{}", product.product_id)),
        );
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
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("PRODUCT#{product_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("reading a product", e.into_service_error()))?;
        output.item.map(decode).transpose()
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
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_CREATED_AT_INDEX)
                .key_condition_expression("listKey = :list")
                .expression_attribute_values(":list", s(LIST_KEY))
                .scan_index_forward(false)
                .limit(BATCH)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::backend("listing products", e.into_service_error()))?;
            for item in output.items.unwrap_or_default() {
                let product = decode(item.clone())?;
                if filter.matches(&product) {
                    matched.push((item, product));
                }
                if matched.len() > limit {
                    break;
                }
            }
            start = output.last_evaluated_key;
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

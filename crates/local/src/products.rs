//! Products in SQLite. Listings walk the active products newest first from the cursor and
//! keep those the filter matches, as the DynamoDB adapter does over its index.

use async_trait::async_trait;
use chrono::SecondsFormat;
use milkrun_domain::StoreError;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{ProductReads, ProductWrites};
use milkrun_domain::product::{Product, ProductFilter};
use rusqlite::{ErrorCode, OptionalExtension, params};
use uuid::Uuid;

use crate::db::{Database, decode_cursor, encode_cursor, json_error, sql_error};

/// Rows read per step of a filtered listing.
const BATCH: i64 = 200;

pub struct SqliteProducts {
    db: Database,
}

impl SqliteProducts {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn sort_key(product: &Product) -> String {
    product
        .created_at
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn decode(doc: &str) -> Result<Product, StoreError> {
    serde_json::from_str(doc).map_err(json_error("decoding a product"))
}

#[async_trait]
impl ProductWrites for SqliteProducts {
    async fn create(&self, product: &Product) -> Result<(), StoreError> {
        let doc = serde_json::to_string(product).map_err(json_error("encoding a product"))?;
        let row = (
            product.product_id.to_string(),
            sort_key(product),
            product.is_active,
            product.version as i64,
        );
        self.db
            .call(move |conn| {
                match conn.execute(
                    "INSERT INTO products (product_id, created_at, is_active, version, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![row.0, row.1, row.2, row.3, doc],
                ) {
                    Ok(_) => Ok(()),
                    Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => Err(StoreError::AlreadyExists),
                    Err(e) => Err(StoreError::backend("creating a product", e)),
                }
            })
            .await
    }

    async fn update(&self, mut product: Product) -> Result<Product, StoreError> {
        let expected = product.version as i64;
        product.version += 1;
        let doc = serde_json::to_string(&product).map_err(json_error("encoding a product"))?;
        let (id, active) = (product.product_id.to_string(), product.is_active);
        self.db
            .call(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE products SET doc = ?1, is_active = ?2, version = version + 1 WHERE product_id = ?3 AND version = ?4",
                        params![doc, active, id, expected],
                    )
                    .map_err(sql_error("updating a product"))?;
                if changed == 1 {
                    return Ok(());
                }
                let exists = conn
                    .query_row("SELECT 1 FROM products WHERE product_id = ?1", [&id], |_| Ok(()))
                    .optional()
                    .map_err(sql_error("reading a product"))?;
                Err(if exists.is_some() { StoreError::VersionConflict } else { StoreError::NotFound })
            })
            .await?;
        Ok(product)
    }
}

#[async_trait]
impl ProductReads for SqliteProducts {
    async fn get(&self, product_id: Uuid) -> Result<Option<Product>, StoreError> {
        self.db
            .call(move |conn| {
                let doc: Option<String> = conn
                    .query_row(
                        "SELECT doc FROM products WHERE product_id = ?1",
                        [product_id.to_string()],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sql_error("reading a product"))?;
                doc.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn list(
        &self,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, StoreError> {
        let mut position = page
            .cursor
            .as_deref()
            .map(decode_cursor)
            .transpose()?
            .unwrap_or_else(|| ("9999".into(), String::new()));
        let (filter, limit) = (filter.clone(), page.limit as usize);
        self.db
            .call(move |conn| {
                let mut statement = conn
                    .prepare(
                        "SELECT created_at, product_id, doc FROM products WHERE is_active = 1 AND (created_at, product_id) < (?1, ?2) \
                         ORDER BY created_at DESC, product_id DESC LIMIT ?3",
                    )
                    .map_err(sql_error("listing products"))?;
                let mut matched: Vec<(String, String, Product)> = Vec::new();
                loop {
                    let rows: Vec<(String, String, String)> = statement
                        .query_map(params![position.0, position.1, BATCH], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                        .and_then(Iterator::collect)
                        .map_err(sql_error("listing products"))?;
                    let exhausted = (rows.len() as i64) < BATCH;
                    for (created, id, doc) in rows {
                        position = (created.clone(), id.clone());
                        let product = decode(&doc)?;
                        if filter.matches(&product) {
                            matched.push((created, id, product));
                        }
                        if matched.len() > limit {
                            break;
                        }
                    }
                    if exhausted || matched.len() > limit {
                        break;
                    }
                }
                let next_cursor = (matched.len() > limit).then(|| encode_cursor(&matched[limit - 1].0, &matched[limit - 1].1));
                Ok(Page { items: matched.into_iter().take(limit).map(|(_, _, p)| p).collect(), next_cursor })
            })
            .await
    }
}

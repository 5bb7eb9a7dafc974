//! Vendors in SQLite, with their service areas in `vendor_areas` so that "who serves this
//! pincode" is an index lookup, rewritten in the same transaction as the vendor.

use async_trait::async_trait;
use chrono::SecondsFormat;
use milkrun_domain::StoreError;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{VendorReads, VendorWrites};
use milkrun_domain::values::Pincode;
use milkrun_domain::vendor::Vendor;
use rusqlite::{ErrorCode, OptionalExtension, Transaction, params};
use uuid::Uuid;

use crate::db::{Database, decode_cursor, encode_cursor, json_error, sql_error};

pub struct SqliteVendors {
    db: Database,
}

impl SqliteVendors {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn sort_key(vendor: &Vendor) -> String {
    vendor
        .created_at
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn decode(doc: &str) -> Result<Vendor, StoreError> {
    serde_json::from_str(doc).map_err(json_error("decoding a vendor"))
}

fn index_areas(tx: &Transaction<'_>, vendor: &Vendor) -> Result<(), StoreError> {
    let id = vendor.vendor_id.to_string();
    tx.execute("DELETE FROM vendor_areas WHERE vendor_id = ?1", [&id])
        .map_err(sql_error("indexing areas"))?;
    for pincode in &vendor.service_areas {
        tx.execute(
            "INSERT INTO vendor_areas (pincode, vendor_id) VALUES (?1, ?2)",
            params![pincode.as_str(), id],
        )
        .map_err(sql_error("indexing areas"))?;
    }
    Ok(())
}

#[async_trait]
impl VendorWrites for SqliteVendors {
    async fn create(&self, vendor: &Vendor) -> Result<(), StoreError> {
        let vendor = vendor.clone();
        let doc = serde_json::to_string(&vendor).map_err(json_error("encoding a vendor"))?;
        self.db
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql_error("starting a transaction"))?;
                let inserted = tx.execute(
                    "INSERT INTO vendors (vendor_id, created_at, is_active, version, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![vendor.vendor_id.to_string(), sort_key(&vendor), vendor.is_active, vendor.version as i64, doc],
                );
                match inserted {
                    Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
                        return Err(StoreError::AlreadyExists);
                    }
                    other => other.map_err(sql_error("creating a vendor"))?,
                };
                index_areas(&tx, &vendor)?;
                tx.commit().map_err(sql_error("committing"))
            })
            .await
    }

    async fn update(&self, mut vendor: Vendor) -> Result<Vendor, StoreError> {
        let expected = vendor.version as i64;
        vendor.version += 1;
        let doc = serde_json::to_string(&vendor).map_err(json_error("encoding a vendor"))?;
        self.db
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql_error("starting a transaction"))?;
                let id = vendor.vendor_id.to_string();
                let changed = tx
                    .execute(
                        "UPDATE vendors SET doc = ?1, is_active = ?2, version = version + 1 WHERE vendor_id = ?3 AND version = ?4",
                        params![doc, vendor.is_active, id, expected],
                    )
                    .map_err(sql_error("updating a vendor"))?;
                if changed != 1 {
                    let exists =
                        tx.query_row("SELECT 1 FROM vendors WHERE vendor_id = ?1", [&id], |_| Ok(())).optional().map_err(sql_error("reading a vendor"))?;
                    return Err(if exists.is_some() { StoreError::VersionConflict } else { StoreError::NotFound });
                }
                index_areas(&tx, &vendor)?;
                tx.commit().map_err(sql_error("committing"))?;
                Ok(vendor)
            })
            .await
    }
}

#[async_trait]
impl VendorReads for SqliteVendors {
    async fn get(&self, vendor_id: Uuid) -> Result<Option<Vendor>, StoreError> {
        self.db
            .call(move |conn| {
                let doc: Option<String> = conn
                    .query_row(
                        "SELECT doc FROM vendors WHERE vendor_id = ?1",
                        [vendor_id.to_string()],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sql_error("reading a vendor"))?;
                doc.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn serving(&self, pincode: &Pincode) -> Result<Vec<Vendor>, StoreError> {
        let pincode = pincode.to_string();
        self.db
            .call(move |conn| {
                let mut statement = conn
                    .prepare(
                        "SELECT v.doc FROM vendor_areas a JOIN vendors v ON v.vendor_id = a.vendor_id \
                         WHERE a.pincode = ?1 AND v.is_active = 1 ORDER BY v.vendor_id",
                    )
                    .map_err(sql_error("finding vendors"))?;
                let docs: Vec<String> =
                    statement.query_map([pincode], |row| row.get(0)).and_then(Iterator::collect).map_err(sql_error("finding vendors"))?;
                docs.iter().map(|doc| decode(doc)).collect()
            })
            .await
    }

    async fn list_active(&self, page: &PageRequest) -> Result<Page<Vendor>, StoreError> {
        let after = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page.limit as usize;
        self.db
            .call(move |conn| {
                let (created, id) = after.unwrap_or_else(|| ("9999".into(), String::new()));
                let mut statement = conn
                    .prepare(
                        "SELECT created_at, vendor_id, doc FROM vendors WHERE is_active = 1 AND (created_at, vendor_id) < (?1, ?2) \
                         ORDER BY created_at DESC, vendor_id DESC LIMIT ?3",
                    )
                    .map_err(sql_error("listing vendors"))?;
                let rows: Vec<(String, String, String)> = statement
                    .query_map(params![created, id, limit as i64 + 1], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .and_then(Iterator::collect)
                    .map_err(sql_error("listing vendors"))?;
                let next_cursor = (rows.len() > limit).then(|| encode_cursor(&rows[limit - 1].0, &rows[limit - 1].1));
                let items = rows.iter().take(limit).map(|(_, _, doc)| decode(doc)).collect::<Result<_, _>>()?;
                Ok(Page { items, next_cursor })
            })
            .await
    }
}

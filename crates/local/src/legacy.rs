//! Opens a data folder written by the first release (schema 0: one SQLite table per entity,
//! documents as JSON) and moves its contents into the item tables, through the same entity
//! stores that write them today. Each import is idempotent, the old tables are dropped only
//! after everything moved, and the schema version is set last: a crash part-way leaves a
//! folder that the next start migrates again.

use chrono::{DateTime, Utc};
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::inventory::{InventoryRow, Reservation, ReservationStatus};
use milkrun_domain::ports::{Journal, ProductWrites, UserRegistry, VendorWrites};
use milkrun_domain::product::Product;
use milkrun_domain::user::User;
use milkrun_domain::vendor::Vendor;
use milkrun_domain::{Effects, StoreError};
use milkrun_store::ops::Write;
use milkrun_store::stock::reservation_item;
use milkrun_store::{Stores, table::INVENTORY};
use rusqlite::Connection;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::db::{Database, SCHEMA_VERSION};

/// The first release's tables, in an order that drops cleanly (areas reference vendors).
const LEGACY_TABLES: [&str; 7] = [
    "vendor_areas",
    "vendors",
    "users",
    "products",
    "audit",
    "inventory",
    "stock_reservations",
];

/// What one migration moved, for the start-up log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub users: usize,
    pub vendors: usize,
    pub products: usize,
    pub stock_rows: usize,
    pub reservations: usize,
    pub audit_entries: usize,
}

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |error| StoreError::backend(context, error)
}

fn legacy_tables(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'items_%' AND name NOT LIKE 'sqlite_%'")
        .map_err(sql("reading the schema"))?;
    let names = statement
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(sql("reading the schema"))?;
    Ok(names
        .into_iter()
        .filter(|n| LEGACY_TABLES.contains(&n.as_str()))
        .collect())
}

fn documents<T: DeserializeOwned>(conn: &Connection, table: &str) -> Result<Vec<T>, StoreError> {
    let mut statement = conn
        .prepare(&format!("SELECT doc FROM \"{table}\""))
        .map_err(sql("reading a legacy table"))?;
    let docs = statement
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(sql("reading a legacy table"))?;
    docs.iter()
        .map(|doc| {
            serde_json::from_str(doc)
                .map_err(|e| StoreError::backend("decoding a legacy document", e))
        })
        .collect()
}

fn uuid(text: &str) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn time(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn stock_rows(conn: &Connection) -> Result<Vec<InventoryRow>, StoreError> {
    let mut statement = conn
        .prepare("SELECT vendor_id, product_id, variant_id, stock, reserved, low_stock_threshold, updated_at FROM inventory")
        .map_err(sql("reading legacy stock"))?;
    statement
        .query_map([], |row| {
            Ok(InventoryRow {
                vendor_id: uuid(&row.get::<_, String>(0)?)?,
                product_id: uuid(&row.get::<_, String>(1)?)?,
                variant_id: uuid(&row.get::<_, String>(2)?)?,
                stock: row.get(3)?,
                reserved: row.get(4)?,
                low_stock_threshold: row.get(5)?,
                updated_at: time(&row.get::<_, String>(6)?)?,
                version: 0,
            })
        })
        .and_then(Iterator::collect)
        .map_err(sql("reading legacy stock"))
}

fn reservations(conn: &Connection) -> Result<Vec<Reservation>, StoreError> {
    let mut statement = conn
        .prepare("SELECT order_id, status, lines FROM stock_reservations")
        .map_err(sql("reading legacy reservations"))?;
    let rows: Vec<(String, String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .and_then(Iterator::collect)
        .map_err(sql("reading legacy reservations"))?;
    rows.into_iter()
        .map(|(order_id, status, lines)| {
            let decode =
                |e: serde_json::Error| StoreError::backend("decoding a legacy reservation", e);
            Ok(Reservation {
                order_id: Uuid::parse_str(&order_id)
                    .map_err(|e| StoreError::backend("decoding a legacy reservation", e))?,
                status: serde_json::from_value::<ReservationStatus>(serde_json::Value::String(
                    status,
                ))
                .map_err(decode)?,
                lines: serde_json::from_str(&lines).map_err(decode)?,
                capacity: Vec::new(),
            })
        })
        .collect()
}

/// Everything the first release kept, read in one go.
struct Legacy {
    users: Vec<User>,
    vendors: Vec<Vendor>,
    products: Vec<Product>,
    audit: Vec<AuditEntry>,
    stock: Vec<InventoryRow>,
    reservations: Vec<Reservation>,
}

fn read_legacy(conn: &Connection, present: &[String]) -> Result<Legacy, StoreError> {
    let has = |name: &str| present.iter().any(|p| p == name);
    Ok(Legacy {
        users: if has("users") {
            documents(conn, "users")?
        } else {
            Vec::new()
        },
        vendors: if has("vendors") {
            documents(conn, "vendors")?
        } else {
            Vec::new()
        },
        products: if has("products") {
            documents(conn, "products")?
        } else {
            Vec::new()
        },
        audit: if has("audit") {
            documents(conn, "audit")?
        } else {
            Vec::new()
        },
        stock: if has("inventory") {
            stock_rows(conn)?
        } else {
            Vec::new()
        },
        reservations: if has("stock_reservations") {
            reservations(conn)?
        } else {
            Vec::new()
        },
    })
}

/// `AlreadyExists` (or a lost create race) means an earlier, interrupted run moved it.
fn moved(result: Result<(), StoreError>) -> Result<(), StoreError> {
    match result {
        Err(StoreError::AlreadyExists | StoreError::VersionConflict) => Ok(()),
        other => other,
    }
}

async fn import(stores: &Stores, legacy: &Legacy) -> Result<(), StoreError> {
    let none = Effects::none();
    for user in &legacy.users {
        moved(stores.users.create(user, &none).await)?;
    }
    for vendor in &legacy.vendors {
        moved(stores.vendors.create(vendor, &none).await)?;
    }
    for product in &legacy.products {
        moved(stores.products.create(product, &none).await)?;
    }
    for row in &legacy.stock {
        moved(stores.stock.save(None, row, &none).await.map(|_| ()))?;
    }
    for reservation in &legacy.reservations {
        let put = Write::put(&INVENTORY, reservation_item(reservation)?, None);
        stores.items.write(put).await?;
    }
    for entry in &legacy.audit {
        moved(stores.audit.commit(&Effects::audited(entry.clone())).await)?;
    }
    Ok(())
}

/// Brings a data folder to [`SCHEMA_VERSION`], moving a first-release folder's contents.
pub async fn migrate(db: &Database, stores: &Stores) -> Result<Option<Migrated>, StoreError> {
    if db.schema_version().await? >= SCHEMA_VERSION {
        return Ok(None);
    }
    let (present, legacy) = db
        .call(|conn| {
            let present = legacy_tables(conn)?;
            let legacy = read_legacy(conn, &present)?;
            Ok::<_, StoreError>((present, legacy))
        })
        .await?;
    let fresh = present.is_empty();
    import(stores, &legacy).await?;
    db.call(move |conn| {
        let tx = conn.transaction().map_err(sql("starting the migration"))?;
        for name in LEGACY_TABLES
            .iter()
            .filter(|n| present.iter().any(|p| p == *n))
        {
            tx.execute_batch(&format!("DROP TABLE \"{name}\";"))
                .map_err(sql("dropping a legacy table"))?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sql("setting the schema version"))?;
        tx.commit().map_err(sql("finishing the migration"))
    })
    .await?;
    if fresh {
        return Ok(None);
    }
    Ok(Some(Migrated {
        users: legacy.users.len(),
        vendors: legacy.vendors.len(),
        products: legacy.products.len(),
        stock_rows: legacy.stock.len(),
        reservations: legacy.reservations.len(),
        audit_entries: legacy.audit.len(),
    }))
}

//! Stock in SQLite. Every change is one transaction whose statements carry their own
//! conditions (`WHERE stock >= ?`), and CHECK constraints make a negative count impossible
//! even for a bug: the same guarantees DynamoDB's conditional writes give in AWS.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::inventory::{
    DEFAULT_LOW_STOCK_THRESHOLD, InventoryRow, Reservation, ReservationStatus, StockKey, StockLine,
    StockOperation, merge_lines,
};
use milkrun_domain::ports::{StockAdjustments, StockLevels, StockReservations};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use uuid::Uuid;

use crate::db::{Database, json_error, sql_error};

pub struct SqliteInventory {
    db: Database,
}

impl SqliteInventory {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

const ROW_COLUMNS: &str =
    "vendor_id, product_id, variant_id, stock, reserved, low_stock_threshold, updated_at";

fn parse_uuid(text: String) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn inventory_row(row: &Row<'_>) -> rusqlite::Result<InventoryRow> {
    let updated_at: String = row.get(6)?;
    Ok(InventoryRow {
        vendor_id: parse_uuid(row.get(0)?)?,
        product_id: parse_uuid(row.get(1)?)?,
        variant_id: parse_uuid(row.get(2)?)?,
        stock: row.get(3)?,
        reserved: row.get(4)?,
        low_stock_threshold: row.get(5)?,
        updated_at: DateTime::parse_from_rfc3339(&updated_at)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    6,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
    })
}

fn key_params(key: &StockKey) -> [String; 3] {
    [
        key.vendor_id.to_string(),
        key.product_id.to_string(),
        key.variant_id.to_string(),
    ]
}

fn read_row(conn: &Connection, key: &StockKey) -> Result<Option<InventoryRow>, StoreError> {
    let [vendor, product, variant] = key_params(key);
    conn.query_row(
        &format!("SELECT {ROW_COLUMNS} FROM inventory WHERE vendor_id = ?1 AND product_id = ?2 AND variant_id = ?3"),
        params![vendor, product, variant],
        inventory_row,
    )
    .optional()
    .map_err(sql_error("reading stock"))
}

fn read_reservation(conn: &Connection, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
    let found: Option<(String, String)> = conn
        .query_row(
            "SELECT status, lines FROM stock_reservations WHERE order_id = ?1",
            [order_id.to_string()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(sql_error("reading a reservation"))?;
    found
        .map(|(status, lines)| {
            let status = serde_json::from_value(serde_json::Value::String(status))
                .map_err(json_error("decoding a reservation"))?;
            let lines =
                serde_json::from_str(&lines).map_err(json_error("decoding a reservation"))?;
            Ok(Reservation {
                order_id,
                lines,
                status,
            })
        })
        .transpose()
}

fn status_text(status: ReservationStatus) -> &'static str {
    match status {
        ReservationStatus::Reserved => "RESERVED",
        ReservationStatus::Released => "RELEASED",
        ReservationStatus::Committed => "COMMITTED",
    }
}

fn write_reservation(tx: &Transaction<'_>, reservation: &Reservation) -> Result<(), StoreError> {
    let lines =
        serde_json::to_string(&reservation.lines).map_err(json_error("encoding a reservation"))?;
    tx.execute(
        "INSERT INTO stock_reservations (order_id, status, lines, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, lines = excluded.lines, updated_at = excluded.updated_at",
        params![reservation.order_id.to_string(), status_text(reservation.status), lines, Utc::now().to_rfc3339()],
    )
    .map_err(sql_error("writing a reservation"))?;
    Ok(())
}

/// Applies `sql` (with `?1` quantity and `?2..?4` the key) to each line; any line whose
/// condition fails aborts the whole transaction with `InsufficientStock`.
fn move_units(tx: &Transaction<'_>, lines: &[StockLine], sql: &str) -> Result<(), StoreError> {
    let now = Utc::now().to_rfc3339();
    for line in lines {
        let [vendor, product, variant] = key_params(&line.key);
        let changed = tx
            .execute(sql, params![line.quantity, vendor, product, variant, now])
            .map_err(sql_error("moving stock"))?;
        if changed != 1 {
            return Err(StoreError::InsufficientStock);
        }
    }
    Ok(())
}

const TAKE: &str = "UPDATE inventory SET stock = stock - ?1, reserved = reserved + ?1, updated_at = ?5 \
                    WHERE vendor_id = ?2 AND product_id = ?3 AND variant_id = ?4 AND stock >= ?1";
const GIVE_BACK: &str = "UPDATE inventory SET stock = stock + ?1, reserved = reserved - ?1, updated_at = ?5 \
                         WHERE vendor_id = ?2 AND product_id = ?3 AND variant_id = ?4 AND reserved >= ?1";
const DELIVER: &str = "UPDATE inventory SET reserved = reserved - ?1, updated_at = ?5 \
                       WHERE vendor_id = ?2 AND product_id = ?3 AND variant_id = ?4 AND reserved >= ?1";

/// Moves a RESERVED reservation to `to`, applying `sql` to its lines; anything else is left.
fn settle(
    conn: &mut Connection,
    order_id: Uuid,
    to: ReservationStatus,
    sql: &str,
) -> Result<Option<Reservation>, StoreError> {
    let tx = conn
        .transaction()
        .map_err(sql_error("starting a transaction"))?;
    let Some(mut reservation) = read_reservation(&tx, order_id)? else {
        return Ok(None);
    };
    if reservation.status != ReservationStatus::Reserved {
        return Ok(Some(reservation));
    }
    move_units(&tx, &reservation.lines, sql)?;
    reservation.status = to;
    write_reservation(&tx, &reservation)?;
    tx.commit().map_err(sql_error("committing"))?;
    Ok(Some(reservation))
}

#[async_trait]
impl StockLevels for SqliteInventory {
    async fn get(&self, key: &StockKey) -> Result<Option<InventoryRow>, StoreError> {
        let key = *key;
        self.db.call(move |conn| read_row(conn, &key)).await
    }

    async fn for_vendor(&self, vendor_id: Uuid) -> Result<Vec<InventoryRow>, StoreError> {
        self.db
            .call(move |conn| {
                let mut statement = conn
                    .prepare(&format!("SELECT {ROW_COLUMNS} FROM inventory WHERE vendor_id = ?1 ORDER BY product_id, variant_id"))
                    .map_err(sql_error("listing stock"))?;
                statement
                    .query_map([vendor_id.to_string()], inventory_row)
                    .and_then(Iterator::collect)
                    .map_err(sql_error("listing stock"))
            })
            .await
    }

    async fn get_many(&self, keys: &[StockKey]) -> Result<Vec<InventoryRow>, StoreError> {
        let keys = keys.to_vec();
        self.db
            .call(move |conn| {
                let mut rows = Vec::new();
                for key in &keys {
                    rows.extend(read_row(conn, key)?);
                }
                Ok(rows)
            })
            .await
    }

    async fn below_threshold(&self) -> Result<Vec<InventoryRow>, StoreError> {
        self.db
            .call(move |conn| {
                let mut statement = conn
                    .prepare(&format!(
                        "SELECT {ROW_COLUMNS} FROM inventory WHERE stock < low_stock_threshold \
                         ORDER BY vendor_id, product_id, variant_id"
                    ))
                    .map_err(sql_error("sweeping stock"))?;
                statement
                    .query_map([], inventory_row)
                    .and_then(Iterator::collect)
                    .map_err(sql_error("sweeping stock"))
            })
            .await
    }
}

#[async_trait]
impl StockAdjustments for SqliteInventory {
    async fn adjust(
        &self,
        key: &StockKey,
        operation: StockOperation,
        threshold: Option<u32>,
    ) -> Result<InventoryRow, StoreError> {
        let key = *key;
        self.db
            .call(move |conn| {
                let [vendor, product, variant] = key_params(&key);
                let now = Utc::now().to_rfc3339();
                let changed = match operation {
                    StockOperation::Add(q) | StockOperation::Set(q) => conn.execute(
                        &format!(
                            "INSERT INTO inventory ({ROW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, 0, COALESCE(?5, ?6), ?7) \
                             ON CONFLICT DO UPDATE SET stock = {}, \
                             low_stock_threshold = COALESCE(?5, low_stock_threshold), updated_at = ?7",
                            if matches!(operation, StockOperation::Add(_)) { "stock + ?4" } else { "?4" }
                        ),
                        params![vendor, product, variant, q, threshold, DEFAULT_LOW_STOCK_THRESHOLD, now],
                    ),
                    StockOperation::Subtract(q) => conn.execute(
                        "UPDATE inventory SET stock = stock - ?4, low_stock_threshold = COALESCE(?5, low_stock_threshold), \
                         updated_at = ?6 WHERE vendor_id = ?1 AND product_id = ?2 AND variant_id = ?3 AND stock >= ?4",
                        params![vendor, product, variant, q, threshold, now],
                    ),
                }
                .map_err(sql_error("adjusting stock"))?;
                if changed != 1 {
                    return Err(StoreError::InsufficientStock);
                }
                read_row(conn, &key)?.ok_or(StoreError::NotFound)
            })
            .await
    }
}

#[async_trait]
impl StockReservations for SqliteInventory {
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: &[StockLine],
    ) -> Result<Reservation, StoreError> {
        let lines = merge_lines(lines);
        self.db
            .call(move |conn| {
                let tx = conn
                    .transaction()
                    .map_err(sql_error("starting a transaction"))?;
                if let Some(existing) = read_reservation(&tx, order_id)?
                    && existing.status != ReservationStatus::Released
                {
                    return Ok(existing);
                }
                move_units(&tx, &lines, TAKE)?;
                let reservation = Reservation {
                    order_id,
                    lines,
                    status: ReservationStatus::Reserved,
                };
                write_reservation(&tx, &reservation)?;
                tx.commit().map_err(sql_error("committing"))?;
                Ok(reservation)
            })
            .await
    }

    async fn release(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        self.db
            .call(move |conn| settle(conn, order_id, ReservationStatus::Released, GIVE_BACK))
            .await
    }

    async fn commit(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        self.db
            .call(move |conn| settle(conn, order_id, ReservationStatus::Committed, DELIVER))
            .await
    }
}

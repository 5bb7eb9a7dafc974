//! Stock in DynamoDB. Rows are `STOCK#<vendorId>` / `<productId>#<variantId>`; reservations
//! are `RESERVATION#<orderId>` / `RESERVATION`. Every change is one conditional write (or one
//! transaction of them): `stock >= :q` guards each decrement, the reservation's status guards
//! each settlement, so no interleaving can oversell, double-reserve or double-release.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};
use chrono::Utc;
use milkrun_domain::StoreError;
use milkrun_domain::inventory::{
    DEFAULT_LOW_STOCK_THRESHOLD, InventoryRow, Reservation, ReservationStatus, StockKey, StockLine,
    StockOperation, merge_lines,
};
use milkrun_domain::ports::{StockAdjustments, StockLevels, StockReservations};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;
use uuid::Uuid;

use crate::attributes::{n, s};
use crate::transaction::{self, Cancelled};

type Item = HashMap<String, AttributeValue>;

/// Transactions that lose to a concurrent one on the same items are retried this often.
const MAX_ATTEMPTS: u32 = 8;
/// BatchGetItem's limit on keys per call.
const BATCH_GET_LIMIT: usize = 100;

pub struct DynamoDbInventory {
    client: Client,
    table: String,
}

fn row_key(key: &StockKey) -> Item {
    Item::from([
        ("pk".into(), s(format!("STOCK#{}", key.vendor_id))),
        (
            "sk".into(),
            s(format!("{}#{}", key.product_id, key.variant_id)),
        ),
    ])
}

fn reservation_key(order_id: Uuid) -> Item {
    Item::from([
        ("pk".into(), s(format!("RESERVATION#{order_id}"))),
        ("sk".into(), s("RESERVATION")),
    ])
}

fn decode_row(mut item: Item) -> Result<InventoryRow, StoreError> {
    item.remove("pk");
    item.remove("sk");
    from_item(item).map_err(|e| StoreError::backend("decoding stock", e))
}

fn status_text(status: ReservationStatus) -> &'static str {
    match status {
        ReservationStatus::Reserved => "RESERVED",
        ReservationStatus::Released => "RELEASED",
        ReservationStatus::Committed => "COMMITTED",
    }
}

fn decode_reservation(item: &Item, order_id: Uuid) -> Result<Reservation, StoreError> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let status = serde_json::from_value(serde_json::Value::String(text("status")))
        .map_err(|e| StoreError::backend("decoding a reservation", e))?;
    let lines = serde_json::from_str(&text("lines"))
        .map_err(|e| StoreError::backend("decoding a reservation", e))?;
    Ok(Reservation {
        order_id,
        lines,
        status,
    })
}

/// An update that moves `quantity` units on one row, guarded by `condition`.
fn line_update(
    table: &str,
    line: &StockLine,
    set: &str,
    condition: &str,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(row_key(&line.key)))
        .update_expression(set)
        .condition_expression(condition)
        .expression_attribute_values(":q", n(line.quantity))
        .expression_attribute_values(":now", s(Utc::now().to_rfc3339()))
        .build()
        .map_err(|e| StoreError::backend("building a stock update", e))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
}

impl DynamoDbInventory {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One BatchGetItem, plus retries of whatever DynamoDB left unprocessed.
    async fn batch_get(&self, request: KeysAndAttributes) -> Result<Vec<InventoryRow>, StoreError> {
        let mut rows = Vec::new();
        let mut pending = Some(request);
        let mut attempt = 0;
        while let Some(request) = pending.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| StoreError::backend("reading stock", e.into_service_error()))?;
            let mut responses = output.responses.unwrap_or_default();
            for item in responses.remove(&self.table).unwrap_or_default() {
                rows.push(decode_row(item)?);
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut left| left.remove(&self.table))
                .filter(|left| !left.keys.is_empty());
            if pending.is_some() {
                attempt += 1;
                if attempt >= MAX_ATTEMPTS {
                    return Err(StoreError::backend(
                        "reading stock",
                        std::io::Error::other("keys left unprocessed"),
                    ));
                }
                backoff(attempt).await;
            }
        }
        Ok(rows)
    }

    /// One item by key, read consistently (stock and reservations must see the last write).
    async fn get_item(&self, key: Item, context: &'static str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend(context, e.into_service_error()))?;
        Ok(output.item)
    }

    async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        self.get_item(reservation_key(order_id), "reading a reservation")
            .await?
            .map(|item| decode_reservation(&item, order_id))
            .transpose()
    }

    fn reservation_put(&self, reservation: &Reservation) -> Result<TransactWriteItem, StoreError> {
        let lines = serde_json::to_string(&reservation.lines)
            .map_err(|e| StoreError::backend("encoding a reservation", e))?;
        let mut item = reservation_key(reservation.order_id);
        item.insert("orderId".into(), s(reservation.order_id.to_string()));
        item.insert("status".into(), s(status_text(reservation.status)));
        item.insert("lines".into(), s(lines));
        item.insert("updatedAt".into(), s(Utc::now().to_rfc3339()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #status = :released")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":released", s("RELEASED"))
            .build()
            .map_err(|e| StoreError::backend("building a reservation", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn status_update(
        &self,
        order_id: Uuid,
        to: ReservationStatus,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(reservation_key(order_id)))
            .update_expression("SET #status = :to, updatedAt = :now")
            .condition_expression("#status = :reserved")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(status_text(to)))
            .expression_attribute_values(":reserved", s("RESERVED"))
            .expression_attribute_values(":now", s(Utc::now().to_rfc3339()))
            .build()
            .map_err(|e| StoreError::backend("building a reservation update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Moves a RESERVED reservation to `to`, applying `set` to its lines, exactly once.
    async fn settle(
        &self,
        order_id: Uuid,
        to: ReservationStatus,
        set: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let Some(mut reservation) = self.reservation(order_id).await? else {
                return Ok(None);
            };
            if reservation.status != ReservationStatus::Reserved {
                return Ok(Some(reservation));
            }
            let mut items = vec![self.status_update(order_id, to)?];
            for line in &reservation.lines {
                items.push(line_update(&self.table, line, set, "reserved >= :q")?);
            }
            match transaction::write(&self.client, items, "writing stock").await? {
                None => {
                    reservation.status = to;
                    return Ok(Some(reservation));
                }
                // Settled concurrently, or lost a race: read again and decide again.
                Some(_) => backoff(attempt).await,
            }
        }
        Err(StoreError::VersionConflict)
    }
}

#[async_trait]
impl StockLevels for DynamoDbInventory {
    async fn get(&self, key: &StockKey) -> Result<Option<InventoryRow>, StoreError> {
        self.get_item(row_key(key), "reading stock")
            .await?
            .map(decode_row)
            .transpose()
    }

    async fn for_vendor(&self, vendor_id: Uuid) -> Result<Vec<InventoryRow>, StoreError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("STOCK#{vendor_id}")))
            .into_paginator()
            .items()
            .send();
        let items: Vec<Item> = pages
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| StoreError::backend("listing stock", e.into_service_error()))?;
        items.into_iter().map(decode_row).collect()
    }

    async fn get_many(&self, keys: &[StockKey]) -> Result<Vec<InventoryRow>, StoreError> {
        let mut rows = Vec::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(row_key).collect()))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::backend("building a stock batch read", e))?;
            rows.extend(self.batch_get(request).await?);
        }
        Ok(rows)
    }

    async fn below_threshold(&self) -> Result<Vec<InventoryRow>, StoreError> {
        // A daily sweep: a Scan is the honest cost of "every row", filtered server-side.
        let pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(pk, :stock) AND stock < lowStockThreshold")
            .expression_attribute_values(":stock", s("STOCK#"))
            .into_paginator()
            .items()
            .send();
        let items: Vec<Item> = pages
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| StoreError::backend("sweeping stock", e.into_service_error()))?;
        items.into_iter().map(decode_row).collect()
    }
}

#[async_trait]
impl StockAdjustments for DynamoDbInventory {
    async fn adjust(
        &self,
        key: &StockKey,
        operation: StockOperation,
        threshold: Option<u32>,
    ) -> Result<InventoryRow, StoreError> {
        let (stock, condition, quantity) = match operation {
            StockOperation::Add(q) => ("stock = if_not_exists(stock, :zero) + :q", None, q),
            StockOperation::Set(q) => ("stock = :q", None, q),
            StockOperation::Subtract(q) => (
                "stock = stock - :q",
                Some("attribute_exists(pk) AND stock >= :q"),
                q,
            ),
        };
        let threshold_expr = if threshold.is_some() {
            ":threshold"
        } else {
            "if_not_exists(lowStockThreshold, :threshold)"
        };
        let update = format!(
            "SET {stock}, reserved = if_not_exists(reserved, :zero), lowStockThreshold = {threshold_expr}, \
             vendorId = :vendor, productId = :product, variantId = :variant, updatedAt = :now"
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(row_key(key)))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .expression_attribute_values(":q", n(quantity))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(
                ":threshold",
                n(threshold.unwrap_or(DEFAULT_LOW_STOCK_THRESHOLD)),
            )
            .expression_attribute_values(":vendor", s(key.vendor_id.to_string()))
            .expression_attribute_values(":product", s(key.product_id.to_string()))
            .expression_attribute_values(":variant", s(key.variant_id.to_string()))
            .expression_attribute_values(":now", s(Utc::now().to_rfc3339()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result.map_err(SdkError::into_service_error) {
            Ok(output) => decode_row(output.attributes.unwrap_or_default()),
            Err(error) if error.is_conditional_check_failed_exception() => {
                Err(StoreError::InsufficientStock)
            }
            Err(error) => Err(StoreError::backend("adjusting stock", error)),
        }
    }
}

#[async_trait]
impl StockReservations for DynamoDbInventory {
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: &[StockLine],
    ) -> Result<Reservation, StoreError> {
        let reservation = Reservation {
            order_id,
            lines: merge_lines(lines),
            status: ReservationStatus::Reserved,
        };
        for attempt in 0..MAX_ATTEMPTS {
            let mut items = vec![self.reservation_put(&reservation)?];
            for line in &reservation.lines {
                let take = "SET stock = stock - :q, reserved = reserved + :q, updatedAt = :now";
                items.push(line_update(
                    &self.table,
                    line,
                    take,
                    "attribute_exists(pk) AND stock >= :q",
                )?);
            }
            match transaction::write(&self.client, items, "writing stock").await? {
                None => return Ok(reservation),
                Some(Cancelled::Conflict) => backoff(attempt).await,
                Some(Cancelled::Condition) => {
                    // Either this order already holds stock (idempotent success), or a row was short.
                    return match self.reservation(order_id).await? {
                        Some(existing) if existing.status != ReservationStatus::Released => {
                            Ok(existing)
                        }
                        _ => Err(StoreError::InsufficientStock),
                    };
                }
            }
        }
        Err(StoreError::VersionConflict)
    }

    async fn release(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        self.settle(
            order_id,
            ReservationStatus::Released,
            "SET stock = stock + :q, reserved = reserved - :q, updatedAt = :now",
        )
        .await
    }

    async fn commit(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        self.settle(
            order_id,
            ReservationStatus::Committed,
            "SET reserved = reserved - :q, updatedAt = :now",
        )
        .await
    }
}

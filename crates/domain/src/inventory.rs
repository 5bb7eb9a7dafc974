//! Stock per (vendor, product, variant): what can still be sold (`stock`) and what placed
//! orders hold (`reserved`). Reserving moves units from stock to reserved, releasing moves
//! them back, committing (delivery) removes them from reserved. Neither can go negative.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::FieldErrors;
use crate::values::InvalidValue;

/// The most units one operation or one order line may move.
pub const MAX_QUANTITY: u32 = 1_000_000;
/// The threshold a new row starts with when none is given.
pub const DEFAULT_LOW_STOCK_THRESHOLD: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockKey {
    pub vendor_id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryRow {
    pub vendor_id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub stock: u32,
    pub reserved: u32,
    pub low_stock_threshold: u32,
    pub updated_at: DateTime<Utc>,
}

impl InventoryRow {
    pub fn key(&self) -> StockKey {
        StockKey {
            vendor_id: self.vendor_id,
            product_id: self.product_id,
            variant_id: self.variant_id,
        }
    }

    /// Under its threshold: time for a LOW_STOCK alert.
    pub fn is_low(&self) -> bool {
        self.stock < self.low_stock_threshold
    }
}

/// A vendor's change to one row's sellable stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockOperation {
    Add(u32),
    /// Refused, changing nothing, if it would take stock below zero.
    Subtract(u32),
    Set(u32),
}

impl StockOperation {
    /// Parses `{operation, quantity}`: ADD and SUBTRACT move 1..=1,000,000 units, SET sets 0..=1,000,000.
    pub fn parse(
        operation: Option<&str>,
        quantity: Option<&serde_json::Value>,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let amount = quantity
            .and_then(serde_json::Value::as_u64)
            .filter(|q| *q <= u64::from(MAX_QUANTITY));
        let amount = errors.check(
            "quantity",
            amount
                .map(|q| q as u32)
                .ok_or(InvalidValue("must be a whole number from 0 to 1000000")),
        );
        let operation = errors.check(
            "operation",
            match operation {
                Some(op @ ("ADD" | "SUBTRACT" | "SET")) => Ok(op),
                _ => Err(InvalidValue("must be ADD, SUBTRACT or SET")),
            },
        );
        let (Some(operation), Some(amount)) = (operation, amount) else {
            return Err(errors);
        };
        match (operation, amount) {
            ("SET", amount) => Ok(Self::Set(amount)),
            (_, 0) => Err(FieldErrors::single(
                "quantity",
                "must be at least 1 for ADD and SUBTRACT",
            )),
            ("ADD", amount) => Ok(Self::Add(amount)),
            (_, amount) => Ok(Self::Subtract(amount)),
        }
    }
}

impl StockOperation {
    /// Whether this change, leaving `row` as it is now, took it under its threshold: what
    /// deserves a LOW_STOCK event (a row already low is not announced again by SUBTRACT).
    /// SET and a new threshold may have crossed it; the old level is not known, so they count.
    pub fn went_low(self, row: &InventoryRow, threshold_changed: bool) -> bool {
        row.is_low()
            && match self {
                StockOperation::Add(_) => threshold_changed,
                StockOperation::Set(_) => true,
                StockOperation::Subtract(q) => {
                    threshold_changed
                        || u64::from(row.stock) + u64::from(q) >= u64::from(row.low_stock_threshold)
                }
            }
    }
}

/// A low-stock threshold as a client sends it: a whole number of units.
pub fn parse_threshold(raw: &serde_json::Value) -> Result<u32, InvalidValue> {
    raw.as_u64()
        .filter(|t| *t <= u64::from(MAX_QUANTITY))
        .map(|t| t as u32)
        .ok_or(InvalidValue("must be a whole number from 0 to 1000000"))
}

/// One order line's claim on one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockLine {
    pub key: StockKey,
    pub quantity: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationStatus {
    Reserved,
    Released,
    Committed,
}

/// The stock one order holds, so that reserve, release and commit are idempotent by order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub order_id: Uuid,
    pub lines: Vec<StockLine>,
    pub status: ReservationStatus,
}

/// Merges lines for the same row and drops empty ones: one row is touched once per
/// reservation, in key order (a stable order also avoids lock-order surprises).
pub fn merge_lines(lines: &[StockLine]) -> Vec<StockLine> {
    let mut merged: BTreeMap<StockKey, u32> = BTreeMap::new();
    for line in lines.iter().filter(|l| l.quantity > 0) {
        let total = merged.entry(line.key).or_default();
        *total = total.saturating_add(line.quantity);
    }
    merged
        .into_iter()
        .map(|(key, quantity)| StockLine { key, quantity })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(n: u128) -> StockKey {
        StockKey {
            vendor_id: Uuid::from_u128(1),
            product_id: Uuid::from_u128(n),
            variant_id: Uuid::from_u128(9),
        }
    }

    #[test]
    fn operations_parse_with_their_bounds() {
        assert_eq!(
            StockOperation::parse(Some("ADD"), Some(&json!(5))),
            Ok(StockOperation::Add(5))
        );
        assert_eq!(
            StockOperation::parse(Some("SUBTRACT"), Some(&json!(2))),
            Ok(StockOperation::Subtract(2))
        );
        assert_eq!(
            StockOperation::parse(Some("SET"), Some(&json!(0))),
            Ok(StockOperation::Set(0))
        );
        for (op, quantity) in [
            ("ADD", json!(0)),
            ("ADD", json!(-1)),
            ("ADD", json!(1.5)),
            ("SET", json!(1_000_001)),
            ("MULTIPLY", json!(2)),
            ("ADD", json!("3")),
        ] {
            assert!(
                StockOperation::parse(Some(op), Some(&quantity)).is_err(),
                "{op} {quantity} accepted"
            );
        }
        let both = StockOperation::parse(None, None).unwrap_err();
        assert_eq!(both.fields().len(), 2, "both fields named");
    }

    #[test]
    fn lines_for_one_row_are_merged_and_empty_lines_dropped() {
        let merged = merge_lines(&[
            StockLine {
                key: key(2),
                quantity: 1,
            },
            StockLine {
                key: key(1),
                quantity: 3,
            },
            StockLine {
                key: key(2),
                quantity: 4,
            },
            StockLine {
                key: key(3),
                quantity: 0,
            },
        ]);
        assert_eq!(
            merged,
            [
                StockLine {
                    key: key(1),
                    quantity: 3
                },
                StockLine {
                    key: key(2),
                    quantity: 5
                }
            ]
        );
    }

    #[test]
    fn low_means_under_the_threshold() {
        let row = |stock| InventoryRow {
            vendor_id: Uuid::nil(),
            product_id: Uuid::nil(),
            variant_id: Uuid::nil(),
            stock,
            reserved: 0,
            low_stock_threshold: 5,
            updated_at: Utc::now(),
        };
        assert!(row(4).is_low());
        assert!(!row(5).is_low());
    }

    #[test]
    fn only_crossing_the_threshold_counts_as_going_low() {
        let row = |stock| InventoryRow {
            vendor_id: Uuid::from_u128(1),
            product_id: Uuid::from_u128(2),
            variant_id: Uuid::from_u128(3),
            stock,
            reserved: 0,
            low_stock_threshold: 10,
            updated_at: Utc::now(),
        };
        assert!(
            StockOperation::Subtract(3).went_low(&row(8), false),
            "11 → 8"
        );
        assert!(
            StockOperation::Subtract(2).went_low(&row(8), false),
            "10 → 8"
        );
        assert!(
            !StockOperation::Subtract(1).went_low(&row(8), false),
            "9 → 8: already low"
        );
        assert!(
            !StockOperation::Subtract(1).went_low(&row(10), false),
            "not low"
        );
        assert!(StockOperation::Set(2).went_low(&row(2), false));
        assert!(!StockOperation::Add(1).went_low(&row(2), false));
        assert!(
            StockOperation::Add(1).went_low(&row(2), true),
            "threshold raised above it"
        );
        assert_eq!(parse_threshold(&json!(5)), Ok(5));
        assert!(parse_threshold(&json!(-1)).is_err() && parse_threshold(&json!(1.5)).is_err());
    }
}

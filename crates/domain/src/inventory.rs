//! Stock per (vendor, product, variant): what can still be sold (`stock`) and what placed
//! orders hold (`reserved`). Reserving moves units from stock to reserved, releasing moves
//! them back, committing (delivery) removes them from reserved. Neither can go negative.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Effects;
use crate::audit::{AuditContext, AuditEntry};
use crate::error::FieldErrors;
use crate::values::InvalidValue;

/// The most units one operation or one order line may move.
pub const MAX_QUANTITY: u32 = 1_000_000;
/// The most sellable units one row may hold (SPEC §3): a change past it is refused.
pub const MAX_STOCK: u32 = 1_000_000_000;
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
    /// Guards each change with a compare-and-swap; not part of the API.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub version: u64,
}

impl InventoryRow {
    /// A row that does not exist yet: nothing in stock, the default threshold.
    pub fn empty(key: StockKey, now: DateTime<Utc>) -> Self {
        Self {
            vendor_id: key.vendor_id,
            product_id: key.product_id,
            variant_id: key.variant_id,
            stock: 0,
            reserved: 0,
            low_stock_threshold: DEFAULT_LOW_STOCK_THRESHOLD,
            updated_at: now,
            version: 0,
        }
    }

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
    /// Parses `{operation, quantity}`: each takes 0..=1,000,000 units (ADD or SUBTRACT of 0
    /// changes nothing, as the document allows).
    pub fn parse(
        operation: Option<&str>,
        quantity: Option<&serde_json::Value>,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let amount =
            quantity.and_then(|q| crate::values::whole_number(q, 0, u64::from(MAX_QUANTITY)));
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
            ("ADD", amount) => Ok(Self::Add(amount)),
            (_, amount) => Ok(Self::Subtract(amount)),
        }
    }
}

/// Why a stock change was refused; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockRefusal {
    /// SUBTRACT would take stock below zero.
    Insufficient,
    /// The change would take stock above [`MAX_STOCK`].
    AboveMaximum,
}

impl StockOperation {
    /// The row after this change (and a new threshold, if given), or why it is refused.
    /// `row` is the row as it is now, `None` if it does not exist yet.
    pub fn apply(
        self,
        key: StockKey,
        row: Option<&InventoryRow>,
        threshold: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<InventoryRow, StockRefusal> {
        if row.is_none() && matches!(self, StockOperation::Subtract(_)) {
            return Err(StockRefusal::Insufficient);
        }
        let mut after = row
            .cloned()
            .unwrap_or_else(|| InventoryRow::empty(key, now));
        after.stock = match self {
            StockOperation::Add(q) => after.stock.checked_add(q).filter(|s| *s <= MAX_STOCK),
            StockOperation::Set(q) => Some(q),
            StockOperation::Subtract(q) => Some(
                after
                    .stock
                    .checked_sub(q)
                    .ok_or(StockRefusal::Insufficient)?,
            ),
        }
        .ok_or(StockRefusal::AboveMaximum)?;
        if let Some(threshold) = threshold {
            after.low_stock_threshold = threshold;
        }
        after.updated_at = now;
        Ok(after)
    }

    pub fn name(self) -> &'static str {
        match self {
            StockOperation::Add(_) => "ADD",
            StockOperation::Subtract(_) => "SUBTRACT",
            StockOperation::Set(_) => "SET",
        }
    }

    pub fn quantity(self) -> u32 {
        match self {
            StockOperation::Add(q) | StockOperation::Subtract(q) | StockOperation::Set(q) => q,
        }
    }

    /// What the audit trail records of this change: the operation, the quantity, and the
    /// stock (and threshold, if it moved) before and after.
    pub fn audit_changes(
        self,
        before: Option<&InventoryRow>,
        after: &InventoryRow,
    ) -> serde_json::Value {
        let mut changes = serde_json::json!({
            "operation": self.name(),
            "quantity": self.quantity(),
            "stock": {"before": before.map_or(0, |b| b.stock), "after": after.stock},
        });
        let old_threshold = before.map(|b| b.low_stock_threshold);
        if old_threshold != Some(after.low_stock_threshold) {
            changes["lowStockThreshold"] =
                serde_json::json!({"before": old_threshold, "after": after.low_stock_threshold});
        }
        changes
    }
}

/// Whether a change took a row under its threshold: what deserves a LOW_STOCK event
/// (a row that was low already is not announced again).
pub fn went_low(before: Option<&InventoryRow>, after: &InventoryRow) -> bool {
    after.is_low() && before.is_none_or(|b| !b.is_low())
}

/// A low-stock threshold as a client sends it: a whole number of units.
pub fn parse_threshold(raw: &serde_json::Value) -> Result<u32, InvalidValue> {
    crate::values::whole_number(raw, 0, u64::from(MAX_QUANTITY))
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

/// One order's claim on one vendor's capacity for one delivery date: one of the vendor's
/// `dailyOrderLimit` orders that day (SPEC §5 step 3–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorDay {
    pub vendor_id: Uuid,
    pub date: NaiveDate,
    /// The vendor's `dailyOrderLimit` as the caller read it.
    pub daily_order_limit: u32,
}

/// The stock (and vendor capacity) one order holds, so that reserve, release and commit
/// are idempotent by order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub order_id: Uuid,
    pub lines: Vec<StockLine>,
    pub status: ReservationStatus,
    /// The vendor days it took one order of; a release gives them back, a commit keeps them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<VendorDay>,
}

/// What one settlement of a reservation did, for its audit entry: the reservation as
/// settled (its status after; it was RESERVED before), the lines whose units left for good
/// (delivered) and those that went back to stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockSettlement {
    pub reservation: Reservation,
    pub delivered: Vec<StockLine>,
    pub returned: Vec<StockLine>,
}

impl StockSettlement {
    /// `STOCK_COMMITTED` (some units left for good) or `STOCK_RELEASED` on the order's
    /// `RESERVATION`, by `actor`: the status before and after and each line as it went.
    pub fn audit_entry(&self, actor: &AuditContext) -> AuditEntry {
        let action = match self.reservation.status {
            ReservationStatus::Committed => "STOCK_COMMITTED",
            _ => "STOCK_RELEASED",
        };
        let changes = json!({
            "status": {"before": ReservationStatus::Reserved, "after": self.reservation.status},
            "delivered": self.delivered,
            "returned": self.returned,
        });
        actor
            .entry(action, "RESERVATION", self.reservation.order_id)
            .with_changes(changes)
    }

    /// The effects of a settlement made by `actor`: its audit entry.
    pub fn audited(
        actor: &AuditContext,
    ) -> impl Fn(&StockSettlement) -> Effects + Send + Sync + '_ {
        move |settlement| Effects::audited(settlement.audit_entry(actor))
    }
}

/// Why a reservation was refused; nothing was taken, so the caller may try another vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationRefusal {
    /// This row holds fewer units than the order's line (or does not exist): OUT_OF_STOCK.
    OutOfStock(StockKey),
    /// This vendor has taken its `dailyOrderLimit` orders for this date.
    VendorFull { vendor_id: Uuid, date: NaiveDate },
}

/// One claim per (vendor, date), in that order, keeping the smallest limit given for it:
/// one counter is touched once per reservation.
pub fn merge_days(days: &[VendorDay]) -> Vec<VendorDay> {
    let mut merged: BTreeMap<(Uuid, NaiveDate), u32> = BTreeMap::new();
    for day in days {
        merged
            .entry((day.vendor_id, day.date))
            .and_modify(|limit| *limit = (*limit).min(day.daily_order_limit))
            .or_insert(day.daily_order_limit);
    }
    merged
        .into_iter()
        .map(|((vendor_id, date), daily_order_limit)| VendorDay {
            vendor_id,
            date,
            daily_order_limit,
        })
        .collect()
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
        assert_eq!(
            StockOperation::parse(Some("ADD"), Some(&json!(0))),
            Ok(StockOperation::Add(0)),
            "a move of nothing is well-formed"
        );
        assert_eq!(
            StockOperation::parse(Some("SUBTRACT"), Some(&json!(3.0))),
            Ok(StockOperation::Subtract(3))
        );
        for (op, quantity) in [
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
    fn claims_on_one_vendor_day_are_merged_keeping_the_smallest_limit() {
        let day = |vendor: u128, d: u32, limit| VendorDay {
            vendor_id: Uuid::from_u128(vendor),
            date: NaiveDate::from_ymd_opt(2026, 12, d).unwrap(),
            daily_order_limit: limit,
        };
        assert_eq!(
            merge_days(&[day(2, 1, 5), day(1, 2, 9), day(2, 1, 3), day(1, 1, 4)]),
            [day(1, 1, 4), day(1, 2, 9), day(2, 1, 3)]
        );
    }

    #[test]
    fn a_reservation_without_capacity_reads_and_writes_as_before() {
        let reservation: Reservation = serde_json::from_value(json!({
            "orderId": Uuid::nil(), "lines": [], "status": "RESERVED"
        }))
        .unwrap();
        assert!(reservation.capacity.is_empty());
        let written = serde_json::to_value(&reservation).unwrap();
        assert!(written.get("capacity").is_none());
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
            version: 0,
        };
        assert!(row(4).is_low());
        assert!(!row(5).is_low());
    }

    #[test]
    fn only_crossing_the_threshold_counts_as_going_low() {
        let row = |stock| InventoryRow {
            stock,
            low_stock_threshold: 10,
            ..InventoryRow::empty(key(1), Utc::now())
        };
        assert!(went_low(Some(&row(11)), &row(8)), "11 → 8");
        assert!(went_low(Some(&row(10)), &row(9)), "10 → 9");
        assert!(!went_low(Some(&row(9)), &row(8)), "9 → 8: already low");
        assert!(!went_low(Some(&row(12)), &row(10)), "not low");
        assert!(went_low(None, &row(2)), "a new row under its threshold");
        assert_eq!(parse_threshold(&json!(5)), Ok(5));
        assert!(parse_threshold(&json!(-1)).is_err() && parse_threshold(&json!(1.5)).is_err());
    }

    #[test]
    fn operations_apply_within_zero_and_the_maximum() {
        let now = Utc::now();
        let k = key(1);
        let at = |stock| InventoryRow {
            stock,
            ..InventoryRow::empty(k, now)
        };
        assert_eq!(
            StockOperation::Add(5)
                .apply(k, None, None, now)
                .unwrap()
                .stock,
            5
        );
        assert_eq!(
            StockOperation::Subtract(1).apply(k, None, None, now),
            Err(StockRefusal::Insufficient),
            "nothing to subtract from"
        );
        assert_eq!(
            StockOperation::Subtract(4).apply(k, Some(&at(3)), None, now),
            Err(StockRefusal::Insufficient)
        );
        assert_eq!(
            StockOperation::Subtract(3)
                .apply(k, Some(&at(3)), Some(2), now)
                .unwrap()
                .low_stock_threshold,
            2
        );
        assert_eq!(
            StockOperation::Add(1).apply(k, Some(&at(MAX_STOCK)), None, now),
            Err(StockRefusal::AboveMaximum)
        );
        assert_eq!(
            StockOperation::Add(MAX_QUANTITY).apply(k, Some(&at(u32::MAX - 5)), None, now),
            Err(StockRefusal::AboveMaximum),
            "no overflow"
        );
        assert_eq!(
            StockOperation::Set(0)
                .apply(k, Some(&at(9)), None, now)
                .unwrap()
                .stock,
            0
        );
        let changes = StockOperation::Add(2).audit_changes(Some(&at(3)), &at(5));
        assert_eq!(changes["stock"], json!({"before": 3, "after": 5}));
        assert_eq!(
            (changes["operation"].as_str(), changes["quantity"].as_u64()),
            (Some("ADD"), Some(2))
        );
    }
}

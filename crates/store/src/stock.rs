//! Stock over the item store. Rows are `STOCK#<vendorId>` / `<productId>#<variantId>`;
//! reservations are `RESERVATION#<orderId>` / `RESERVATION`. A vendor's change to a row is a
//! compare-and-swap on the row's version (so its audit entry knows the stock before and
//! after); an order's reservation is one transaction of conditional moves (`stock >= q`
//! guards each take, the reservation's status guards each settlement), so no interleaving
//! can oversell, double-reserve or double-release. Every move bumps the row's version, so a
//! vendor's change never overwrites one.
//!
//! A vendor's orders per delivery date are counters `CAPACITY#<vendorId>` / `<YYYY-MM-DD>`
//! (`orders`, the first `limit` seen, `expiresAt`). A reservation takes one order of each
//! vendor day it names in its own transaction (`orders` absent or `<= limit - 1`), so two
//! checkouts can never overfill a vendor's day; a release gives it back, a commit keeps it.
//! The INVENTORY table has no TTL attribute, so `expiresAt` is not enforced: the counters
//! (one small item per vendor and day) are kept, ready for a TTL if one is ever enabled.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate, Utc};
use milkrun_domain::inventory::{
    InventoryRow, Reservation, ReservationRefusal, ReservationStatus, StockKey, StockLine,
    StockOperation, StockRefusal, StockSettlement, VendorDay, merge_days, merge_lines,
};
use milkrun_domain::ports::{
    SettlementEffects, StockAdjustments, StockEffects, StockLevels, StockReservations,
};
use milkrun_domain::{DomainError, Effects, StoreError};
use uuid::Uuid;

use crate::effects::{Refused, commit};
use crate::item::{Item, Value, attribute, decode, encode, n, number, s, text};
use crate::ops::{Condition, Key, Query, Update, VERSION_ATTRIBUTE, Write};
use crate::paging::query_all;
use crate::port::ItemStore;
use crate::retry::retry_on_conflict;
use crate::table::INVENTORY;
use crate::versioned::{commit_versioned, versioned_put};

const ROW_PREFIX: &str = "STOCK#";
const CAPACITY_PREFIX: &str = "CAPACITY#";
/// The counter of orders a vendor day has taken.
const ORDERS: &str = "orders";
/// How long after its date a vendor day's counter may expire (were the table to have a TTL).
const CAPACITY_RETENTION_DAYS: i64 = 35;
/// Settlements that lose to a concurrent one re-read the reservation this often.
const MAX_SETTLE_ATTEMPTS: usize = 8;
/// A settled line's move: undelivered units go back to stock, delivered ones leave for good.
const BACK_TO_STOCK: &[(&str, i64)] = &[("stock", 1), ("reserved", -1)];
const OUT_FOR_GOOD: &[(&str, i64)] = &[("reserved", -1)];

pub struct Stock {
    store: Arc<dyn ItemStore>,
}

fn row_key(key: &StockKey) -> Key {
    Key::with_sort(
        format!("{ROW_PREFIX}{}", key.vendor_id),
        format!("{}#{}", key.product_id, key.variant_id),
    )
}

fn capacity_key(vendor_id: Uuid, date: NaiveDate) -> Key {
    Key::with_sort(
        format!("{CAPACITY_PREFIX}{vendor_id}"),
        date.format("%Y-%m-%d").to_string(),
    )
}

/// Takes one order of a vendor day, if it has taken fewer than its limit (no read first).
fn take_day(day: &VendorDay) -> Write {
    let limit = i64::from(day.daily_order_limit);
    let expires = day.date.and_time(chrono::NaiveTime::MIN).and_utc()
        + Duration::days(CAPACITY_RETENTION_DAYS);
    let room = Condition::Any(vec![
        Condition::AttributeNotExists(ORDERS.into()),
        Condition::at_most(ORDERS, n(limit - 1)),
    ]);
    let updates = vec![
        Update::add(ORDERS, 1),
        Update::SetIfAbsent("limit".into(), n(limit)),
        Update::SetIfAbsent("expiresAt".into(), n(expires.timestamp())),
        Update::set("updatedAt", s(Utc::now().to_rfc3339())),
    ];
    Write::update(
        &INVENTORY,
        capacity_key(day.vendor_id, day.date),
        updates,
        Some(room),
    )
}

/// Gives one order of a vendor day back (it was taken, so the counter holds at least one).
fn give_back_day(day: &VendorDay) -> Write {
    let updates = vec![
        Update::add(ORDERS, -1),
        Update::set("updatedAt", s(Utc::now().to_rfc3339())),
    ];
    let taken = Condition::All(vec![Condition::Exists, Condition::at_least(ORDERS, n(1))]);
    Write::update(
        &INVENTORY,
        capacity_key(day.vendor_id, day.date),
        updates,
        Some(taken),
    )
}

fn reservation_key(order_id: Uuid) -> Key {
    Key::with_sort(format!("RESERVATION#{order_id}"), "RESERVATION")
}

fn row_item(row: &InventoryRow) -> Result<Item, StoreError> {
    let mut item = encode(row)?;
    row_key(&row.key()).add_to(&INVENTORY, &mut item);
    Ok(item)
}

/// A reservation's status as stored (its serde name), for conditions on it.
fn status(status: ReservationStatus) -> Value {
    attribute(&status).expect("a status serializes")
}

pub fn reservation_item(reservation: &Reservation) -> Result<Item, StoreError> {
    let mut item = encode(reservation)?;
    reservation_key(reservation.order_id).add_to(&INVENTORY, &mut item);
    item.insert("updatedAt".into(), s(Utc::now().to_rfc3339()));
    Ok(item)
}

/// Moves `quantity` units on one row by `deltas` (attribute, sign), if `guard` holds.
fn line_move(line: &StockLine, deltas: &[(&str, i64)], guard: Condition) -> Write {
    let quantity = i64::from(line.quantity);
    let mut updates: Vec<Update> = deltas
        .iter()
        .map(|(attribute, sign)| Update::add(attribute, sign * quantity))
        .collect();
    updates.push(Update::add(VERSION_ATTRIBUTE, 1));
    updates.push(Update::set("updatedAt", s(Utc::now().to_rfc3339())));
    let condition = Condition::All(vec![Condition::Exists, guard]);
    Write::update(&INVENTORY, row_key(&line.key), updates, Some(condition))
}

impl Stock {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        let item = self
            .store
            .get(&INVENTORY, &reservation_key(order_id), true)
            .await?;
        item.map(decode).transpose()
    }

    /// Moves a RESERVED reservation to `to` (`None`: COMMITTED if a line was delivered,
    /// else RELEASED), exactly once, with the effects `effects` names for what it did (its
    /// audit entry) in the same transaction: the lines of the vendors `delivered` says
    /// delivered leave reserved for good; every other line goes back to stock, and its
    /// vendor's day is given back. The writes are at most the reservation's own (its item,
    /// lines, days) plus the effects: a reservation must leave room for them in DynamoDB's
    /// 100-write transaction.
    async fn settle(
        &self,
        order_id: Uuid,
        to: Option<ReservationStatus>,
        delivered: &(dyn Fn(Uuid) -> bool + Sync),
        effects: &SettlementEffects<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        for _ in 0..MAX_SETTLE_ATTEMPTS {
            let Some(reservation) = self.reservation(order_id).await? else {
                return Ok(None);
            };
            if reservation.status != ReservationStatus::Reserved {
                return Ok(Some(reservation));
            }
            let settlement = settlement(reservation, to, delivered);
            let writes = settlement_writes(&settlement, delivered);
            match commit(self.store.as_ref(), writes, &effects(&settlement)).await? {
                Ok(()) => return Ok(Some(settlement.reservation)),
                Err(Refused::Effect) => return Err(StoreError::AlreadyExists),
                // Settled concurrently: read again and decide again.
                Err(Refused::Change(_)) => continue,
            }
        }
        Err(StoreError::VersionConflict)
    }
}

/// What settling a RESERVED `reservation` does: its status after (`to`, else COMMITTED if a
/// line was delivered, else RELEASED), and which lines leave for good or go back.
fn settlement(
    mut reservation: Reservation,
    to: Option<ReservationStatus>,
    delivered: &(dyn Fn(Uuid) -> bool + Sync),
) -> StockSettlement {
    let (delivered_lines, returned): (Vec<StockLine>, Vec<StockLine>) = reservation
        .lines
        .iter()
        .partition(|line| delivered(line.key.vendor_id));
    reservation.status = to.unwrap_or(if delivered_lines.is_empty() {
        ReservationStatus::Released
    } else {
        ReservationStatus::Committed
    });
    StockSettlement {
        reservation,
        delivered: delivered_lines,
        returned,
    }
}

/// The settlement's writes: the status (guarded on RESERVED), each line's move (back to
/// stock or out for good) and the days of the vendors that did not deliver, given back.
fn settlement_writes(
    settlement: &StockSettlement,
    delivered: &(dyn Fn(Uuid) -> bool + Sync),
) -> Vec<Write> {
    let reservation = &settlement.reservation;
    let status = Write::update(
        &INVENTORY,
        reservation_key(reservation.order_id),
        vec![
            Update::set("status", status(reservation.status)),
            Update::set("updatedAt", s(Utc::now().to_rfc3339())),
        ],
        Some(Condition::equals(
            "status",
            status(ReservationStatus::Reserved),
        )),
    );
    let mut writes = vec![status];
    let moves = [
        (&settlement.delivered, OUT_FOR_GOOD),
        (&settlement.returned, BACK_TO_STOCK),
    ];
    for (lines, deltas) in moves {
        for line in lines {
            let guard = Condition::at_least("reserved", n(line.quantity));
            writes.push(line_move(line, deltas, guard));
        }
    }
    let days = reservation.capacity.iter();
    writes.extend(days.filter(|d| !delivered(d.vendor_id)).map(give_back_day));
    writes
}

#[async_trait]
impl StockLevels for Stock {
    async fn get(&self, key: &StockKey) -> Result<Option<InventoryRow>, StoreError> {
        let item = self.store.get(&INVENTORY, &row_key(key), true).await?;
        item.map(decode).transpose()
    }

    async fn for_vendor(&self, vendor_id: Uuid) -> Result<Vec<InventoryRow>, StoreError> {
        let query = Query::table(&INVENTORY, format!("{ROW_PREFIX}{vendor_id}"));
        let items = query_all(self.store.as_ref(), query).await?;
        items.into_iter().map(decode).collect()
    }

    async fn get_many(&self, keys: &[StockKey]) -> Result<Vec<InventoryRow>, StoreError> {
        let keys: Vec<Key> = keys.iter().map(row_key).collect();
        let items = self.store.batch_get(&INVENTORY, &keys).await?;
        items.into_iter().map(decode).collect()
    }

    async fn below_threshold(&self) -> Result<Vec<InventoryRow>, StoreError> {
        // A daily sweep: reading every row is the honest cost of "every row".
        let mut low = Vec::new();
        let mut start = None;
        loop {
            let page = self.store.scan(&INVENTORY, 500, start).await?;
            for item in page.items {
                if text(&item, "pk").is_some_and(|pk| pk.starts_with(ROW_PREFIX)) {
                    let row: InventoryRow = decode(item)?;
                    if row.is_low() {
                        low.push(row);
                    }
                }
            }
            match page.last_key {
                Some(last) => start = Some(last),
                None => return Ok(low),
            }
        }
    }
}

impl Stock {
    /// Writes `after` over the row as `before` was read (`None`: over no row), with effects;
    /// `VersionConflict` if it changed since. (Importing a row; vendors' changes `adjust`.)
    pub async fn save(
        &self,
        before: Option<&InventoryRow>,
        after: &InventoryRow,
        effects: &Effects,
    ) -> Result<InventoryRow, StoreError> {
        let read_at = before.map(|row| row.version);
        let key = row_key(&after.key());
        let write = versioned_put(&INVENTORY, row_item(after)?, read_at);
        match commit_versioned(self.store.as_ref(), vec![write], effects, &key, read_at).await {
            // A row created concurrently is a lost race like any other.
            Err(StoreError::AlreadyExists) if read_at.is_none() => Err(StoreError::VersionConflict),
            Err(other) => Err(other),
            Ok(()) => Ok(InventoryRow {
                version: read_at.map_or(0, |v| v + 1),
                ..after.clone()
            }),
        }
    }
}

#[async_trait]
impl StockAdjustments for Stock {
    async fn adjust(
        &self,
        key: &StockKey,
        operation: StockOperation,
        threshold: Option<u32>,
        effects: &StockEffects<'_>,
    ) -> Result<InventoryRow, StoreError> {
        let attempt = || async {
            let before = StockLevels::get(self, key).await?;
            let after = operation
                .apply(*key, before.as_ref(), threshold, Utc::now())
                .map_err(|refusal| match refusal {
                    StockRefusal::Insufficient => StoreError::InsufficientStock,
                    StockRefusal::AboveMaximum => StoreError::StockLimit,
                })?;
            let effects = effects(before.as_ref(), &after);
            Ok(self.save(before.as_ref(), &after, &effects).await?)
        };
        retry_on_conflict("stock row", attempt)
            .await
            .map_err(|error| match error {
                DomainError::Store(store) => store,
                // Every retry lost its race: the caller hears it as one more lost race.
                _ => StoreError::VersionConflict,
            })
    }
}

#[async_trait]
impl StockReservations for Stock {
    async fn reserve_for_date(
        &self,
        order_id: Uuid,
        lines: &[StockLine],
        capacity: &[VendorDay],
        effects: &Effects,
    ) -> Result<Result<Reservation, ReservationRefusal>, StoreError> {
        let reservation = Reservation {
            order_id,
            lines: merge_lines(lines),
            status: ReservationStatus::Reserved,
            capacity: merge_days(capacity),
        };
        if let Some(day) = reservation
            .capacity
            .iter()
            .find(|d| d.daily_order_limit == 0)
        {
            return Ok(Err(ReservationRefusal::VendorFull {
                vendor_id: day.vendor_id,
                date: day.date,
            }));
        }
        let fresh = Condition::Any(vec![
            Condition::NotExists,
            Condition::equals("status", status(ReservationStatus::Released)),
        ]);
        let mut writes = vec![Write::put(
            &INVENTORY,
            reservation_item(&reservation)?,
            Some(fresh),
        )];
        for line in &reservation.lines {
            let guard = Condition::at_least("stock", n(line.quantity));
            writes.push(line_move(line, &[("stock", -1), ("reserved", 1)], guard));
        }
        writes.extend(reservation.capacity.iter().map(take_day));
        let lines = reservation.lines.len();
        match commit(self.store.as_ref(), writes, effects).await? {
            Ok(()) => Ok(Ok(reservation)),
            Err(Refused::Effect) => Err(StoreError::AlreadyExists),
            // This order already holds stock: the same answer as the first time.
            Err(Refused::Change(0)) => match self.reservation(order_id).await? {
                Some(existing) if existing.status != ReservationStatus::Released => {
                    Ok(Ok(existing))
                }
                _ => Err(StoreError::VersionConflict),
            },
            // Writes 1..=lines are the lines, then the vendor days, in order.
            Err(Refused::Change(index)) if index <= lines => Ok(Err(
                ReservationRefusal::OutOfStock(reservation.lines[index - 1].key),
            )),
            Err(Refused::Change(index)) => {
                let day = reservation.capacity[index - 1 - lines];
                Ok(Err(ReservationRefusal::VendorFull {
                    vendor_id: day.vendor_id,
                    date: day.date,
                }))
            }
        }
    }

    async fn orders_taken(&self, vendor_id: Uuid, date: NaiveDate) -> Result<u32, StoreError> {
        let key = capacity_key(vendor_id, date);
        let item = self.store.get(&INVENTORY, &key, true).await?;
        let orders = item.as_ref().and_then(|i| i.get(ORDERS)).and_then(number);
        Ok(orders.map_or(0, |o| u32::try_from(o).unwrap_or(0)))
    }

    async fn release(
        &self,
        order_id: Uuid,
        effects: &SettlementEffects<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        let to = Some(ReservationStatus::Released);
        self.settle(order_id, to, &|_| false, effects).await
    }

    async fn commit(
        &self,
        order_id: Uuid,
        effects: &SettlementEffects<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        let to = Some(ReservationStatus::Committed);
        self.settle(order_id, to, &|_| true, effects).await
    }

    async fn release_undelivered(
        &self,
        order_id: Uuid,
        delivered_by: &[Uuid],
        effects: &SettlementEffects<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        let delivered = |vendor_id| delivered_by.contains(&vendor_id);
        self.settle(order_id, None, &delivered, effects).await
    }
}

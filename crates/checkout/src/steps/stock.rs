//! Step 4, ReserveStock (all or nothing, reassigning a refused item to another vendor a few
//! times, or settling a shortage as a partial order), its compensation ReleaseStock, and
//! the re-hold a started-again run makes of stock a compensation gave back.

use chrono::{NaiveDate, Utc};
use milkrun_domain::checkout;
use milkrun_domain::error::TaskError;
use milkrun_domain::inventory::{Reservation, ReservationRefusal, StockSettlement, VendorDay};
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::vendor::Vendor;
use milkrun_domain::{DomainError, Effects, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{BY, CheckoutTasks, LineVendor, Step, answer, out_of_place, refused};
use crate::records::checkout_actor;

/// Reassignments ReserveStock tries after lost races before it settles for the refusal.
const MAX_REASSIGNMENTS: u32 = 3;

impl CheckoutTasks {
    /// Reserves every fulfilled item's units and one order of each vendor's day, all or
    /// nothing (idempotent by order in the store). A short item: with `allowPartial` it
    /// becomes `fulfilled: false`, the totals are recomputed and the rest is reserved;
    /// without, `OutOfStock` and nothing is taken. A full vendor day: `NoVendorAvailable`.
    /// Then PENDING → PAYMENT_PENDING.
    pub(super) async fn reserve_stock(
        &self,
        order_id: Uuid,
        handed: &[LineVendor],
    ) -> Result<Value, TaskError> {
        let mut order = self.load(order_id).await?;
        match order.status {
            OrderStatus::Pending | OrderStatus::PaymentFailed => {}
            OrderStatus::Failed | OrderStatus::Cancelled | OrderStatus::Refunded => {
                return Err(out_of_place(Step::ReserveStock, order.status));
            }
            OrderStatus::PaymentPending => {
                self.hold_stock(&order).await?;
                return Ok(answer(&order));
            }
            _ => return Ok(answer(&order)),
        }
        self.assign_open_lines(&mut order, handed).await?;
        if order.stock_lines().is_empty() {
            return Err(refused(
                ErrorCode::NoVendorAvailable,
                "No item of the order has a vendor assigned.".into(),
            )
            .into());
        }
        let mut vendors = self
            .ports
            .vendors
            .get_many(&order.vendor_ids())
            .await
            .map_err(DomainError::from)?;
        let mut working = order.clone();
        let mut short: Vec<(Uuid, Uuid)> = Vec::new();
        let (mut excluded, mut reassignments) = (Vec::new(), 0);
        loop {
            let capacity = vendor_days(&working, &vendors);
            let refusal = self
                .ports
                .stock
                .reserve_for_date(
                    order_id,
                    &working.stock_lines(),
                    &capacity,
                    &Effects::none(),
                )
                .await
                .map_err(DomainError::from)?;
            // Another checkout may have taken the vendor's last units or last place of the
            // day since vendors were assigned: try the next best vendor first, a few times.
            let refused_by = match &refusal {
                Ok(_) => None,
                Err(ReservationRefusal::OutOfStock(key)) => Some((key.vendor_id, Some(*key))),
                Err(ReservationRefusal::VendorFull { vendor_id, .. }) => Some((*vendor_id, None)),
            };
            if let Some((vendor_id, key)) = refused_by
                && reassignments < MAX_REASSIGNMENTS
            {
                let items: Vec<usize> = (0..working.items.len())
                    .filter(|&i| {
                        let item = &working.items[i];
                        item.fulfilled
                            && item.vendor_id == Some(vendor_id)
                            && key.is_none_or(|k| item.is_line(k.product_id, k.variant_id))
                    })
                    .collect();
                excluded.extend(items.iter().map(|&i| (i, vendor_id)));
                reassignments += 1;
                if self.reassign(&mut working, &items, &excluded).await? {
                    vendors = self
                        .ports
                        .vendors
                        .get_many(&working.vendor_ids())
                        .await
                        .map_err(DomainError::from)?;
                    continue;
                }
                working = with_vendors_of(&order, &working, &items);
            }
            match refusal {
                Ok(held) => {
                    short.extend(name_holders(&mut working, &held));
                    break;
                }
                Err(ReservationRefusal::OutOfStock(key)) => {
                    let line = (key.product_id, key.variant_id);
                    let before = working.stock_lines();
                    checkout::settle_shortage(&mut working, &[line], order.allow_partial)?;
                    if working.stock_lines() == before {
                        return Err(refused(
                            ErrorCode::OutOfStock,
                            "Not enough stock for the order.".into(),
                        )
                        .into());
                    }
                    short.push(line);
                }
                Err(ReservationRefusal::VendorFull { vendor_id, date }) => {
                    return Err(vendor_full(vendor_id, date));
                }
            }
        }
        let now = Utc::now();
        let order = self
            .change(order_id, &|order| {
                if !matches!(
                    order.status,
                    OrderStatus::Pending | OrderStatus::PaymentFailed
                ) {
                    return Ok(false);
                }
                for (item, reserved) in order.items.iter_mut().zip(&working.items) {
                    item.vendor_id = reserved.vendor_id;
                }
                if !short.is_empty() {
                    checkout::settle_shortage(order, &short, true)?;
                }
                let reason = (!short.is_empty()).then(|| "PARTIAL_FULFILLMENT".to_owned());
                order.move_to(OrderStatus::PaymentPending, BY, reason, now)?;
                Ok(true)
            })
            .await?;
        Ok(answer(&order))
    }

    /// Holds the order's stock and vendor days as assigned: nothing more while it holds
    /// them, reserved again if a compensation gave them back and died before marking the
    /// order (a checkout started again must not go ahead on stock it no longer holds). Only
    /// on the entries a started-again run takes (ReserveStock and ConfirmOrder meeting an
    /// order already past them), not on a first run's way through.
    pub(super) async fn hold_stock(&self, order: &Order) -> Result<(), TaskError> {
        let vendors = self
            .ports
            .vendors
            .get_many(&order.vendor_ids())
            .await
            .map_err(DomainError::from)?;
        let capacity = vendor_days(order, &vendors);
        let held = self
            .ports
            .stock
            .reserve_for_date(
                order.order_id,
                &order.stock_lines(),
                &capacity,
                &Effects::none(),
            )
            .await
            .map_err(DomainError::from)?;
        match held {
            Ok(_) => Ok(()),
            Err(ReservationRefusal::OutOfStock(_)) => Err(refused(
                ErrorCode::OutOfStock,
                "Not enough stock for the order any more.".into(),
            )
            .into()),
            Err(ReservationRefusal::VendorFull { vendor_id, date }) => {
                Err(vendor_full(vendor_id, date))
            }
        }
    }

    /// Gives back the order's reserved stock and vendor day, once; a no-op when nothing
    /// is reserved.
    pub(super) async fn release_stock(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let released = self
            .ports
            .stock
            .release(
                order_id,
                &StockSettlement::audited(&checkout_actor(order_id)),
            )
            .await
            .map_err(DomainError::from)?;
        Ok(json!({ "orderId": order_id, "released": released.is_some() }))
    }
}

/// `working` with `items` given back the vendors they had in `order`: a reassignment that
/// found no other vendor leaves the refusal to speak for the original one.
fn with_vendors_of(order: &Order, working: &Order, items: &[usize]) -> Order {
    let mut restored = working.clone();
    for &index in items {
        restored.items[index].vendor_id = order.items[index].vendor_id;
    }
    restored
}

/// A reservation refused because `vendor_id` has taken its last order for `date`.
fn vendor_full(vendor_id: Uuid, date: NaiveDate) -> TaskError {
    refused(
        ErrorCode::NoVendorAvailable,
        format!("Vendor {vendor_id} takes no more orders for {date}."),
    )
    .into()
}

/// One order of each assigned vendor's day, for the reservation's capacity.
fn vendor_days(order: &Order, vendors: &[Vendor]) -> Vec<VendorDay> {
    let assigned = order.vendor_ids();
    vendors
        .iter()
        .filter(|v| assigned.contains(&v.vendor_id))
        .map(|v| VendorDay {
            vendor_id: v.vendor_id,
            date: order.delivery_date,
            daily_order_limit: v.capacity.daily_order_limit,
        })
        .collect()
}

/// Gives `working`'s lines the vendors `held` reserved them from, and answers the lines it
/// holds nothing of. A reservation this order made in an earlier run (one that died before
/// writing the order) answers in place of a new one, and may name other vendors than this
/// run chose, or leave out a line it settled short: the order must name what holds its stock.
fn name_holders(working: &mut Order, held: &Reservation) -> Vec<(Uuid, Uuid)> {
    let mut unheld = Vec::new();
    for item in working.items.iter_mut() {
        if !item.fulfilled || item.vendor_id.is_none() {
            continue;
        }
        let line = held
            .lines
            .iter()
            .find(|line| item.is_line(line.key.product_id, line.key.variant_id));
        match line {
            Some(line) => item.vendor_id = Some(line.key.vendor_id),
            None => unheld.push((item.product_id, item.variant_id)),
        }
    }
    unheld
}

//! Step 3, AssignVendors, and the vendor candidates ReserveStock reassigns refused items
//! among: who serves the pincode, sells the product, has the stock and a free place that
//! day (ranked by the domain's rules).

use std::collections::HashMap;

use milkrun_domain::DomainError;
use milkrun_domain::checkout::{self, VendorCandidate, rank_vendors};
use milkrun_domain::error::TaskError;
use milkrun_domain::inventory::StockKey;
use milkrun_domain::order::{Order, OrderStatus};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{CheckoutTasks, LineVendor, answer, product_ids};

impl CheckoutTasks {
    /// For each item without a vendor, the best vendor serving the pincode that sells the
    /// product, has a free place that day and the stock (higher rating, then lower load).
    /// When no such vendor has the stock, the best one without it is assigned, so that
    /// ReserveStock settles the shortage (OUT_OF_STOCK, or a partial order); when none could
    /// deliver at all, `NoVendorAvailable`. Writes nothing: the choices are answered as
    /// `vendors`, which the run hands to ReserveStock, and its write of the order keeps
    /// them with the reservation.
    pub(super) async fn assign_vendors(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        let vendors = match order.status {
            OrderStatus::Pending => self.choose_vendors(&order).await?,
            _ => Vec::new(),
        };
        let mut answered = answer(&order);
        answered["vendors"] = json!(vendors);
        Ok(answered)
    }

    /// Gives each open line (fulfilled, no vendor yet) the vendor `handed` names for it, and
    /// any left open (a step run without AssignVendors' answer) the one chosen now.
    pub(super) async fn assign_open_lines(
        &self,
        order: &mut Order,
        handed: &[LineVendor],
    ) -> Result<(), TaskError> {
        assign(order, handed);
        let chosen_now = self.choose_vendors(order).await?;
        assign(order, &chosen_now);
        Ok(())
    }

    /// The vendor of each open line, by the rules [`Self::assign_vendors`] gives; nothing
    /// when no line is open.
    async fn choose_vendors(&self, order: &Order) -> Result<Vec<LineVendor>, TaskError> {
        let open: Vec<usize> = (0..order.items.len())
            .filter(|&i| order.items[i].fulfilled && order.items[i].vendor_id.is_none())
            .collect();
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let candidates = self.candidates(order, &open).await?;
        let mut choices = Vec::with_capacity(open.len());
        for (&line, candidates) in open.iter().zip(candidates) {
            let item = &order.items[line];
            let vendor_id = match checkout::pick_vendor(item, &candidates) {
                Ok(vendor_id) => vendor_id,
                Err(none) => {
                    let stock_blind: Vec<VendorCandidate> = candidates
                        .into_iter()
                        .map(|c| VendorCandidate {
                            stock: u32::MAX,
                            ..c
                        })
                        .collect();
                    *rank_vendors(&stock_blind, item.quantity)
                        .first()
                        .ok_or(none)?
                }
            };
            choices.push(LineVendor { line, vendor_id });
        }
        Ok(choices)
    }

    /// For each of `items` (indexes into the order's items), every vendor serving the
    /// order's pincode as a candidate, with its stock of the item and its load that day as
    /// read now.
    async fn candidates(
        &self,
        order: &Order,
        items: &[usize],
    ) -> Result<Vec<Vec<VendorCandidate>>, TaskError> {
        let pincode = &order.delivery_address.pincode;
        let vendors = self
            .ports
            .vendors
            .serving(pincode)
            .await
            .map_err(DomainError::from)?;
        let catalog = self
            .ports
            .products
            .get_many(&product_ids(order))
            .await
            .map_err(DomainError::from)?;
        let key = |vendor_id: Uuid, index: usize| StockKey {
            vendor_id,
            product_id: order.items[index].product_id,
            variant_id: order.items[index].variant_id,
        };
        let keys: Vec<StockKey> = vendors
            .iter()
            .flat_map(|vendor| items.iter().map(|&i| key(vendor.vendor_id, i)))
            .collect();
        let stock: HashMap<StockKey, u32> = match keys.is_empty() {
            true => HashMap::new(),
            false => self
                .ports
                .stock
                .get_many(&keys)
                .await
                .map_err(DomainError::from)?
                .into_iter()
                .map(|row| (row.key(), row.stock))
                .collect(),
        };
        let mut taken = HashMap::new();
        for vendor in &vendors {
            let orders = self
                .ports
                .stock
                .orders_taken(vendor.vendor_id, order.delivery_date)
                .await
                .map_err(DomainError::from)?;
            taken.insert(vendor.vendor_id, orders);
        }
        let mut all = Vec::with_capacity(items.len());
        for &index in items {
            let item = &order.items[index];
            let product = catalog
                .iter()
                .find(|p| p.product_id == item.product_id)
                .ok_or(DomainError::NotFound("product"))?;
            let candidates = vendors
                .iter()
                .map(|vendor| {
                    let units = stock
                        .get(&key(vendor.vendor_id, index))
                        .copied()
                        .unwrap_or(0);
                    let load = taken.get(&vendor.vendor_id).copied().unwrap_or(0);
                    VendorCandidate::new(vendor, product, pincode, units, load)
                })
                .collect();
            all.push(candidates);
        }
        Ok(all)
    }

    /// After a reservation was refused by `vendor_id` (its day full, or out of the item),
    /// moves the refused items to the best other vendor that has the stock and room now,
    /// never back to one refused before. Answers whether every refused item found one
    /// (the reservation is then tried again).
    pub(super) async fn reassign(
        &self,
        working: &mut Order,
        refused: &[usize],
        excluded: &[(usize, Uuid)],
    ) -> Result<bool, TaskError> {
        let candidates = self.candidates(working, refused).await?;
        for (&index, candidates) in refused.iter().zip(candidates) {
            let open: Vec<VendorCandidate> = candidates
                .into_iter()
                .filter(|c| !excluded.contains(&(index, c.vendor_id)))
                .collect();
            match checkout::pick_vendor(&working.items[index], &open) {
                Ok(vendor_id) => working.items[index].vendor_id = Some(vendor_id),
                Err(_) => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// Each of `choices` on its line, where that line is still open.
fn assign(order: &mut Order, choices: &[LineVendor]) {
    for choice in choices {
        if let Some(item) = order.items.get_mut(choice.line)
            && item.fulfilled
            && item.vendor_id.is_none()
        {
            item.vendor_id = Some(choice.vendor_id);
        }
    }
}

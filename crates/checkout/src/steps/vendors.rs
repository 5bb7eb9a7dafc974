//! Step 3, AssignVendors, and the vendor candidates ReserveStock reassigns refused items
//! among: who serves the pincode, sells the product, has the stock and a free place that
//! day (ranked by the domain's rules).

use std::collections::HashMap;

use milkrun_domain::DomainError;
use milkrun_domain::checkout::{self, VendorCandidate, rank_vendors};
use milkrun_domain::error::TaskError;
use milkrun_domain::inventory::StockKey;
use milkrun_domain::order::{Order, OrderStatus};
use serde_json::Value;
use uuid::Uuid;

use super::{CheckoutTasks, answer, product_ids};

impl CheckoutTasks {
    /// For each item without a vendor, the best vendor serving the pincode that sells the
    /// product, has a free place that day and the stock (higher rating, then lower load).
    /// When no such vendor has the stock, the best one without it is assigned, so that
    /// ReserveStock settles the shortage (OUT_OF_STOCK, or a partial order); when none could
    /// deliver at all, `NoVendorAvailable`.
    pub(super) async fn assign_vendors(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        if order.status != OrderStatus::Pending {
            return Ok(answer(&order));
        }
        let open: Vec<usize> = (0..order.items.len())
            .filter(|&i| order.items[i].fulfilled && order.items[i].vendor_id.is_none())
            .collect();
        if open.is_empty() {
            return Ok(answer(&order));
        }
        let candidates = self.candidates(&order, &open).await?;
        let mut choices = Vec::with_capacity(open.len());
        for (&index, candidates) in open.iter().zip(candidates) {
            let item = &order.items[index];
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
            choices.push((index, vendor_id));
        }
        let order = self
            .change(order_id, &|order| {
                if order.status != OrderStatus::Pending {
                    return Ok(false);
                }
                for &(index, vendor_id) in &choices {
                    order.items[index].vendor_id = Some(vendor_id);
                }
                Ok(true)
            })
            .await?;
        Ok(answer(&order))
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

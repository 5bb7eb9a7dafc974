//! Checkout's rules: vendor choice.

use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::order::{Order, OrderItem};
use crate::product::Product;
use crate::values::Pincode;
use crate::vendor::Vendor;

/// Why `order` can no longer be sold as it was placed, if it cannot: a fulfilled line's
/// product withdrawn (or gone) or its variant gone, or the vendor it was assigned no longer
/// active, serving the order's pincode or selling the product. A payment retry asks this
/// before anything is charged again: its ReserveStock takes the stock back from the same
/// vendors without asking.
pub fn no_longer_sold(order: &Order, catalog: &[Product], vendors: &[Vendor]) -> Option<String> {
    let pincode = &order.delivery_address.pincode;
    order
        .items
        .iter()
        .filter(|item| item.fulfilled)
        .find_map(|item| {
            let line = format!("{} {}", item.name, item.variant_name);
            let product = catalog.iter().find(|p| p.product_id == item.product_id);
            let Some(product) = product.filter(|p| p.is_active) else {
                return Some(format!("{line} is no longer sold"));
            };
            if !product
                .variants
                .iter()
                .any(|v| v.variant_id == item.variant_id)
            {
                return Some(format!("{line} is no longer sold"));
            }
            let vendor_id = item.vendor_id?;
            let serving = vendors
                .iter()
                .find(|v| v.vendor_id == vendor_id)
                .is_some_and(|v| {
                    v.is_active && v.serves(pincode) && product.vendor_ids.contains(&vendor_id)
                });
            (!serving).then(|| format!("the vendor of {line} no longer delivers it to {pincode}"))
        })
}

/// What SPEC §5 step 3 asks of one vendor for one item, read for the order's pincode and
/// delivery date.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorCandidate {
    pub vendor_id: Uuid,
    pub is_active: bool,
    pub serves_pincode: bool,
    pub sells_product: bool,
    /// Sellable units of the item's variant at this vendor.
    pub stock: u32,
    /// 0 to 5, as [`Vendor::rating`].
    pub rating: f64,
    /// Orders the vendor has taken for the delivery date.
    pub orders_for_date: u32,
    pub daily_order_limit: u32,
}

impl VendorCandidate {
    pub fn new(
        vendor: &Vendor,
        product: &Product,
        pincode: &Pincode,
        stock: u32,
        orders_for_date: u32,
    ) -> Self {
        Self {
            vendor_id: vendor.vendor_id,
            is_active: vendor.is_active,
            serves_pincode: vendor.serves(pincode),
            sells_product: product.vendor_ids.contains(&vendor.vendor_id),
            stock,
            rating: vendor.rating,
            orders_for_date,
            daily_order_limit: vendor.capacity.daily_order_limit,
        }
    }

    /// Active, serves the pincode, sells the product, has `quantity` units and a free place
    /// in the day.
    pub fn can_take(&self, quantity: u32) -> bool {
        self.is_active
            && self.serves_pincode
            && self.sells_product
            && self.stock >= quantity
            && self.orders_for_date < self.daily_order_limit
    }
}

/// The vendors that can take `quantity` units, best first: higher rating, then lower load
/// (fewer orders that day), then vendor id, so the same inputs always give the same choice.
/// Empty means NO_VENDOR_AVAILABLE.
pub fn rank_vendors(candidates: &[VendorCandidate], quantity: u32) -> Vec<Uuid> {
    let mut able: Vec<&VendorCandidate> =
        candidates.iter().filter(|c| c.can_take(quantity)).collect();
    able.sort_by(|a, b| {
        b.rating
            .total_cmp(&a.rating)
            .then(a.orders_for_date.cmp(&b.orders_for_date))
            .then(a.vendor_id.cmp(&b.vendor_id))
    });
    able.into_iter().map(|c| c.vendor_id).collect()
}

/// The best vendor for `item`, or 422 `NO_VENDOR_AVAILABLE` naming it.
pub fn pick_vendor(item: &OrderItem, candidates: &[VendorCandidate]) -> Result<Uuid, DomainError> {
    rank_vendors(candidates, item.quantity)
        .first()
        .copied()
        .ok_or_else(|| {
            DomainError::refused(
                ErrorCode::NoVendorAvailable,
                format!(
                    "No vendor can deliver {} × {} {} to this pincode on this date.",
                    item.quantity, item.name, item.variant_name
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::checkout::test_support::product;
    use crate::order::tests::item;

    fn candidate(n: u128, rating: f64, orders_for_date: u32) -> VendorCandidate {
        VendorCandidate {
            vendor_id: Uuid::from_u128(n),
            is_active: true,
            serves_pincode: true,
            sells_product: true,
            stock: 10,
            rating,
            orders_for_date,
            daily_order_limit: 50,
        }
    }

    #[test]
    fn higher_rating_then_lower_load_then_id() {
        let candidates = [
            candidate(5, 4.0, 10),
            candidate(4, 4.5, 30),
            candidate(3, 4.0, 2),
            candidate(2, 4.0, 10),
            candidate(1, 3.9, 0),
        ];
        let ranked = rank_vendors(&candidates, 1);
        let order: Vec<u128> = ranked.iter().map(|id| id.as_u128()).collect();
        assert_eq!(order, [4, 3, 2, 5, 1]);
    }

    #[test]
    fn vendors_that_cannot_take_the_item_are_left_out() {
        let mut inactive = candidate(1, 5.0, 0);
        inactive.is_active = false;
        let mut elsewhere = candidate(2, 5.0, 0);
        elsewhere.serves_pincode = false;
        let mut other_products = candidate(3, 5.0, 0);
        other_products.sells_product = false;
        let mut short = candidate(4, 5.0, 0);
        short.stock = 2;
        let mut full = candidate(5, 5.0, 50);
        full.daily_order_limit = 50;
        let mut exactly_enough = candidate(6, 1.0, 49);
        exactly_enough.stock = 3;
        let candidates = [
            inactive,
            elsewhere,
            other_products,
            short,
            full,
            exactly_enough,
        ];
        assert_eq!(rank_vendors(&candidates, 3), [Uuid::from_u128(6)]);
        assert!(rank_vendors(&candidates, 4).is_empty());
    }

    #[test]
    fn picking_answers_the_best_or_no_vendor_available() {
        let milk = item(1, 5_400, 3);
        let candidates = [candidate(1, 3.0, 0), candidate(2, 4.0, 0)];
        assert_eq!(pick_vendor(&milk, &candidates).unwrap(), Uuid::from_u128(2));
        let refused = pick_vendor(&milk, &[]).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::NoVendorAvailable);
        assert!(refused.to_string().contains("Product 1 1L"), "{refused}");
    }

    #[test]
    fn a_candidate_is_read_from_the_vendor_and_product() {
        let vendor: Vendor = crate::vendor::VendorInput {
            name: Some("Nandi Dairy".into()),
            email: Some("orders@nandi.example".into()),
            phone: Some("+91 80 4000 1234".into()),
            address: Some("4 Dairy Circle".into()),
            service_areas: Some(vec!["560001".into()]),
            rating: Some(json!(4.5)),
            ..Default::default()
        }
        .create(Utc::now())
        .unwrap();
        let mut milk = product(1, &[5_400], true);
        milk.vendor_ids = vec![vendor.vendor_id];
        let here = Pincode::parse("560001").unwrap();
        let c = VendorCandidate::new(&vendor, &milk, &here, 7, 3);
        assert!(c.is_active && c.serves_pincode && c.sells_product);
        assert_eq!((c.stock, c.rating, c.orders_for_date), (7, 4.5, 3));
        assert_eq!(c.daily_order_limit, vendor.capacity.daily_order_limit);
        let there = Pincode::parse("110001").unwrap();
        assert!(!VendorCandidate::new(&vendor, &milk, &there, 7, 3).serves_pincode);
        milk.vendor_ids.clear();
        assert!(!VendorCandidate::new(&vendor, &milk, &here, 7, 3).sells_product);
    }
}

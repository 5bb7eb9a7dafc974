//! The cart: one per customer, lines of (product, variant, quantity). It keeps no prices:
//! a cart is always read back priced from the catalog as it is now, so a price change or a
//! withdrawn product shows the moment it happens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::DomainError;
use crate::money::Money;
use crate::product::Product;
use crate::values::{InvalidValue, whole_number};

/// Units of one variant a line may hold (SPEC §5: quantities 1–100 per line).
pub const MAX_LINE_QUANTITY: u32 = 100;
/// The most writes one transaction may carry: DynamoDB's TransactWriteItems limit, which
/// the SQLite item store keeps too (`milkrun_store::ops::MAX_TRANSACTION_WRITES` is this).
pub const MAX_TRANSACTION_WRITES: usize = 100;
/// Lines a cart may hold; an order takes at most as many. Derived from the largest
/// transaction an order's checkout makes, ScheduleDelivery's: the order, its audit entry and
/// its ORDER_CONFIRMED event, and per vendor a delivery, its audit entry and its
/// DELIVERY_SCHEDULED event, where each line may have a vendor of its own: 3 + 3 × 32 = 99
/// writes, counting every event as a write of its own (an event that cannot ride in the
/// change's audit entry goes to the outbox in the same transaction). A reservation and its
/// settlements write fewer (the reservation, per line its stock row, per vendor its day).
pub const MAX_LINES: usize = (MAX_TRANSACTION_WRITES - 3) / 3;
/// A cart nobody touched for this long expires (TTL).
pub const IDLE_DAYS: i64 = 30;

/// Units for one line as a client sends them: a whole number from 1 to 100.
pub fn parse_line_quantity(raw: &serde_json::Value) -> Result<u32, InvalidValue> {
    whole_number(raw, 1, u64::from(MAX_LINE_QUANTITY))
        .and_then(|q| u32::try_from(q).ok())
        .ok_or(InvalidValue("must be a whole number from 1 to 100"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    pub user_id: Uuid,
    pub items: Vec<CartLine>,
    pub updated_at: DateTime<Utc>,
    /// The stored version this cart was read at; `None` for a cart not stored yet (or
    /// expired), which a save creates.
    #[serde(default)]
    pub version: Option<u64>,
}

/// What a change did to one line, for the audit entry: the quantity before and after
/// (0 where the line did not exist or no longer does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineChange {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub before: u32,
    pub after: u32,
}

impl Cart {
    pub fn empty(user_id: Uuid, now: DateTime<Utc>) -> Self {
        Self {
            user_id,
            items: Vec::new(),
            updated_at: now,
            version: None,
        }
    }

    fn position(&self, product_id: Uuid, variant_id: Uuid) -> Option<usize> {
        self.items
            .iter()
            .position(|l| l.product_id == product_id && l.variant_id == variant_id)
    }

    /// Adds `quantity` to the line (a new line at the end). A line beyond 100 units or a
    /// 51st line is a 409: the request is well formed, the cart cannot take it.
    pub fn add(
        &mut self,
        product_id: Uuid,
        variant_id: Uuid,
        quantity: u32,
    ) -> Result<LineChange, DomainError> {
        let existing = self.position(product_id, variant_id);
        let before = existing.map_or(0, |index| self.items[index].quantity);
        let after = before.saturating_add(quantity);
        if after > MAX_LINE_QUANTITY {
            return Err(DomainError::conflict(format!(
                "This line would hold {after} units; at most {MAX_LINE_QUANTITY} per line."
            )));
        }
        match existing {
            Some(index) => self.items[index].quantity = after,
            None if self.items.len() >= MAX_LINES => {
                return Err(DomainError::conflict(format!(
                    "The cart holds {MAX_LINES} lines already; remove one first."
                )));
            }
            None => self.items.push(CartLine {
                product_id,
                variant_id,
                quantity: after,
            }),
        }
        Ok(LineChange {
            product_id,
            variant_id,
            before,
            after,
        })
    }

    /// Sets an existing line's quantity (1–100, checked at the edge); 404 for a line the
    /// cart does not hold.
    pub fn set_quantity(
        &mut self,
        product_id: Uuid,
        variant_id: Uuid,
        quantity: u32,
    ) -> Result<LineChange, DomainError> {
        let index = self
            .position(product_id, variant_id)
            .ok_or(DomainError::NotFound("cart item"))?;
        let before = std::mem::replace(&mut self.items[index].quantity, quantity);
        Ok(LineChange {
            product_id,
            variant_id,
            before,
            after: quantity,
        })
    }

    /// Removes a line; 404 for a line the cart does not hold.
    pub fn remove(
        &mut self,
        product_id: Uuid,
        variant_id: Uuid,
    ) -> Result<LineChange, DomainError> {
        let index = self
            .position(product_id, variant_id)
            .ok_or(DomainError::NotFound("cart item"))?;
        let line = self.items.remove(index);
        Ok(LineChange {
            product_id,
            variant_id,
            before: line.quantity,
            after: 0,
        })
    }

    /// Empties the cart; answers the lines it held.
    pub fn clear(&mut self) -> Vec<CartLine> {
        std::mem::take(&mut self.items)
    }
}

/// One line as the customer sees it, priced from the catalog now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PricedLine {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: u32,
    /// False when the product was withdrawn (or the variant removed) since it was added:
    /// the line stays so the customer sees what happened, and counts for nothing.
    pub available: bool,
    /// The product's name; null when it is no longer in the catalog.
    pub name: Option<String>,
    /// "500ml", "1L"; null when the variant is no longer sold.
    pub variant_name: Option<String>,
    pub unit: Option<String>,
    /// The catalog's price now; null when unavailable.
    pub unit_price: Option<Money>,
    /// `unitPrice × quantity`; null when unavailable.
    pub line_total: Option<Money>,
}

/// The cart priced from the catalog: `total` sums the available lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PricedCart {
    pub items: Vec<PricedLine>,
    /// Units across the available lines.
    pub item_count: u64,
    pub total: Money,
    pub updated_at: DateTime<Utc>,
}

fn price_line(line: &CartLine, catalog: &[Product]) -> PricedLine {
    let product = catalog.iter().find(|p| p.product_id == line.product_id);
    let variant = product
        .filter(|p| p.is_active)
        .and_then(|p| p.variants.iter().find(|v| v.variant_id == line.variant_id));
    let line_total = variant.and_then(|v| v.price.times(line.quantity));
    PricedLine {
        product_id: line.product_id,
        variant_id: line.variant_id,
        quantity: line.quantity,
        available: line_total.is_some(),
        name: product.map(|p| p.name.clone()),
        variant_name: variant.map(|v| v.name.clone()),
        unit: variant.map(|v| v.unit.clone()),
        unit_price: variant.map(|v| v.price),
        line_total,
    }
}

impl Cart {
    /// Prices every line from `catalog` (the products the lines name, as read now).
    /// Prices are bounded (₹1 crore) and so are lines and quantities, so the total cannot
    /// overflow; it is summed checked all the same.
    pub fn priced(&self, catalog: &[Product]) -> PricedCart {
        let items: Vec<PricedLine> = self.items.iter().map(|l| price_line(l, catalog)).collect();
        let available = items.iter().filter(|l| l.available);
        let total = available
            .clone()
            .filter_map(|l| l.line_total)
            .try_fold(Money::inr(0), Money::plus)
            .unwrap_or(Money::inr(u64::MAX));
        PricedCart {
            item_count: available.map(|l| u64::from(l.quantity)).sum(),
            items,
            total,
            updated_at: self.updated_at,
        }
    }

    /// The products the lines name, each once (what pricing reads, in one batch).
    pub fn product_ids(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self.items.iter().map(|l| l.product_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::product::Variant;
    use crate::values::Category;

    fn product(price: u64, active: bool) -> Product {
        let now = Utc::now();
        Product {
            product_id: Uuid::now_v7(),
            name: "Toned milk".into(),
            category: Category::Milk,
            description: String::new(),
            variants: vec![Variant {
                variant_id: Uuid::now_v7(),
                name: "1L".into(),
                price: Money::inr(price),
                unit: "packet".into(),
            }],
            vendor_ids: vec![],
            image_url: None,
            is_active: active,
            created_at: now,
            updated_at: now,
            created_by: Uuid::nil(),
            updated_by: Uuid::nil(),
            version: 0,
        }
    }

    fn cart() -> Cart {
        Cart::empty(Uuid::now_v7(), Utc::now())
    }

    #[test]
    fn adding_twice_adds_to_the_line() {
        let mut cart = cart();
        let (p, v) = (Uuid::now_v7(), Uuid::now_v7());
        cart.add(p, v, 2).unwrap();
        let change = cart.add(p, v, 3).unwrap();
        assert_eq!((change.before, change.after), (2, 5));
        assert_eq!(cart.items.len(), 1);
        assert_eq!(cart.items[0].quantity, 5);
    }

    #[test]
    fn a_line_holds_at_most_100_and_nothing_changes_beyond() {
        let mut cart = cart();
        let (p, v) = (Uuid::now_v7(), Uuid::now_v7());
        cart.add(p, v, 100).unwrap();
        let refused = cart.add(p, v, 1).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Conflict);
        assert_eq!(cart.items[0].quantity, 100);
    }

    #[test]
    fn a_51st_line_is_refused_but_an_existing_line_still_grows() {
        let mut cart = cart();
        for _ in 0..MAX_LINES {
            cart.add(Uuid::now_v7(), Uuid::now_v7(), 1).unwrap();
        }
        let refused = cart.add(Uuid::now_v7(), Uuid::now_v7(), 1).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Conflict);
        let first = cart.items[0];
        cart.add(first.product_id, first.variant_id, 1).unwrap();
        assert_eq!(cart.items.len(), MAX_LINES);
    }

    #[test]
    fn changing_or_removing_a_line_the_cart_lacks_is_not_found() {
        let mut cart = cart();
        let (p, v) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            cart.set_quantity(p, v, 3).unwrap_err().code(),
            ErrorCode::NotFound
        );
        assert_eq!(cart.remove(p, v).unwrap_err().code(), ErrorCode::NotFound);
        cart.add(p, v, 1).unwrap();
        assert_eq!(cart.set_quantity(p, v, 7).unwrap().after, 7);
        assert_eq!(cart.remove(p, v).unwrap().before, 7);
        assert!(cart.items.is_empty());
    }

    #[test]
    fn pricing_takes_todays_catalog_and_skips_withdrawn_lines() {
        let (milk, withdrawn) = (product(6_500, true), product(9_900, false));
        let mut cart = cart();
        cart.add(milk.product_id, milk.variants[0].variant_id, 3)
            .unwrap();
        cart.add(withdrawn.product_id, withdrawn.variants[0].variant_id, 2)
            .unwrap();
        let gone = (Uuid::now_v7(), Uuid::now_v7());
        cart.add(gone.0, gone.1, 1).unwrap();
        let priced = cart.priced(&[milk.clone(), withdrawn]);
        assert_eq!(priced.total, Money::inr(19_500));
        assert_eq!(priced.item_count, 3);
        assert_eq!(priced.items[0].line_total, Some(Money::inr(19_500)));
        assert!(priced.items[0].available);
        assert!(!priced.items[1].available && priced.items[1].unit_price.is_none());
        assert_eq!(priced.items[1].name.as_deref(), Some("Toned milk"));
        assert!(!priced.items[2].available && priced.items[2].name.is_none());
    }

    #[test]
    fn a_removed_variant_prices_as_unavailable() {
        let milk = product(6_500, true);
        let mut cart = cart();
        cart.add(milk.product_id, Uuid::now_v7(), 1).unwrap();
        let priced = cart.priced(&[milk]);
        assert!(!priced.items[0].available);
        assert_eq!(priced.total, Money::inr(0));
    }

    #[test]
    fn product_ids_are_read_once_each() {
        let mut cart = cart();
        let p = Uuid::now_v7();
        cart.add(p, Uuid::now_v7(), 1).unwrap();
        cart.add(p, Uuid::now_v7(), 1).unwrap();
        assert_eq!(cart.product_ids(), vec![p]);
    }
}

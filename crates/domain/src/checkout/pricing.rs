//! Checkout's rules: pricing and totals.

use uuid::Uuid;

use super::lines::{OrderLine, line_field};
use crate::error::{DomainError, ErrorCode, FieldErrors};
use crate::money::Money;
use crate::order::{Order, OrderItem, OrderTotals};
use crate::product::Product;

/// Items priced from the catalog and their totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub items: Vec<OrderItem>,
    pub totals: OrderTotals,
}

/// No promotion exists yet, so every order's discount is zero; [`totals`] takes one for
/// when it does.
pub const NO_DISCOUNT: Money = Money::inr(0);

fn price_line(
    line: &OrderLine,
    catalog: &[Product],
) -> Result<OrderItem, (&'static str, &'static str)> {
    let product = catalog
        .iter()
        .find(|p| p.product_id == line.product_id)
        .ok_or(("productId", "no such product"))?;
    if !product.is_active {
        return Err(("productId", "is no longer sold"));
    }
    let variant = product
        .variants
        .iter()
        .find(|v| v.variant_id == line.variant_id)
        .ok_or(("variantId", "is not a variant of this product"))?;
    Ok(OrderItem {
        product_id: product.product_id,
        variant_id: variant.variant_id,
        name: product.name.clone(),
        variant_name: variant.name.clone(),
        quantity: line.quantity,
        unit_price: variant.price,
        vendor_id: None,
        fulfilled: true,
    })
}

/// Prices each line from `catalog` (the products the lines name, as read now) — never from
/// the client. A product missing or withdrawn, or a variant it does not have, is named by
/// its line.
pub fn price(lines: &[OrderLine], catalog: &[Product]) -> Result<PricedOrder, DomainError> {
    let mut errors = FieldErrors::new();
    let items: Vec<OrderItem> = lines
        .iter()
        .enumerate()
        .filter_map(|(index, line)| {
            price_line(line, catalog)
                .map_err(|(field, message)| errors.add(&line_field(index, field), message))
                .ok()
        })
        .collect();
    errors.into_result(|| ())?;
    let totals = totals(&items, NO_DISCOUNT)?;
    Ok(PricedOrder { items, totals })
}

/// Sums the fulfilled items; a short item (`fulfilled: false`) counts for nothing. The
/// discount is at most the subtotal, so the total is never negative. Every step is checked:
/// a sum past `u64` is a validation error on `items`, never a panic or a wrapped number.
pub fn totals(items: &[OrderItem], discount: Money) -> Result<OrderTotals, DomainError> {
    let zero = Money {
        amount: 0,
        ..discount
    };
    let subtotal = items
        .iter()
        .filter(|item| item.fulfilled)
        .try_fold(zero, |sum, item| {
            item.line_total().and_then(|line| sum.plus(line))
        })
        .ok_or_else(|| {
            DomainError::Validation(FieldErrors::single("items", "the order total is too large"))
        })?;
    let discount = Money {
        amount: discount.amount.min(subtotal.amount),
        ..discount
    };
    Ok(OrderTotals {
        subtotal,
        discount,
        total: Money {
            amount: subtotal.amount - discount.amount,
            ..subtotal
        },
    })
}

/// Recomputes the order's money from its fulfilled items (its discount kept, capped at the
/// new subtotal) and sets `flags.partialFulfillment` to whether any item is short.
pub fn recompute_totals(order: &mut Order) -> Result<(), DomainError> {
    let totals = totals(&order.items, order.discount)?;
    order.subtotal = totals.subtotal;
    order.discount = totals.discount;
    order.total = totals.total;
    order.flags.partial_fulfillment = order.items.iter().any(|item| !item.fulfilled);
    Ok(())
}

/// SPEC §5 step 4 when vendors are short of the items named by (productId, variantId):
/// with `allow_partial`, those items become `fulfilled: false` and the totals are
/// recomputed; without it, or when nothing would be left, 422 `OUT_OF_STOCK` and the order
/// is unchanged.
pub fn settle_shortage(
    order: &mut Order,
    short: &[(Uuid, Uuid)],
    allow_partial: bool,
) -> Result<(), DomainError> {
    let is_short = |item: &OrderItem| short.iter().any(|(p, v)| item.is_line(*p, *v));
    if !order
        .items
        .iter()
        .any(|item| item.fulfilled && is_short(item))
    {
        return Ok(());
    }
    if !allow_partial {
        let names: Vec<String> = order
            .items
            .iter()
            .filter(|item| is_short(item))
            .map(|item| format!("{} {}", item.name, item.variant_name))
            .collect();
        return Err(DomainError::refused(
            ErrorCode::OutOfStock,
            format!("Not enough stock of {}.", names.join(", ")),
        ));
    }
    if !order
        .items
        .iter()
        .any(|item| item.fulfilled && !is_short(item))
    {
        return Err(DomainError::refused(
            ErrorCode::OutOfStock,
            "None of the items is in stock.",
        ));
    }
    let mut settled = order.clone();
    for item in settled.items.iter_mut().filter(|item| is_short(item)) {
        item.fulfilled = false;
    }
    recompute_totals(&mut settled)?;
    *order = settled;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkout::test_support::{field_names, fields, product};
    use crate::order::tests::{item, order};

    fn line(product: u128, variant: u128, quantity: u32) -> OrderLine {
        OrderLine {
            product_id: Uuid::from_u128(product),
            variant_id: Uuid::from_u128(variant),
            quantity,
        }
    }

    #[test]
    fn prices_and_names_come_from_the_catalog() {
        let catalog = [
            product(1, &[2_800, 5_400], true),
            product(2, &[12_000], true),
        ];
        let priced = price(&[line(1, 101, 3), line(2, 200, 2)], &catalog).unwrap();
        let first = &priced.items[0];
        assert_eq!(
            (
                first.name.as_str(),
                first.variant_name.as_str(),
                first.unit_price,
                first.quantity
            ),
            ("Product 1", "1000ml", Money::inr(5_400), 3)
        );
        assert!(first.fulfilled && first.vendor_id.is_none());
        assert_eq!(
            priced.totals,
            OrderTotals {
                subtotal: Money::inr(3 * 5_400 + 2 * 12_000),
                discount: Money::inr(0),
                total: Money::inr(40_200),
            }
        );
    }

    #[test]
    fn unknown_withdrawn_or_mismatched_lines_are_named() {
        let catalog = [product(1, &[2_800], true), product(2, &[1_000], false)];
        let error = price(
            &[
                line(1, 100, 1),
                line(9, 900, 1),
                line(2, 200, 1),
                line(1, 200, 1),
            ],
            &catalog,
        )
        .unwrap_err();
        assert_eq!(
            fields(error),
            [
                (
                    "items[1].productId".to_owned(),
                    "no such product".to_owned()
                ),
                (
                    "items[2].productId".to_owned(),
                    "is no longer sold".to_owned()
                ),
                (
                    "items[3].variantId".to_owned(),
                    "is not a variant of this product".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_total_past_u64_is_a_validation_error_not_a_panic() {
        let catalog = [
            product(1, &[u64::MAX / 2], true),
            product(2, &[u64::MAX], true),
        ];
        assert_eq!(
            field_names(price(&[line(1, 100, 3)], &catalog).unwrap_err()),
            ["items"],
            "a line past u64"
        );
        assert_eq!(
            field_names(price(&[line(1, 100, 2), line(2, 200, 1)], &catalog).unwrap_err()),
            ["items"],
            "a sum past u64"
        );
    }

    #[test]
    fn totals_skip_short_items_and_cap_the_discount() {
        let mut short = item(2, 1_000, 2);
        short.fulfilled = false;
        let items = [item(1, 2_500, 2), short];
        assert_eq!(
            totals(&items, Money::inr(500)).unwrap(),
            OrderTotals {
                subtotal: Money::inr(5_000),
                discount: Money::inr(500),
                total: Money::inr(4_500),
            }
        );
        assert_eq!(
            totals(&items, Money::inr(9_000)).unwrap().total,
            Money::inr(0),
            "a discount never takes the total below zero"
        );
        assert_eq!(totals(&[], NO_DISCOUNT).unwrap().total, Money::inr(0));
    }

    #[test]
    fn recomputing_after_a_shortage_counts_fulfilled_items_only() {
        let mut order = order(vec![item(1, 2_500, 2), item(2, 1_000, 3)]);
        assert_eq!(order.total, Money::inr(8_000));
        order.items[1].fulfilled = false;
        recompute_totals(&mut order).unwrap();
        assert_eq!(
            (order.subtotal, order.total),
            (Money::inr(5_000), Money::inr(5_000))
        );
        assert!(order.flags.partial_fulfillment);
    }

    #[test]
    fn a_shortage_with_allow_partial_marks_the_items_and_recomputes() {
        let mut order = order(vec![item(1, 2_500, 2), item(2, 1_000, 3)]);
        let short = [(Uuid::from_u128(2), Uuid::from_u128(102))];
        settle_shortage(&mut order, &short, true).unwrap();
        assert!(order.items[0].fulfilled && !order.items[1].fulfilled);
        assert_eq!(order.total, Money::inr(5_000));
        assert!(order.flags.partial_fulfillment);
        let before = order.clone();
        settle_shortage(&mut order, &[], true).unwrap();
        settle_shortage(&mut order, &short, true).unwrap();
        assert_eq!(order, before, "nothing new is short");
    }

    #[test]
    fn a_shortage_without_allow_partial_or_of_everything_is_out_of_stock() {
        let original = order(vec![item(1, 2_500, 2), item(2, 1_000, 3)]);
        let mut order = original.clone();
        let one = [(Uuid::from_u128(2), Uuid::from_u128(102))];
        let refused = settle_shortage(&mut order, &one, false).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::OutOfStock);
        assert!(refused.to_string().contains("Product 2 1L"), "{refused}");
        assert_eq!(order, original, "unchanged");
        let both = [
            (Uuid::from_u128(1), Uuid::from_u128(101)),
            (Uuid::from_u128(2), Uuid::from_u128(102)),
        ];
        let refused = settle_shortage(&mut order, &both, true).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::OutOfStock);
        assert_eq!(order, original, "unchanged");
    }
}

//! Checkout's rules (SPEC §5), pure: the requested lines, their prices from the catalog and
//! the order's totals, the delivery date, which vendor delivers each item, a short vendor
//! (partial fulfilment) and the fraud rules. The services fetch what these need and store
//! what they answer.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cart::{CartLine, MAX_LINE_QUANTITY, MAX_LINES, parse_line_quantity};
use crate::error::{DomainError, ErrorCode, FieldErrors};
use crate::money::Money;
use crate::order::{Order, OrderItem, OrderTotals};
use crate::product::Product;
use crate::values::{InvalidValue, Pincode, parse_uuid};
use crate::vendor::Vendor;

// ---------------------------------------------------------------------------------------
// Requested lines

/// One line of `POST /orders` as a client sends it, before any field is trusted.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineInput {
    #[schema(schema_with = crate::schema::uuid_required, required = true)]
    pub product_id: Option<String>,
    #[schema(schema_with = crate::schema::uuid_required, required = true)]
    pub variant_id: Option<String>,
    /// 1 to 100.
    #[schema(schema_with = crate::schema::line_quantity_required, required = true)]
    pub quantity: Option<serde_json::Value>,
}

/// One requested line, parsed: a variant and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub quantity: u32,
}

impl From<&CartLine> for OrderLine {
    fn from(line: &CartLine) -> Self {
        Self {
            product_id: line.product_id,
            variant_id: line.variant_id,
            quantity: line.quantity,
        }
    }
}

fn line_field(index: usize, field: &str) -> String {
    format!("items[{index}].{field}")
}

fn parse_line(index: usize, input: &OrderLineInput, errors: &mut FieldErrors) -> Option<OrderLine> {
    let id = |raw: &Option<String>| {
        raw.as_deref()
            .ok_or(InvalidValue("is required"))
            .and_then(|raw| parse_uuid(raw).ok_or(InvalidValue("must be a UUID")))
    };
    let product_id = errors.check(&line_field(index, "productId"), id(&input.product_id));
    let variant_id = errors.check(&line_field(index, "variantId"), id(&input.variant_id));
    let quantity = errors.check(
        &line_field(index, "quantity"),
        input
            .quantity
            .as_ref()
            .ok_or(InvalidValue("is required"))
            .and_then(parse_line_quantity),
    );
    Some(OrderLine {
        product_id: product_id?,
        variant_id: variant_id?,
        quantity: quantity?,
    })
}

/// The rules on a whole list of lines, whoever built it: 1–100 units per line and each
/// (productId, variantId) once. A repeat is refused rather than merged: the 1–100 bound is
/// then checked on exactly what was sent (60 + 60 would silently become a 120-unit line),
/// a double-submitted line is more likely a client bug than an intent, and every later
/// step (vendor, reservation, a short line) names an item by its variant. The cart already
/// adds to a line, so an order from the cart never repeats.
fn check_each(lines: &[(usize, OrderLine)], errors: &mut FieldErrors) {
    let mut first_at: BTreeMap<(Uuid, Uuid), usize> = BTreeMap::new();
    for (index, line) in lines {
        if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
            errors.add(
                &line_field(*index, "quantity"),
                "must be a whole number from 1 to 100",
            );
        }
        match first_at.get(&(line.product_id, line.variant_id)) {
            Some(first) => errors.add(
                &format!("items[{index}]"),
                format!(
                    "repeats items[{first}]: list each productId and variantId once, \
                     with the whole quantity"
                ),
            ),
            None => {
                first_at.insert((line.product_id, line.variant_id), *index);
            }
        }
    }
}

fn check_count(count: usize) -> Result<(), DomainError> {
    if (1..=MAX_LINES).contains(&count) {
        Ok(())
    } else {
        Err(DomainError::Validation(FieldErrors::single(
            "items",
            "must list 1 to 50 lines",
        )))
    }
}

/// Parses `items`, naming every bad field (`items[2].quantity`). An empty list is refused,
/// not read as "use the cart": only leaving `items` out means that.
pub fn parse_lines(inputs: &[OrderLineInput]) -> Result<Vec<OrderLine>, DomainError> {
    check_count(inputs.len())?;
    let mut errors = FieldErrors::new();
    let parsed: Vec<(usize, OrderLine)> = inputs
        .iter()
        .enumerate()
        .filter_map(|(index, input)| parse_line(index, input, &mut errors).map(|l| (index, l)))
        .collect();
    check_each(&parsed, &mut errors);
    errors.into_result(|| parsed.into_iter().map(|(_, line)| line).collect())
}

/// The same rules for lines that did not come from a client's `items` (the cart), so an
/// order from either source obeys one set.
pub fn check_lines(lines: &[OrderLine]) -> Result<(), DomainError> {
    check_count(lines.len())?;
    let mut errors = FieldErrors::new();
    let indexed: Vec<(usize, OrderLine)> = lines.iter().copied().enumerate().collect();
    check_each(&indexed, &mut errors);
    errors.into_result(|| ())
}

// ---------------------------------------------------------------------------------------
// Pricing and totals

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

// ---------------------------------------------------------------------------------------
// Delivery date

/// Asia/Kolkata is UTC+05:30 all year (India keeps no daylight saving time), so a fixed
/// offset is exact and needs no time-zone database.
pub const PLATFORM_UTC_OFFSET_SECS: i32 = 5 * 3600 + 30 * 60;
/// The latest delivery date is today plus this many days (in the platform's time zone).
pub const MAX_DAYS_AHEAD: u64 = 30;

/// The platform's time zone, Asia/Kolkata.
pub fn platform_zone() -> FixedOffset {
    FixedOffset::east_opt(PLATFORM_UTC_OFFSET_SECS).expect("an offset within a day")
}

/// Today's date where the customers are: 18:40 UTC is already tomorrow in India.
pub fn platform_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&platform_zone()).date_naive()
}

/// A delivery date must be after today (the morning round of today is already out) and at
/// most [`MAX_DAYS_AHEAD`] days ahead, both in the platform's time zone.
pub fn check_delivery_date(date: NaiveDate, now: DateTime<Utc>) -> Result<NaiveDate, InvalidValue> {
    let today = platform_today(now);
    if date <= today {
        return Err(InvalidValue("must be after today (Asia/Kolkata)"));
    }
    let latest = today
        .checked_add_days(chrono::Days::new(MAX_DAYS_AHEAD))
        .expect("30 days from a real date is a real date");
    if date > latest {
        return Err(InvalidValue("must be at most 30 days ahead"));
    }
    Ok(date)
}

/// A calendar date as sent: exactly `YYYY-MM-DD`.
pub fn parse_date(raw: &str) -> Result<NaiveDate, InvalidValue> {
    (raw.len() == 10)
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
        .ok_or(InvalidValue("must be a date as YYYY-MM-DD"))
}

/// `deliveryDate` as sent: exactly `YYYY-MM-DD`, then [`check_delivery_date`].
pub fn parse_delivery_date(raw: &str, now: DateTime<Utc>) -> Result<NaiveDate, InvalidValue> {
    check_delivery_date(parse_date(raw)?, now)
}

// ---------------------------------------------------------------------------------------
// Vendor choice

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

// ---------------------------------------------------------------------------------------
// Fraud rules

/// An order total above this (₹5,000, in paise) is held unless configured otherwise.
pub const DEFAULT_FRAUD_LIMIT_PAISE: u64 = 500_000;
/// "Well above the user's usual": more than this many times their average order…
pub const USUAL_SPEND_MULTIPLE: u64 = 3;
/// …once they have at least this many earlier orders to average (fewer say too little).
pub const USUAL_SPEND_MIN_ORDERS: usize = 3;
/// "Many orders in a short time": this many orders, this one included…
pub const MANY_ORDERS: usize = 5;
/// …within this window before now.
pub const MANY_ORDERS_WINDOW: TimeDelta = TimeDelta::hours(1);
/// A device first seen less than this long ago is new…
pub const NEW_DEVICE_AGE: TimeDelta = TimeDelta::hours(24);
/// …and an amount above the limit divided by this is high for a new device (₹2,500 by
/// default).
pub const NEW_DEVICE_LIMIT_DIVISOR: u64 = 2;

/// The configured fraud limit; the rest of the rules are the consts above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FraudRules {
    pub limit_paise: u64,
}

impl Default for FraudRules {
    fn default() -> Self {
        Self {
            limit_paise: DEFAULT_FRAUD_LIMIT_PAISE,
        }
    }
}

/// One of the user's earlier orders (whatever its status), not the one being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastOrder {
    pub total: Money,
    pub created_at: DateTime<Utc>,
}

/// What the rules read about the order being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudInput {
    pub total: Money,
    pub previous_orders: Vec<PastOrder>,
    /// When the device placing the order was first seen on the account; `None` when it is
    /// not one the account knows (new, then).
    pub device_first_seen_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Why an order was held for a manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FraudReason {
    AboveLimit,
    AboveUsual,
    ManyRecentOrders,
    NewDeviceHighAmount,
}

impl FraudReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AboveLimit => "ABOVE_LIMIT",
            Self::AboveUsual => "ABOVE_USUAL",
            Self::ManyRecentOrders => "MANY_RECENT_ORDERS",
            Self::NewDeviceHighAmount => "NEW_DEVICE_HIGH_AMOUNT",
        }
    }
}

impl fmt::Display for FraudReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// More than [`USUAL_SPEND_MULTIPLE`] × the average of at least [`USUAL_SPEND_MIN_ORDERS`]
/// earlier orders; compared as `total × n > multiple × sum` so no rounding decides it.
fn above_usual(input: &FraudInput) -> bool {
    let count = input.previous_orders.len();
    if count < USUAL_SPEND_MIN_ORDERS {
        return false;
    }
    let sum: u128 = input
        .previous_orders
        .iter()
        .map(|o| u128::from(o.total.amount))
        .sum();
    u128::from(input.total.amount) * count as u128 > u128::from(USUAL_SPEND_MULTIPLE) * sum
}

fn many_recent_orders(input: &FraudInput) -> bool {
    let since = input.now - MANY_ORDERS_WINDOW;
    let recent = input
        .previous_orders
        .iter()
        .filter(|o| o.created_at > since)
        .count();
    recent + 1 >= MANY_ORDERS
}

fn new_device_high_amount(input: &FraudInput, rules: &FraudRules) -> bool {
    let new_device = input
        .device_first_seen_at
        .is_none_or(|first| input.now - first < NEW_DEVICE_AGE);
    new_device && input.total.amount > rules.limit_paise / NEW_DEVICE_LIMIT_DIVISOR
}

/// SPEC §5 step 6: every rule that fires, in a fixed order; empty means not flagged.
pub fn fraud_reasons(input: &FraudInput, rules: &FraudRules) -> Vec<FraudReason> {
    [
        (
            FraudReason::AboveLimit,
            input.total.amount > rules.limit_paise,
        ),
        (FraudReason::AboveUsual, above_usual(input)),
        (FraudReason::ManyRecentOrders, many_recent_orders(input)),
        (
            FraudReason::NewDeviceHighAmount,
            new_device_high_amount(input, rules),
        ),
    ]
    .into_iter()
    .filter_map(|(reason, fired)| fired.then_some(reason))
    .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::order::tests::{item, order};
    use crate::product::Variant;
    use crate::values::Category;

    fn fields(error: DomainError) -> Vec<(String, String)> {
        let DomainError::Validation(fields) = error else {
            panic!("expected validation, got {error:?}")
        };
        fields
            .fields()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn field_names(error: DomainError) -> Vec<String> {
        fields(error).into_iter().map(|(k, _)| k).collect()
    }

    fn inputs(value: serde_json::Value) -> Vec<OrderLineInput> {
        serde_json::from_value(value).unwrap()
    }

    fn id(n: u128) -> String {
        Uuid::from_u128(n).to_string()
    }

    // --- lines ---

    #[test]
    fn well_formed_lines_parse() {
        let lines = parse_lines(&inputs(json!([
            {"productId": id(1), "variantId": id(101), "quantity": 2},
            {"productId": id(1), "variantId": id(102), "quantity": 100.0},
            {"productId": id(2), "variantId": id(101), "quantity": 1}
        ])))
        .unwrap();
        assert_eq!(
            lines,
            [
                OrderLine {
                    product_id: Uuid::from_u128(1),
                    variant_id: Uuid::from_u128(101),
                    quantity: 2
                },
                OrderLine {
                    product_id: Uuid::from_u128(1),
                    variant_id: Uuid::from_u128(102),
                    quantity: 100
                },
                OrderLine {
                    product_id: Uuid::from_u128(2),
                    variant_id: Uuid::from_u128(101),
                    quantity: 1
                },
            ]
        );
    }

    #[test]
    fn every_bad_field_is_named_by_its_line() {
        let error = parse_lines(&inputs(json!([
            {"productId": id(1), "variantId": id(101), "quantity": 0},
            {"productId": "nope", "variantId": id(101), "quantity": 101},
            {"variantId": id(101), "quantity": 1.5},
            {"productId": id(4), "variantId": id(104)},
            {"productId": id(5), "variantId": id(105), "quantity": "3"},
            {"productId": id(6), "variantId": id(106), "quantity": -1}
        ])))
        .unwrap_err();
        assert_eq!(
            field_names(error),
            [
                "items[0].quantity",
                "items[1].productId",
                "items[1].quantity",
                "items[2].productId",
                "items[2].quantity",
                "items[3].quantity",
                "items[4].quantity",
                "items[5].quantity",
            ]
        );
    }

    #[test]
    fn one_to_fifty_lines() {
        assert_eq!(field_names(parse_lines(&[]).unwrap_err()), ["items"]);
        let line = |n: u128| json!({"productId": id(n), "variantId": id(1000 + n), "quantity": 1});
        let fifty: Vec<serde_json::Value> = (0..50).map(line).collect();
        assert_eq!(parse_lines(&inputs(json!(fifty))).unwrap().len(), 50);
        let fifty_one: Vec<serde_json::Value> = (0..51).map(line).collect();
        assert_eq!(
            field_names(parse_lines(&inputs(json!(fifty_one))).unwrap_err()),
            ["items"]
        );
    }

    #[test]
    fn a_repeated_variant_is_refused_naming_both_lines() {
        let error = parse_lines(&inputs(json!([
            {"productId": id(1), "variantId": id(101), "quantity": 60},
            {"productId": id(2), "variantId": id(101), "quantity": 1},
            {"productId": id(1), "variantId": id(101), "quantity": 60}
        ])))
        .unwrap_err();
        let fields = fields(error);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].0, "items[2]");
        assert!(fields[0].1.contains("items[0]"), "{}", fields[0].1);
    }

    #[test]
    fn lines_from_the_cart_obey_the_same_rules() {
        let line = |n: u128, quantity: u32| OrderLine {
            product_id: Uuid::from_u128(n),
            variant_id: Uuid::from_u128(n),
            quantity,
        };
        assert!(check_lines(&[line(1, 100), line(2, 1)]).is_ok());
        assert_eq!(
            field_names(check_lines(&[line(1, 101), line(2, 0), line(1, 1)]).unwrap_err()),
            ["items[0].quantity", "items[1].quantity", "items[2]"]
        );
        assert_eq!(field_names(check_lines(&[]).unwrap_err()), ["items"]);
        let cart = CartLine {
            product_id: Uuid::from_u128(3),
            variant_id: Uuid::from_u128(4),
            quantity: 5,
        };
        assert_eq!(
            OrderLine::from(&cart),
            OrderLine {
                product_id: Uuid::from_u128(3),
                variant_id: Uuid::from_u128(4),
                quantity: 5
            }
        );
    }

    // --- pricing ---

    fn product(n: u128, prices: &[u64], active: bool) -> Product {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        Product {
            product_id: Uuid::from_u128(n),
            name: format!("Product {n}"),
            category: Category::Milk,
            description: String::new(),
            variants: prices
                .iter()
                .enumerate()
                .map(|(i, price)| Variant {
                    variant_id: Uuid::from_u128(n * 100 + i as u128),
                    name: format!("{}ml", (i + 1) * 500),
                    price: Money::inr(*price),
                    unit: "packet".into(),
                })
                .collect(),
            vendor_ids: vec![Uuid::from_u128(900)],
            image_url: None,
            is_active: active,
            created_at: now,
            updated_at: now,
            created_by: Uuid::nil(),
            updated_by: Uuid::nil(),
            version: 0,
        }
    }

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

    // --- delivery date ---

    fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, d, h, m, 0).unwrap()
    }

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, m, d).unwrap()
    }

    #[test]
    fn today_is_the_date_in_india() {
        assert_eq!(platform_today(utc(10, 18, 29)), date(3, 10), "23:59 IST");
        assert_eq!(platform_today(utc(10, 18, 30)), date(3, 11), "00:00 IST");
        assert_eq!(platform_today(utc(10, 18, 40)), date(3, 11), "00:10 IST");
        assert_eq!(platform_today(utc(10, 0, 0)), date(3, 10), "05:30 IST");
    }

    #[test]
    fn the_date_must_be_after_today_in_india() {
        let before_midnight = utc(10, 18, 29);
        assert!(check_delivery_date(date(3, 10), before_midnight).is_err());
        assert_eq!(
            check_delivery_date(date(3, 11), before_midnight),
            Ok(date(3, 11))
        );
        let after_midnight = utc(10, 18, 40);
        assert!(
            check_delivery_date(date(3, 11), after_midnight).is_err(),
            "already today in India, though still the 10th in UTC"
        );
        assert!(check_delivery_date(date(3, 12), after_midnight).is_ok());
        assert!(check_delivery_date(date(3, 1), after_midnight).is_err());
    }

    #[test]
    fn the_date_may_be_at_most_thirty_days_ahead() {
        let now = utc(10, 18, 40);
        assert!(check_delivery_date(date(4, 10), now).is_ok(), "today + 30");
        assert_eq!(
            check_delivery_date(date(4, 11), now),
            Err(InvalidValue("must be at most 30 days ahead"))
        );
        let earlier = utc(10, 18, 29);
        assert!(check_delivery_date(date(4, 9), earlier).is_ok());
        assert!(check_delivery_date(date(4, 10), earlier).is_err());
    }

    #[test]
    fn the_date_is_sent_as_yyyy_mm_dd() {
        let now = utc(10, 12, 0);
        assert_eq!(parse_delivery_date("2025-03-12", now), Ok(date(3, 12)));
        for bad in [
            "2025-3-12",
            "12-03-2025",
            "2025-03-12T00:00:00Z",
            "2025-02-30",
            "",
            " 2025-03-12",
        ] {
            assert_eq!(
                parse_delivery_date(bad, now),
                Err(InvalidValue("must be a date as YYYY-MM-DD")),
                "{bad:?}"
            );
        }
    }

    // --- vendors ---

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

    // --- fraud ---

    fn now() -> DateTime<Utc> {
        utc(10, 12, 0)
    }

    /// A quiet order: a known device, a modest usual, nothing recent.
    fn quiet(total: u64) -> FraudInput {
        FraudInput {
            total: Money::inr(total),
            previous_orders: (1..=3)
                .map(|days| PastOrder {
                    total: Money::inr(1_000),
                    created_at: now() - TimeDelta::days(days),
                })
                .collect(),
            device_first_seen_at: Some(now() - TimeDelta::days(90)),
            now: now(),
        }
    }

    fn reasons(input: &FraudInput) -> Vec<FraudReason> {
        fraud_reasons(input, &FraudRules::default())
    }

    #[test]
    fn a_quiet_order_is_not_flagged() {
        assert!(reasons(&quiet(3_000)).is_empty());
    }

    #[test]
    fn a_total_above_the_limit_fires() {
        let mut input = quiet(500_000);
        input.previous_orders.clear();
        assert!(reasons(&input).is_empty(), "at the limit is not above it");
        input.total = Money::inr(500_001);
        assert_eq!(reasons(&input), [FraudReason::AboveLimit]);
        let stricter = FraudRules { limit_paise: 1_000 };
        assert_eq!(
            fraud_reasons(&quiet(1_001), &stricter),
            [FraudReason::AboveLimit],
            "the configured limit is the one used"
        );
    }

    #[test]
    fn an_amount_well_above_the_usual_fires_once_there_is_a_usual() {
        assert!(reasons(&quiet(3_000)).is_empty(), "3 × the average");
        assert_eq!(reasons(&quiet(3_001)), [FraudReason::AboveUsual]);
        let mut two = quiet(100_000);
        two.previous_orders.truncate(2);
        assert!(reasons(&two).is_empty(), "two orders are no usual yet");
        let mut uneven = quiet(0);
        uneven.previous_orders[0].total = Money::inr(1_001);
        // Average 1000.33…: 3 × it is 3001, which integer division would round to 3000.
        uneven.total = Money::inr(3_001);
        assert!(reasons(&uneven).is_empty());
        uneven.total = Money::inr(3_002);
        assert_eq!(reasons(&uneven), [FraudReason::AboveUsual]);
    }

    #[test]
    fn many_orders_within_the_hour_fire() {
        let mut input = quiet(1_000);
        let recent = |minutes: i64| PastOrder {
            total: Money::inr(1_000),
            created_at: now() - TimeDelta::minutes(minutes),
        };
        input
            .previous_orders
            .extend([recent(5), recent(20), recent(59)]);
        assert!(
            reasons(&input).is_empty(),
            "four in the hour, this one included"
        );
        input.previous_orders.push(recent(60));
        assert!(
            reasons(&input).is_empty(),
            "exactly an hour ago is outside the window"
        );
        input.previous_orders.push(recent(30));
        assert_eq!(reasons(&input), [FraudReason::ManyRecentOrders]);
    }

    #[test]
    fn a_new_device_with_a_high_amount_fires() {
        let mut input = quiet(2_500);
        input.previous_orders.clear();
        input.device_first_seen_at = Some(now() - TimeDelta::hours(2));
        assert!(reasons(&input).is_empty(), "a small amount");
        input.total = Money::inr(250_000);
        assert!(reasons(&input).is_empty(), "half the limit is not above it");
        input.total = Money::inr(250_001);
        assert_eq!(reasons(&input), [FraudReason::NewDeviceHighAmount]);
        input.device_first_seen_at = None;
        assert_eq!(
            reasons(&input),
            [FraudReason::NewDeviceHighAmount],
            "an unknown device is new"
        );
        input.device_first_seen_at = Some(now() - TimeDelta::hours(24));
        assert!(reasons(&input).is_empty(), "a day old is no longer new");
    }

    #[test]
    fn every_rule_that_fires_is_answered_in_a_fixed_order() {
        let mut input = quiet(600_000);
        input.device_first_seen_at = None;
        input.previous_orders.extend((0..4).map(|m| PastOrder {
            total: Money::inr(1_000),
            created_at: now() - TimeDelta::minutes(m),
        }));
        assert_eq!(
            reasons(&input),
            [
                FraudReason::AboveLimit,
                FraudReason::AboveUsual,
                FraudReason::ManyRecentOrders,
                FraudReason::NewDeviceHighAmount,
            ]
        );
        assert_eq!(
            serde_json::to_string(&FraudReason::NewDeviceHighAmount).unwrap(),
            "\"NEW_DEVICE_HIGH_AMOUNT\""
        );
        assert_eq!(
            FraudReason::ManyRecentOrders.to_string(),
            "MANY_RECENT_ORDERS"
        );
    }
}

//! The daily report (SPEC §3 DailyReport, §6) and the vendor settlement, computed from the
//! orders and deliveries handed in: pure, so every figure is tested without a store.
//!
//! **What counts as revenue.** An order counts when it went ahead and its money was kept:
//! CONFIRMED, PREPARING, OUT_FOR_DELIVERY or DELIVERED ([`counts_as_revenue`]). Orders that
//! never got paid or approved (PENDING, PAYMENT_PENDING, PAYMENT_FAILED, ON_HOLD, FAILED) and
//! those whose money went back (CANCELLED, REFUNDED) count in `totalOrders` and
//! `ordersByStatus` only. Revenue is the sum of the counted orders' `total` (subtotal −
//! discount, over fulfilled items only: a partial order counts for what it delivers).
//!
//! One exception keeps the report and the vendor settlement in agreement: a cancelled order
//! some of whose vendors had delivered already (a multi-vendor round where another vendor's
//! delivery failed) kept the money for those deliveries, since a cancel refunds only the
//! lines not delivered ([`Order::refund_due`]). It counts, for the delivered lines' share of
//! its `total`, and only those lines go into its vendors' and products' sums, as the
//! settlement owes the vendor for them.
//!
//! **Rounding.** Money is integer paise. `averageOrderValue` = revenue ÷ counted orders,
//! rounded half up to the paisa (0 when no order counts). A settlement's commission is
//! rounded half up per day; the month's commission is the sum of its days', so every total
//! is the sum of its column.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::delivery::{Delivery, DeliveryStatus};
use crate::events::Event;
use crate::money::Money;
use crate::order::{Order, OrderItem, OrderStatus};
use crate::values::InvalidValue;

/// How many products `topProducts` lists.
pub const TOP_PRODUCTS: usize = 10;

/// The platform's commission when no setting names one: 800 basis points, 8 %.
pub const DEFAULT_COMMISSION_BPS: u32 = 800;

/// The most a commission may be: 100 %.
pub const MAX_COMMISSION_BPS: u32 = 10_000;

/// Whether an order in `status` counts in revenue: it went ahead and its money was kept.
pub fn counts_as_revenue(status: OrderStatus) -> bool {
    use OrderStatus::*;
    matches!(status, Confirmed | Preparing | OutForDelivery | Delivered)
}

/// `numerator ÷ denominator` rounded half up (0 for a zero denominator).
pub fn divide_half_up(numerator: u128, denominator: u128) -> u128 {
    match denominator {
        0 => 0,
        d => (numerator + d / 2) / d,
    }
}

/// One product's part of the day: fulfilled units and their value, over counted orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopProduct {
    pub product_id: Uuid,
    pub name: String,
    pub quantity: u64,
    pub revenue: Money,
}

/// One vendor's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VendorRow {
    pub vendor_id: Uuid,
    /// Counted orders with at least one fulfilled item of this vendor that its money was
    /// kept for.
    pub orders: u64,
    /// The value of this vendor's fulfilled items in counted orders, those of a cancelled
    /// order only where this vendor's delivery was made (before any discount, which the
    /// platform bears).
    pub revenue: Money,
    /// This vendor's deliveries of the day now DELIVERED.
    pub deliveries_done: u64,
    /// This vendor's deliveries of the day now FAILED.
    pub deliveries_failed: u64,
}

/// One delivery date's report: the orders whose deliveryDate is `date`, as they stood at
/// `generatedAt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyReport {
    pub date: NaiveDate,
    /// Every order of the day, whatever its status.
    pub total_orders: u64,
    /// The counted orders' totals (CONFIRMED, PREPARING, OUT_FOR_DELIVERY, DELIVERED), and
    /// of a cancelled order whose deliveries by some vendors were made, those lines' share
    /// of its total (the cancel refunded the rest).
    pub revenue: Money,
    /// revenue ÷ counted orders, rounded half up to the paisa; 0 when none counts.
    pub average_order_value: Money,
    /// Every order status, with how many of the day's orders are in it (zeros included).
    pub orders_by_status: BTreeMap<String, u64>,
    /// At most 10 products by revenue (then units, then id), from the fulfilled items whose
    /// money was kept.
    pub top_products: Vec<TopProduct>,
    /// Each vendor with an order or a delivery that day, by vendor id.
    pub per_vendor: Vec<VendorRow>,
    pub generated_at: DateTime<Utc>,
}

fn paise(amount: u128) -> Money {
    Money::inr(u64::try_from(amount).unwrap_or(u64::MAX))
}

fn line_value(item: &OrderItem) -> u128 {
    u128::from(item.unit_price.amount) * u128::from(item.quantity)
}

#[derive(Default)]
struct VendorSums {
    orders: u64,
    revenue: u128,
    done: u64,
    failed: u64,
}

#[derive(Default)]
struct ProductSums {
    name: String,
    quantity: u64,
    revenue: u128,
}

impl DailyReport {
    /// The report of `date` from its orders and its deliveries (others are ignored, so a
    /// caller may hand in a superset).
    pub fn compute(
        date: NaiveDate,
        orders: &[Order],
        deliveries: &[Delivery],
        generated_at: DateTime<Utc>,
    ) -> Self {
        let orders: Vec<&Order> = orders.iter().filter(|o| o.delivery_date == date).collect();
        let mut by_status: BTreeMap<String, u64> = OrderStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        let (mut revenue, mut counted) = (0u128, 0u128);
        let mut vendors: BTreeMap<Uuid, VendorSums> = BTreeMap::new();
        let mut products: HashMap<Uuid, ProductSums> = HashMap::new();
        let delivered_by = vendors_delivered(date, deliveries);
        for order in &orders {
            *by_status
                .entry(order.status.as_str().to_owned())
                .or_default() += 1;
            let Some(kept) = kept_money(order, &delivered_by) else {
                continue;
            };
            counted += 1;
            revenue += u128::from(kept.amount.amount);
            add_lines(order, &kept, &mut vendors, &mut products);
        }
        for delivery in deliveries.iter().filter(|d| d.delivery_date == date) {
            let sums = vendors.entry(delivery.vendor_id).or_default();
            match delivery.status {
                DeliveryStatus::Delivered => sums.done += 1,
                DeliveryStatus::Failed => sums.failed += 1,
                _ => {}
            }
        }
        Self {
            date,
            total_orders: orders.len() as u64,
            revenue: paise(revenue),
            average_order_value: paise(divide_half_up(revenue, counted)),
            orders_by_status: by_status,
            top_products: top_products(products),
            per_vendor: vendors
                .into_iter()
                .map(|(vendor_id, s)| VendorRow {
                    vendor_id,
                    orders: s.orders,
                    revenue: paise(s.revenue),
                    deliveries_done: s.done,
                    deliveries_failed: s.failed,
                })
                .collect(),
            generated_at,
        }
    }

    /// The same report with only `vendor_id`'s row (a vendor's view): the day's totals are
    /// the platform's, so a vendor sees its own figures only.
    pub fn row_of(&self, vendor_id: Uuid) -> Option<&VendorRow> {
        self.per_vendor
            .iter()
            .find(|row| row.vendor_id == vendor_id)
    }
}

/// What a counted order's money was kept for.
struct Kept {
    /// The part of the order's `total` kept.
    amount: Money,
    /// Whose lines it was kept for: `None` for every vendor's.
    vendors: Option<Vec<Uuid>>,
}

impl Kept {
    fn covers(&self, item: &OrderItem) -> bool {
        match &self.vendors {
            None => true,
            Some(vendors) => item.vendor_id.is_some_and(|v| vendors.contains(&v)),
        }
    }
}

/// Each order's vendors whose deliveries of `date` were made.
fn vendors_delivered(date: NaiveDate, deliveries: &[Delivery]) -> HashMap<Uuid, Vec<Uuid>> {
    let mut by_order: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let made = deliveries
        .iter()
        .filter(|d| d.delivery_date == date && d.status == DeliveryStatus::Delivered);
    for delivery in made {
        by_order
            .entry(delivery.order_id)
            .or_default()
            .push(delivery.vendor_id);
    }
    by_order
}

/// What of `order`'s money was kept, if any: all of it when it went ahead
/// ([`counts_as_revenue`]); the delivered lines' share when it was cancelled after some of
/// its vendors delivered (the cancel refunded the rest); nothing otherwise.
fn kept_money(order: &Order, delivered_by: &HashMap<Uuid, Vec<Uuid>>) -> Option<Kept> {
    if counts_as_revenue(order.status) {
        return Some(Kept {
            amount: order.total,
            vendors: None,
        });
    }
    let delivered = delivered_by.get(&order.order_id)?;
    let cancelled = order.status == OrderStatus::Cancelled || refunded_by_way_of_cancel(order);
    if !cancelled {
        return None;
    }
    let refunded = order.refund_due(order.total, delivered);
    Some(Kept {
        amount: Money {
            amount: order.total.amount - refunded.amount,
            ..order.total
        },
        vendors: Some(delivered.clone()),
    })
}

/// A counted order's fulfilled lines that its money was kept for, into its vendors' and
/// products' sums.
fn add_lines(
    order: &Order,
    kept: &Kept,
    vendors: &mut BTreeMap<Uuid, VendorSums>,
    products: &mut HashMap<Uuid, ProductSums>,
) {
    let fulfilled = || {
        order
            .items
            .iter()
            .filter(|item| item.fulfilled && kept.covers(item))
    };
    let mut seen: Vec<Uuid> = Vec::new();
    for item in fulfilled() {
        let product = products.entry(item.product_id).or_default();
        product.name.clone_from(&item.name);
        product.quantity += u64::from(item.quantity);
        product.revenue += line_value(item);
        if let Some(vendor_id) = item.vendor_id {
            let sums = vendors.entry(vendor_id).or_default();
            sums.revenue += line_value(item);
            if !seen.contains(&vendor_id) {
                seen.push(vendor_id);
                sums.orders += 1;
            }
        }
    }
}

fn top_products(products: HashMap<Uuid, ProductSums>) -> Vec<TopProduct> {
    let mut all: Vec<(Uuid, ProductSums)> = products.into_iter().collect();
    all.sort_by(|(a_id, a), (b_id, b)| {
        (b.revenue, b.quantity, a_id).cmp(&(a.revenue, a.quantity, b_id))
    });
    all.into_iter()
        .take(TOP_PRODUCTS)
        .map(|(product_id, s)| TopProduct {
            product_id,
            name: s.name,
            quantity: s.quantity,
            revenue: paise(s.revenue),
        })
        .collect()
}

/// DAILY_REPORT_READY v1 (admin-alerts): a day's report was stored (again, on a rerun).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyReportReady {
    pub date: NaiveDate,
    pub total_orders: u64,
    pub revenue: Money,
    pub generated_at: DateTime<Utc>,
}

impl Event for DailyReportReady {
    const TYPE: crate::events::EventType = crate::events::EventType::DailyReportReady;
    const VERSION: u32 = 1;
}

impl DailyReportReady {
    pub fn of(report: &DailyReport) -> Self {
        Self {
            date: report.date,
            total_orders: report.total_orders,
            revenue: report.revenue,
            generated_at: report.generated_at,
        }
    }

    /// The event's id: derived from the date and generatedAt, so a retried commit of the
    /// same run is refused as a replay while a rerun (a new generatedAt) announces anew.
    pub fn event_id(report: &DailyReport) -> Uuid {
        let name = format!(
            "daily-report|{}|{}",
            report.date,
            report.generated_at.to_rfc3339()
        );
        Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())
    }
}

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// Exactly `YYYY-MM` with a month 01–12.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const BAD: InvalidValue = InvalidValue("must be a month as YYYY-MM");
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match raw.split_once('-') {
            Some((y, m)) if y.len() == 4 && m.len() == 2 && digits(y) && digits(m) => {
                let (year, month) = (y.parse().map_err(|_| BAD)?, m.parse().map_err(|_| BAD)?);
                let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or(BAD)?;
                Ok(Self { first })
            }
            _ => Err(BAD),
        }
    }

    /// Every day of the month, in order.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        let month = self.first.month();
        self.first
            .iter_days()
            .take_while(move |d| d.month() == month)
    }

    pub fn contains(self, date: NaiveDate) -> bool {
        date.year() == self.first.year() && date.month() == self.first.month()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}

/// One day of a vendor's settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettlementDay {
    pub date: NaiveDate,
    /// The vendor's deliveries of the day that were DELIVERED.
    pub deliveries: u64,
    /// The value of the vendor's fulfilled items in those deliveries.
    pub delivered: Money,
    /// The part of `delivered` whose money went back to the customer (its order REFUNDED
    /// as a whole, not by way of CANCELLED: a cancel refunds only the lines not delivered),
    /// counted on the delivery's day.
    pub refunds: Money,
    /// (delivered − refunds) × commission ÷ 10,000, rounded half up to the paisa.
    pub commission: Money,
    /// delivered − refunds − commission.
    pub owed: Money,
}

/// A month's sums: each the sum of the days' column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettlementTotals {
    pub deliveries: u64,
    pub delivered: Money,
    pub refunds: Money,
    pub commission: Money,
    pub owed: Money,
}

/// What the platform owes a vendor for a month of deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settlement {
    pub vendor_id: Uuid,
    /// `YYYY-MM`.
    pub month: String,
    /// The platform's commission in basis points (800 = 8 %).
    pub commission_bps: u32,
    /// The days with at least one delivered delivery, in order.
    pub days: Vec<SettlementDay>,
    pub total: SettlementTotals,
}

#[derive(Default)]
struct DaySums {
    deliveries: u64,
    delivered: u128,
    refunds: u128,
}

impl Settlement {
    /// `vendor_id`'s settlement for `month` from its deliveries and the orders they belong
    /// to (`orders` by id; a delivery whose order is missing counts for nothing).
    pub fn compute(
        vendor_id: Uuid,
        month: Month,
        deliveries: &[Delivery],
        orders: &HashMap<Uuid, Order>,
        commission_bps: u32,
    ) -> Self {
        let mut days: BTreeMap<NaiveDate, DaySums> = BTreeMap::new();
        let delivered = deliveries.iter().filter(|d| {
            d.vendor_id == vendor_id
                && d.status == DeliveryStatus::Delivered
                && month.contains(d.delivery_date)
        });
        for delivery in delivered {
            let Some(order) = orders.get(&delivery.order_id) else {
                continue;
            };
            let value: u128 = order
                .items
                .iter()
                .filter(|item| item.fulfilled && item.vendor_id == Some(vendor_id))
                .map(line_value)
                .sum();
            let sums = days.entry(delivery.delivery_date).or_default();
            sums.deliveries += 1;
            sums.delivered += value;
            if gives_delivered_back(order) {
                sums.refunds += value;
            }
        }
        let days: Vec<SettlementDay> = days
            .into_iter()
            .map(|(date, sums)| settle_day(date, sums, commission_bps))
            .collect();
        let total = totals(&days);
        Self {
            vendor_id,
            month: month.to_string(),
            commission_bps,
            days,
            total,
        }
    }
}

/// Whether the order's money for what was delivered went back: only a refund of the whole
/// order (REFUNDED, not by way of CANCELLED: an admin's refund of a delivered order). A
/// cancel gives back only the lines that were not delivered, so a delivery made before
/// it is kept (SPEC §3 payments' `refunds`).
fn gives_delivered_back(order: &Order) -> bool {
    order.status == OrderStatus::Refunded && !refunded_by_way_of_cancel(order)
}

/// A REFUNDED order that was cancelled first: its refund was the cancel's, of the lines
/// not delivered.
fn refunded_by_way_of_cancel(order: &Order) -> bool {
    order.status == OrderStatus::Refunded
        && order
            .status_history
            .iter()
            .any(|change| change.status == OrderStatus::Cancelled)
}

fn settle_day(date: NaiveDate, sums: DaySums, bps: u32) -> SettlementDay {
    let net = sums.delivered - sums.refunds;
    let commission = divide_half_up(net * u128::from(bps), u128::from(MAX_COMMISSION_BPS));
    SettlementDay {
        date,
        deliveries: sums.deliveries,
        delivered: paise(sums.delivered),
        refunds: paise(sums.refunds),
        commission: paise(commission),
        owed: paise(net - commission),
    }
}

fn totals(days: &[SettlementDay]) -> SettlementTotals {
    let sum = |f: fn(&SettlementDay) -> u64| paise(days.iter().map(|d| u128::from(f(d))).sum());
    SettlementTotals {
        deliveries: days.iter().map(|d| d.deliveries).sum(),
        delivered: sum(|d| d.delivered.amount),
        refunds: sum(|d| d.refunds.amount),
        commission: sum(|d| d.commission.amount),
        owed: sum(|d| d.owed.amount),
    }
}

#[cfg(test)]
mod tests;

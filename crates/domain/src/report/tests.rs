use super::*;
use crate::order::tests::{at, item, order};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 12).unwrap()
}

const V1: Uuid = Uuid::from_u128(0xA1);
const V2: Uuid = Uuid::from_u128(0xA2);

/// An order of `day()` numbered `n`, in `status`, with `items` (their vendors set).
fn order_of(n: u128, status: OrderStatus, items: Vec<OrderItem>) -> Order {
    let mut order = order(items);
    order.order_id = Uuid::from_u128(1000 + n);
    order.status = status;
    crate::checkout::recompute_totals(&mut order).unwrap();
    order
}

fn line(product: u128, price: u64, quantity: u32, vendor: Uuid, fulfilled: bool) -> OrderItem {
    OrderItem {
        vendor_id: Some(vendor),
        fulfilled,
        ..item(product, price, quantity)
    }
}

fn delivery_of(order: &Order, vendor: Uuid, status: DeliveryStatus) -> Delivery {
    let mut delivery = Delivery::schedule_for(order, "test", at(6, 0))
        .into_iter()
        .find(|d| d.vendor_id == vendor)
        .unwrap();
    delivery.status = status;
    delivery
}

#[test]
fn revenue_counts_only_orders_that_went_ahead_with_their_money_kept() {
    use OrderStatus::*;
    let statuses = [
        Delivered,
        Confirmed,
        Preparing,
        OutForDelivery,
        Pending,
        PaymentPending,
        PaymentFailed,
        OnHold,
        Failed,
        Cancelled,
        Refunded,
    ];
    let orders: Vec<Order> = statuses
        .iter()
        .enumerate()
        .map(|(n, s)| order_of(n as u128, *s, vec![line(1, 1000, 1, V1, true)]))
        .collect();
    let report = DailyReport::compute(day(), &orders, &[], at(20, 0));
    assert_eq!(report.total_orders, 11);
    assert_eq!(report.revenue, Money::inr(4000));
    assert_eq!(report.average_order_value, Money::inr(1000));
    assert_eq!(report.orders_by_status.len(), OrderStatus::ALL.len());
    assert!(report.orders_by_status.values().all(|n| *n == 1));
    assert_eq!(report.per_vendor[0].orders, 4);
    assert_eq!(report.per_vendor[0].revenue, Money::inr(4000));
}

#[test]
fn the_average_is_rounded_half_up_to_the_paisa() {
    let three = |prices: [u64; 3]| -> Money {
        let orders: Vec<Order> = prices
            .iter()
            .enumerate()
            .map(|(n, p)| {
                order_of(
                    n as u128,
                    OrderStatus::Delivered,
                    vec![line(1, *p, 1, V1, true)],
                )
            })
            .collect();
        DailyReport::compute(day(), &orders, &[], at(20, 0)).average_order_value
    };
    // 1001 / 3 = 333.67 → 334; 1000 / 3 = 333.33 → 333; 2 / 4 would be 0.5 → 1.
    assert_eq!(three([1, 500, 500]), Money::inr(334));
    assert_eq!(three([0, 500, 500]), Money::inr(333));
    assert_eq!(divide_half_up(2, 4), 1);
    assert_eq!(divide_half_up(1, 4), 0);
    assert_eq!(divide_half_up(7, 0), 0);
    let none = DailyReport::compute(day(), &[], &[], at(20, 0));
    assert_eq!(
        (none.total_orders, none.average_order_value),
        (0, Money::inr(0))
    );
}

#[test]
fn a_partial_order_counts_its_fulfilled_items_only() {
    let partial = order_of(
        1,
        OrderStatus::Delivered,
        vec![line(1, 3000, 2, V1, true), line(2, 5000, 1, V2, false)],
    );
    let report = DailyReport::compute(day(), &[partial], &[], at(20, 0));
    assert_eq!(report.revenue, Money::inr(6000));
    assert_eq!(
        report.per_vendor.len(),
        1,
        "the short vendor delivers nothing"
    );
    assert_eq!(report.top_products.len(), 1);
    assert_eq!(report.top_products[0].quantity, 2);
}

#[test]
fn vendors_get_their_lines_orders_and_delivery_outcomes() {
    let both = order_of(
        1,
        OrderStatus::Delivered,
        vec![line(1, 1000, 2, V1, true), line(2, 700, 3, V2, true)],
    );
    let failed = order_of(2, OrderStatus::Cancelled, vec![line(2, 700, 1, V2, true)]);
    let deliveries = [
        delivery_of(&both, V1, DeliveryStatus::Delivered),
        delivery_of(&both, V2, DeliveryStatus::Delivered),
        delivery_of(&failed, V2, DeliveryStatus::Failed),
    ];
    let report = DailyReport::compute(day(), &[both, failed], &deliveries, at(20, 0));
    let (v1, v2) = (report.row_of(V1).unwrap(), report.row_of(V2).unwrap());
    assert_eq!(
        (v1.orders, v1.revenue, v1.deliveries_done),
        (1, Money::inr(2000), 1)
    );
    assert_eq!((v2.orders, v2.revenue), (1, Money::inr(2100)));
    assert_eq!((v2.deliveries_done, v2.deliveries_failed), (1, 1));
    assert_eq!(report.top_products[0].product_id, Uuid::from_u128(2));
}

#[test]
fn other_days_orders_and_deliveries_are_left_out() {
    let mut tomorrow = order_of(1, OrderStatus::Delivered, vec![line(1, 1000, 1, V1, true)]);
    tomorrow.delivery_date = day().succ_opt().unwrap();
    let delivery = delivery_of(&tomorrow, V1, DeliveryStatus::Delivered);
    let report = DailyReport::compute(day(), &[tomorrow], &[delivery], at(20, 0));
    assert_eq!((report.total_orders, report.per_vendor.len()), (0, 0));
}

#[test]
fn top_products_are_ten_at_most_by_revenue() {
    let orders: Vec<Order> = (1..=12)
        .map(|n| {
            order_of(
                n,
                OrderStatus::Delivered,
                vec![line(n, 100 * n as u64, 1, V1, true)],
            )
        })
        .collect();
    let report = DailyReport::compute(day(), &orders, &[], at(20, 0));
    let ids: Vec<u128> = report
        .top_products
        .iter()
        .map(|p| p.product_id.as_u128())
        .collect();
    assert_eq!(ids, (3..=12).rev().collect::<Vec<_>>());
}

#[test]
fn months_parse_exactly_and_list_their_days() {
    let feb = Month::parse("2024-02").unwrap();
    assert_eq!(feb.days().count(), 29);
    assert_eq!(feb.to_string(), "2024-02");
    assert!(feb.contains(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()));
    assert!(!feb.contains(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()));
    for bad in [
        "2024-13",
        "2024-00",
        "2024-2",
        "24-02",
        "2024-02-01",
        "",
        "abcd-ef",
        "+024-02",
    ] {
        assert!(Month::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn settlement_rounds_commission_half_up_per_day_and_owes_the_rest() {
    let month = Month::parse("2025-03").unwrap();
    // 8 % of 12,578 = 1,006.24 → 1,006 (the refunded 4,000 bears none); 8 % of 12,582 =
    // 1,006.56 → 1,007.
    let kept = order_of(
        1,
        OrderStatus::Delivered,
        vec![line(1, 12_578, 1, V1, true)],
    );
    let refunded = order_of(2, OrderStatus::Refunded, vec![line(1, 4_000, 1, V1, true)]);
    let mut next_day = order_of(
        3,
        OrderStatus::Delivered,
        vec![line(1, 12_582, 1, V1, true), line(2, 999, 1, V2, true)],
    );
    next_day.delivery_date = day().succ_opt().unwrap();
    let failed = order_of(
        4,
        OrderStatus::Cancelled,
        vec![line(1, 50_000, 1, V1, true)],
    );
    let deliveries = [
        delivery_of(&kept, V1, DeliveryStatus::Delivered),
        delivery_of(&refunded, V1, DeliveryStatus::Delivered),
        delivery_of(&next_day, V1, DeliveryStatus::Delivered),
        delivery_of(&next_day, V2, DeliveryStatus::Delivered),
        delivery_of(&failed, V1, DeliveryStatus::Failed),
    ];
    let orders: HashMap<Uuid, Order> = [kept, refunded, next_day, failed]
        .into_iter()
        .map(|o| (o.order_id, o))
        .collect();
    let settlement = Settlement::compute(V1, month, &deliveries, &orders, 800);
    let first = &settlement.days[0];
    assert_eq!(first.delivered, Money::inr(16_578));
    assert_eq!(first.refunds, Money::inr(4_000));
    assert_eq!(first.commission, Money::inr(1_006));
    assert_eq!(first.owed, Money::inr(12_578 - 1_006));
    let second = &settlement.days[1];
    assert_eq!(
        (second.delivered, second.commission),
        (Money::inr(12_582), Money::inr(1_007))
    );
    assert_eq!(
        settlement.days.len(),
        2,
        "the failed delivery's day has nothing delivered"
    );
    assert_eq!(settlement.total.commission, Money::inr(2_013));
    assert_eq!(settlement.total.deliveries, 3);
    let t = &settlement.total;
    assert_eq!(
        t.owed.amount,
        t.delivered.amount - t.refunds.amount - t.commission.amount
    );
}

fn moved(order: &mut Order, to: OrderStatus) {
    order.move_to(to, "test", None, at(9, 0)).unwrap();
}

/// Order `n` of `day()`, confirmed and then cancelled, its history saying so.
fn cancelled_after_confirming(n: u128, items: Vec<OrderItem>) -> Order {
    let mut order = order_of(n, OrderStatus::Cancelled, items);
    for to in [
        OrderStatus::PaymentPending,
        OrderStatus::Confirmed,
        OrderStatus::Cancelled,
    ] {
        order.status = order.status_history.last().unwrap().status;
        moved(&mut order, to);
    }
    order
}

/// Order `n` of `day()`, REFUNDED as a whole after it was delivered (an admin's refund),
/// never cancelled.
fn refunded_after_delivery(n: u128, items: Vec<OrderItem>) -> Order {
    let mut order = order_of(n, OrderStatus::Refunded, items);
    order.status_history.last_mut().unwrap().status = OrderStatus::Delivered;
    order
}

#[test]
fn a_delivery_kept_when_its_order_was_cancelled_is_no_refund() {
    let items = vec![line(1, 6_000, 2, V1, true), line(2, 4_000, 1, V2, true)];
    let cancelled = cancelled_after_confirming(1, items.clone());
    let mut partly_refunded = cancelled.clone();
    partly_refunded.order_id = Uuid::from_u128(2000);
    moved(&mut partly_refunded, OrderStatus::Refunded);
    let refunded_whole = refunded_after_delivery(3, items);
    let orders = [cancelled, partly_refunded, refunded_whole];
    let deliveries: Vec<Delivery> = orders
        .iter()
        .map(|o| delivery_of(o, V1, DeliveryStatus::Delivered))
        .collect();
    let orders: HashMap<Uuid, Order> = orders.into_iter().map(|o| (o.order_id, o)).collect();
    let month = Month::parse("2025-03").unwrap();
    let day = &Settlement::compute(V1, month, &deliveries, &orders, 800).days[0];
    assert_eq!(day.delivered, Money::inr(36_000));
    assert_eq!(
        day.refunds,
        Money::inr(12_000),
        "only the order refunded whole gave V1's delivered milk back"
    );
}

#[test]
fn settlement_leaves_out_other_months_and_missing_orders() {
    let mut april = order_of(1, OrderStatus::Delivered, vec![line(1, 1000, 1, V1, true)]);
    april.delivery_date = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
    let lost = order_of(2, OrderStatus::Delivered, vec![line(1, 1000, 1, V1, true)]);
    let deliveries = [
        delivery_of(&april, V1, DeliveryStatus::Delivered),
        delivery_of(&lost, V1, DeliveryStatus::Delivered),
    ];
    let orders = HashMap::from([(april.order_id, april)]);
    let settlement = Settlement::compute(
        V1,
        Month::parse("2025-03").unwrap(),
        &deliveries,
        &orders,
        800,
    );
    assert!(settlement.days.is_empty());
    assert_eq!(
        (settlement.total.deliveries, settlement.total.owed),
        (0, Money::inr(0))
    );
}

#[test]
fn a_cancelled_order_counts_what_its_delivered_vendors_kept_as_their_settlement_does() {
    let items = vec![line(1, 6_000, 2, V1, true), line(2, 4_000, 1, V2, true)];
    let mut cancelled = cancelled_after_confirming(1, items.clone());
    cancelled.discount = Money::inr(1_000);
    crate::checkout::recompute_totals(&mut cancelled).unwrap();
    let mut refunded_after = cancelled_after_confirming(2, items.clone());
    moved(&mut refunded_after, OrderStatus::Refunded);
    let undelivered = cancelled_after_confirming(3, items.clone());
    let refunded_whole = refunded_after_delivery(4, items);
    let deliveries = [
        delivery_of(&cancelled, V1, DeliveryStatus::Delivered),
        delivery_of(&cancelled, V2, DeliveryStatus::Failed),
        delivery_of(&refunded_after, V1, DeliveryStatus::Delivered),
        delivery_of(&refunded_after, V2, DeliveryStatus::Failed),
        delivery_of(&undelivered, V1, DeliveryStatus::Failed),
        delivery_of(&refunded_whole, V1, DeliveryStatus::Delivered),
    ];
    let orders = [cancelled, refunded_after, undelivered, refunded_whole];
    let report = DailyReport::compute(day(), &orders, &deliveries, at(20, 0));

    // V1's 12,000 of the 16,000 subtotal: 11,250 of the 15,000 paid, and 12,000 of 16,000.
    assert_eq!(report.revenue, Money::inr(11_250 + 12_000));
    assert_eq!(report.average_order_value, Money::inr(11_625));
    let (v1, v2) = (report.row_of(V1).unwrap(), report.row_of(V2).unwrap());
    assert_eq!(
        (v1.orders, v1.revenue, v1.deliveries_done),
        (2, Money::inr(24_000), 3)
    );
    assert_eq!(
        (v2.orders, v2.revenue, v2.deliveries_failed),
        (0, Money::inr(0), 2),
        "the failed vendor's lines were refunded"
    );
    let products: Vec<(u128, u64)> = report
        .top_products
        .iter()
        .map(|p| (p.product_id.as_u128(), p.quantity))
        .collect();
    assert_eq!(products, vec![(1, 4)]);

    let orders: HashMap<Uuid, Order> = orders.into_iter().map(|o| (o.order_id, o)).collect();
    let month = Month::parse("2025-03").unwrap();
    let settled = Settlement::compute(V1, month, &deliveries, &orders, 800).total;
    assert_eq!(
        settled.delivered.amount - settled.refunds.amount,
        v1.revenue.amount,
        "the report's V1 row and V1's settlement count the same delivered lines"
    );
}

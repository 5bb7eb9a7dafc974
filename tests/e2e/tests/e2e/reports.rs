//! The daily report and vendor settlements end to end (SPEC §3 DailyReport, §4 report
//! routes, §6): a day of orders built through the real checkout (delivered, a delivery
//! failed, cancelled by its owner, refunded by an admin, partial, payment declined, one of
//! two vendors, one of two vendors delivered and then cancelled by an admin), the report job run by `POST /jobs/daily-report`, and every figure of the
//! stored report checked against sums computed here, independently, from the day's orders
//! and their deliveries as `GET /orders` and `GET /orders/{id}` show them; then the report as
//! a vendor, and the settlement.
//!
//! The day is 17 days ahead, a date no other module orders for, so the orders of that date
//! are this test's (and those of earlier runs on the same data, which the sums include too).

use std::collections::{BTreeMap, HashMap};

use milkrun_e2e::*;

use crate::fulfilment::{stocked_product, vendor_at};
use crate::helpers::*;

const TO_THE_DOOR: [&str; 4] = ["ASSIGNED", "PICKED_UP", "IN_TRANSIT", "DELIVERED"];
const COUNTED: [&str; 4] = ["CONFIRMED", "PREPARING", "OUT_FOR_DELIVERY", "DELIVERED"];

fn report_date() -> String {
    kolkata_date(17)
}

fn amount(money: &Value) -> u64 {
    money["amount"]
        .as_u64()
        .unwrap_or_else(|| panic!("no amount: {money}"))
}

fn half_up(numerator: u64, denominator: u64) -> u64 {
    (numerator + denominator / 2)
        .checked_div(denominator)
        .unwrap_or(0)
}

struct Day {
    admin: String,
    vendor_a: String,
    user_a: String,
    vendor_b: String,
    user_b: String,
    milk: (String, [String; 2]),
    curd: (String, [String; 2]),
    customers: Vec<String>,
}

impl Day {
    async fn new() -> Self {
        let admin = admin_token().await;
        let pincode = fresh_pincode();
        let (vendor_a, user_a) = vendor_at(&admin, &pincode).await;
        let (vendor_b, user_b) = vendor_at(&admin, &pincode).await;
        let milk = stocked_product(&admin, &vendor_a, 100).await;
        // B holds 5 of each: the partial order asks for more.
        let curd = stocked_product(&admin, &vendor_b, 5).await;
        let mut customers = Vec::new();
        for _ in 0..3 {
            customers.push(customer_at(&pincode).await.1);
        }
        Self {
            admin,
            vendor_a,
            user_a,
            vendor_b,
            user_b,
            milk,
            curd,
            customers,
        }
    }

    fn line(product: &(String, [String; 2]), variant: usize, quantity: u32) -> Value {
        json!({"productId": product.0, "variantId": product.1[variant], "quantity": quantity})
    }

    /// Places `items` for the report date as customer `c` and waits for it to settle.
    async fn order(&self, c: usize, items: Value, extra: Value) -> Value {
        let mut body = json!({"items": items, "deliveryDate": report_date(),
                              "deliverySlot": "MORNING", "paymentMethod": "CARD"});
        for (field, value) in extra.as_object().unwrap() {
            body[field] = value.clone();
        }
        let placed = call(
            Method::POST,
            "/orders",
            Some(&self.customers[c]),
            Some(body),
        )
        .await;
        expect(&placed, StatusCode::CREATED);
        // On emulated AWS each function serves one invocation at a time, and the other
        // modules' checkouts (two hundred at once in one of them) queue before this one.
        let deadline = std::time::Instant::now() + 4 * SETTLE;
        settled_by(&self.customers[c], &text(&placed.body["orderId"]), deadline).await
    }

    /// Moves the order's delivery by `vendor` through `steps` as that vendor's user.
    async fn deliver(&self, order: &Value, vendor: &str, steps: &[&str]) {
        let user = if vendor == self.vendor_a {
            &self.user_a
        } else {
            &self.user_b
        };
        let delivery = order["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["vendorId"] == vendor)
            .unwrap_or_else(|| panic!("no delivery of {vendor}: {order}"));
        let path = format!("/deliveries/{}", text(&delivery["deliveryId"]));
        for step in steps {
            let moved = call(
                Method::PATCH,
                &path,
                Some(user),
                Some(json!({"status": step})),
            )
            .await;
            expect(&moved, StatusCode::OK);
        }
    }

    async fn status(&self, order: &Value) -> String {
        text(&read_order(&self.admin, &text(&order["orderId"])).await.body["status"])
    }
}

/// Every order of the report date, with its deliveries, as an admin reads them.
async fn orders_of_day(admin: &str) -> Vec<Value> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/orders?limit=100&cursor={c}"),
            None => "/orders?limit=100".to_owned(),
        };
        let page = call(Method::GET, &path, Some(admin), None).await;
        expect(&page, StatusCode::OK);
        for order in page.body["items"].as_array().unwrap() {
            if order["deliveryDate"] == report_date() {
                ids.push(text(&order["orderId"]));
            }
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut orders = Vec::new();
    for id in ids {
        orders.push(read_order(admin, &id).await.body);
    }
    orders
}

/// The report's figures, summed here from `orders`: (total, byStatus, revenue, counted,
/// perVendor {vendor: [orders, revenue, done, failed]}, products {id: (units, revenue)}).
struct Sums {
    total: u64,
    by_status: BTreeMap<String, u64>,
    revenue: u64,
    counted: u64,
    vendors: BTreeMap<String, [u64; 4]>,
    products: HashMap<String, (u64, u64)>,
}

fn sums(orders: &[Value]) -> Sums {
    let mut s = Sums {
        total: orders.len() as u64,
        by_status: BTreeMap::new(),
        revenue: 0,
        counted: 0,
        vendors: BTreeMap::new(),
        products: HashMap::new(),
    };
    for order in orders {
        let status = text(&order["status"]);
        *s.by_status.entry(status.clone()).or_default() += 1;
        for delivery in order["deliveries"].as_array().unwrap() {
            let row = s.vendors.entry(text(&delivery["vendorId"])).or_default();
            match delivery["status"].as_str() {
                Some("DELIVERED") => row[2] += 1,
                Some("FAILED") => row[3] += 1,
                _ => {}
            }
        }
        // A cancelled order some of whose vendors delivered counts for what its payment
        // kept (the cancel refunded the rest), and for those vendors' lines only.
        let delivered_by = delivered_by(order);
        let (kept, theirs) = if COUNTED.contains(&status.as_str()) {
            (amount(&order["total"]), None)
        } else if cancelled_first(order) && !delivered_by.is_empty() {
            let payment = &order["payment"];
            assert!(
                payment.is_object(),
                "the day's orders are paid by card: {order}"
            );
            let kept = amount(&payment["amount"]) - amount(&payment["refundedAmount"]);
            (kept, Some(delivered_by))
        } else {
            continue;
        };
        s.counted += 1;
        s.revenue += kept;
        let mut seen = Vec::new();
        let counted_line = |i: &&Value| {
            i["fulfilled"] == true
                && theirs
                    .as_ref()
                    .is_none_or(|vendors| vendors.contains(&text(&i["vendorId"])))
        };
        for item in order["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(counted_line)
        {
            let value = amount(&item["unitPrice"]) * item["quantity"].as_u64().unwrap();
            let product = s.products.entry(text(&item["productId"])).or_default();
            product.0 += item["quantity"].as_u64().unwrap();
            product.1 += value;
            let vendor = text(&item["vendorId"]);
            let row = s.vendors.entry(vendor.clone()).or_default();
            row[1] += value;
            if !seen.contains(&vendor) {
                seen.push(vendor);
                row[0] += 1;
            }
        }
    }
    s
}

/// The vendors whose deliveries of `order` were made.
fn delivered_by(order: &Value) -> Vec<String> {
    let deliveries = order["deliveries"].as_array().unwrap().iter();
    deliveries
        .filter(|d| d["status"] == "DELIVERED")
        .map(|d| text(&d["vendorId"]))
        .collect()
}

/// Whether the order was cancelled (and maybe refunded after): a cancel refunds only what
/// was not delivered.
fn cancelled_first(order: &Value) -> bool {
    let history = order["statusHistory"].as_array().unwrap();
    history.iter().any(|change| change["status"] == "CANCELLED")
}

fn check_report(report: &Value, orders: &[Value]) {
    let s = sums(orders);
    assert_eq!(report["date"], report_date());
    assert_eq!(report["totalOrders"], s.total, "{report}");
    assert_eq!(amount(&report["revenue"]), s.revenue, "{report}");
    assert_eq!(
        amount(&report["averageOrderValue"]),
        half_up(s.revenue, s.counted)
    );
    for (status, count) in report["ordersByStatus"].as_object().unwrap() {
        assert_eq!(
            count.as_u64().unwrap(),
            *s.by_status.get(status).unwrap_or(&0),
            "{status}"
        );
    }
    let rows = report["perVendor"].as_array().unwrap();
    assert_eq!(rows.len(), s.vendors.len(), "{report}");
    for row in rows {
        let expected = s.vendors[&text(&row["vendorId"])];
        let got = [
            row["orders"].as_u64().unwrap(),
            amount(&row["revenue"]),
            row["deliveriesDone"].as_u64().unwrap(),
            row["deliveriesFailed"].as_u64().unwrap(),
        ];
        assert_eq!(got, expected, "{row}");
    }
    let top = report["topProducts"].as_array().unwrap();
    assert_eq!(top.len(), s.products.len().min(10));
    for product in top {
        let (units, value) = s.products[&text(&product["productId"])];
        assert_eq!(product["quantity"], units, "{product}");
        assert_eq!(amount(&product["revenue"]), value, "{product}");
    }
}

/// The settlement's day row for `vendor`, summed here from `orders`.
fn settlement_day(orders: &[Value], vendor: &str) -> (u64, u64, u64) {
    let (mut delivered, mut refunds) = (0, 0);
    for order in orders {
        let done = order["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["vendorId"] == vendor && d["status"] == "DELIVERED");
        if !done {
            continue;
        }
        let value: u64 = order["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["fulfilled"] == true && i["vendorId"] == vendor)
            .map(|i| amount(&i["unitPrice"]) * i["quantity"].as_u64().unwrap())
            .sum();
        delivered += value;
        // Delivered value goes back only with an order refunded as a whole (never by way
        // of CANCELLED).
        if order["status"] == "REFUNDED" && !cancelled_first(order) {
            refunds += value;
        }
    }
    (
        delivered,
        refunds,
        half_up((delivered - refunds) * 800, 10_000),
    )
}

/// A two-vendor order whose milk A delivered, then cancelled by an admin: only B's curd is
/// refunded, and the payment records it (SUCCEEDED, `refundedAmount`, one refund); A's
/// delivered milk stays in A's settlement with no refund.
async fn kept_in_part(day: &Day) -> Value {
    let milk = Day::line(&day.milk, 0, 2);
    let curd = Day::line(&day.curd, 0, 1);
    let order = day.order(2, json!([milk, curd]), json!({})).await;
    day.deliver(&order, &day.vendor_a, &TO_THE_DOOR).await;
    let id = text(&order["orderId"]);
    let path = format!("/orders/{id}/cancel");
    let cancel = call(Method::POST, &path, Some(&day.admin), None).await;
    expect(&cancel, StatusCode::OK);
    let order = read_order(&day.admin, &id).await.body;
    let value = |vendor: &str| -> u64 {
        let items = order["items"].as_array().unwrap().iter();
        let theirs = items.filter(|i| i["fulfilled"] == true && i["vendorId"] == vendor);
        theirs
            .map(|i| amount(&i["unitPrice"]) * i["quantity"].as_u64().unwrap())
            .sum()
    };
    let (milk_value, curd_value) = (value(&day.vendor_a), value(&day.vendor_b));
    assert!(milk_value > 0 && curd_value > 0, "{order}");
    let payment = &order["payment"];
    assert_eq!(payment["status"], "SUCCEEDED", "{order}");
    assert_eq!(amount(&payment["amount"]), milk_value + curd_value);
    assert_eq!(amount(&payment["refundedAmount"]), curd_value, "{payment}");
    let refunds = payment["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{payment}");
    assert_eq!(amount(&refunds[0]["amount"]), curd_value);
    assert_eq!(refunds[0]["reason"], "UNDELIVERED_LINES");
    order
}

#[tokio::test]
async fn reports_the_day_as_its_orders_sum_and_settles_each_vendor() {
    let day = Day::new().await;
    let (a, b) = (day.vendor_a.clone(), day.vendor_b.clone());
    let milk = |v, q| Day::line(&day.milk, v, q);
    let curd = |v, q| Day::line(&day.curd, v, q);

    let delivered = day.order(0, json!([milk(0, 2)]), json!({})).await;
    day.deliver(&delivered, &a, &TO_THE_DOOR).await;
    let failed = day.order(0, json!([milk(1, 1)]), json!({})).await;
    day.deliver(&failed, &a, &["ASSIGNED", "FAILED"]).await;
    let cancelled = day.order(1, json!([milk(0, 1)]), json!({})).await;
    let path = format!("/orders/{}/cancel", text(&cancelled["orderId"]));
    expect(
        &call(Method::POST, &path, Some(&day.customers[1]), None).await,
        StatusCode::OK,
    );
    let refunded = day.order(1, json!([milk(1, 2)]), json!({})).await;
    day.deliver(&refunded, &a, &TO_THE_DOOR).await;
    let path = format!("/orders/{}/status", text(&refunded["orderId"]));
    let refund = call(
        Method::PATCH,
        &path,
        Some(&day.admin),
        Some(json!({"status": "REFUNDED"})),
    );
    expect(&refund.await, StatusCode::OK);
    let partial = day
        .order(
            2,
            json!([milk(0, 1), curd(0, 9)]),
            json!({"allowPartial": true}),
        )
        .await;
    assert_eq!(partial["flags"]["partialFulfillment"], true, "{partial}");
    day.deliver(&partial, &a, &TO_THE_DOOR).await;
    let declined = day
        .order(
            2,
            json!([milk(0, 1)]),
            json!({"paymentToken": "tok_decline"}),
        )
        .await;
    assert_eq!(declined["status"], "PAYMENT_FAILED", "{declined}");
    let both = day
        .order(2, json!([milk(1, 1), curd(1, 2)]), json!({}))
        .await;
    day.deliver(&both, &a, &TO_THE_DOOR).await;
    day.deliver(&both, &b, &TO_THE_DOOR).await;
    let kept = kept_in_part(&day).await;
    // Money that went back moves a cancelled order on to REFUNDED.
    let gone = ["CANCELLED", "REFUNDED"];
    for (order, statuses) in [
        (&delivered, &["DELIVERED"][..]),
        (&failed, &gone[..]),
        (&cancelled, &gone[..]),
        (&refunded, &["REFUNDED"][..]),
        (&partial, &["DELIVERED"][..]),
        (&both, &["DELIVERED"][..]),
        (&kept, &["REFUNDED"][..]),
    ] {
        let status = day.status(order).await;
        assert!(statuses.contains(&status.as_str()), "{status}: {order}");
    }

    let path = format!("/jobs/daily-report?date={}", report_date());
    let run = call(Method::POST, &path, Some(&day.admin), None).await;
    expect(&run, StatusCode::OK);
    let orders = orders_of_day(&day.admin).await;
    assert_eq!(run.body["totalOrders"], orders.len() as u64, "{}", run.text);
    let path = format!("/reports/daily?date={}", report_date());
    let whole = call(Method::GET, &path, Some(&day.admin), None).await;
    expect(&whole, StatusCode::OK);
    check_report(&whole.body, &orders);
    assert_eq!(whole.body["generatedAt"], run.body["generatedAt"]);

    // A rerun replaces the report (a new generatedAt), the figures unchanged.
    let path = format!("/jobs/daily-report?date={}", report_date());
    let rerun = call(Method::POST, &path, Some(&day.admin), None).await;
    expect(&rerun, StatusCode::OK);
    let path = format!("/reports/daily?date={}", report_date());
    let again = call(Method::GET, &path, Some(&day.admin), None).await;
    assert_ne!(again.body["generatedAt"], whole.body["generatedAt"]);
    assert_eq!(again.body["perVendor"], whole.body["perVendor"]);

    // A vendor reads its own row only; a customer nothing; a day without a report is 404.
    let own = call(Method::GET, &path, Some(&day.user_b), None).await;
    expect(&own, StatusCode::OK);
    let b_row = whole.body["perVendor"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["vendorId"] == b);
    assert_eq!(
        own.body["perVendor"],
        json!([b_row.unwrap()]),
        "{}",
        own.text
    );
    assert!(own.body.get("revenue").is_none(), "{}", own.text);
    let customer = call(Method::GET, &path, Some(&day.customers[0]), None).await;
    assert_error(&customer, StatusCode::FORBIDDEN, "FORBIDDEN");
    let none = call(
        Method::GET,
        "/reports/daily?date=1999-01-01",
        Some(&day.admin),
        None,
    )
    .await;
    assert_error(&none, StatusCode::NOT_FOUND, "NOT_FOUND");
    // Spelled as the document's pattern allows, but no day: nothing is stored for it.
    let no_day = call(
        Method::GET,
        "/reports/daily?date=2025-02-30",
        Some(&day.admin),
        None,
    )
    .await;
    assert_error(&no_day, StatusCode::NOT_FOUND, "NOT_FOUND");
    let bad = call(
        Method::GET,
        "/reports/daily?date=2025-2-3",
        Some(&day.admin),
        None,
    )
    .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    // The settlement of A's month: the report day's row, summed here.
    let month = &report_date()[..7];
    let path = format!("/reports/settlement?vendorId={a}&month={month}");
    let settled = call(Method::GET, &path, Some(&day.admin), None).await;
    expect(&settled, StatusCode::OK);
    let row = settled.body["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == report_date())
        .unwrap_or_else(|| panic!("no row for the day: {}", settled.text))
        .clone();
    let (value, refunds, commission) = settlement_day(&orders, &a);
    assert!(
        refunds > 0 && value > refunds,
        "the day has a refund: {row}"
    );
    assert_eq!(
        [
            amount(&row["delivered"]),
            amount(&row["refunds"]),
            amount(&row["commission"])
        ],
        [value, refunds, commission],
        "{row}"
    );
    assert_eq!(amount(&row["owed"]), value - refunds - commission);
    let mine = call(Method::GET, &path, Some(&day.user_a), None).await;
    assert_eq!(
        mine.body, settled.body,
        "the vendor reads its own as the admin does"
    );
    let other = call(Method::GET, &path, Some(&day.user_b), None).await;
    assert_error(&other, StatusCode::FORBIDDEN, "FORBIDDEN");
    let path = format!("/reports/settlement?vendorId={a}&month=2025-13");
    let bad = call(Method::GET, &path, Some(&day.admin), None).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

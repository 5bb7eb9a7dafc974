//! Orders end to end (SPEC §3 order model, §4 order routes, §5 checkout): the asynchronous
//! checkout to PREPARING and each way it fails, fraud holds and a manager's decision,
//! cancels and refunds, bad input, idempotency, concurrent checkouts for scarce stock and a
//! vendor's daily capacity, and who may touch an order.
//!
//! Every test builds its own world (vendor, product, stock, customers with a complete
//! profile) on a fresh pincode, so tests never share stock, vendors or fraud history. Order
//! totals stay under ₹2,500 except where a fraud hold is wanted: every e2e account is on a
//! new device, and the NEW_DEVICE_HIGH_AMOUNT rule holds a new device's order above half
//! the fraud limit. A customer places at most 4 orders: the fifth within an hour is held
//! (MANY_RECENT_ORDERS), so the concurrency tests spread their orders over customers.

use std::time::{Duration, Instant};

use futures::future::join_all;
use milkrun_e2e::*;

use crate::helpers::*;

/// Orders one customer may place before MANY_RECENT_ORDERS holds the next.
const ORDERS_PER_CUSTOMER: usize = 4;

fn local() -> bool {
    std::env::var("MILKRUN_E2E_TARGET").is_ok_and(|target| target == "local")
}

/// How long a batch of `orders` placed at once may take to settle: on emulated AWS every
/// checkout is ~12 Lambda invocations through one moto process that serves one request at a
/// time (and CI builds the arm64 functions beside it), so a batch of 200 takes minutes.
fn batch_deadline(orders: usize) -> Instant {
    let per_order = if local() { 500 } else { 2_000 };
    Instant::now() + SETTLE + Duration::from_millis(per_order) * orders as u32
}

// --- the world ------------------------------------------------------------------------

/// A vendor with its own product (two variants at [`PRICES`]), stocked.
struct Shop {
    vendor: String,
    product: String,
    variants: [String; 2],
}

async fn vendor(admin: &str, body: Value) -> String {
    let created = call(Method::POST, "/vendors", Some(admin), Some(body)).await;
    expect(&created, StatusCode::CREATED);
    text(&created.body["vendorId"])
}

/// A product sold by `vendors`, each with `stock` units of both variants.
async fn product(admin: &str, vendors: &[&str], stock: u32) -> (String, [String; 2]) {
    let variant = |i: usize| {
        let (name, price) = (["500ml", "1L"][i], PRICES[i]);
        json!({"name": name, "price": {"amount": price}, "unit": "packet"})
    };
    let body = json!({"name": format!("Order milk {}", Uuid::new_v4().simple()), "category": "MILK",
                      "variants": [variant(0), variant(1)], "vendorIds": vendors});
    let created = call(Method::POST, "/products", Some(admin), Some(body)).await;
    expect(&created, StatusCode::CREATED);
    let product = text(&created.body["productId"]);
    let variants = [0, 1].map(|i| text(&created.body["variants"][i]["variantId"]));
    for vendor in vendors {
        for variant in &variants {
            let path = format!("/inventory/{vendor}/{product}/{variant}");
            let set = json!({"operation": "SET", "quantity": stock});
            expect(
                &call(Method::PUT, &path, Some(admin), Some(set)).await,
                StatusCode::OK,
            );
        }
    }
    (product, variants)
}

/// (stock, reserved) of one variant at one vendor.
async fn inventory(admin: &str, vendor: &str, product: &str, variant: &str) -> (u64, u64) {
    let path = format!("/inventory?vendorId={vendor}&limit=100");
    let rows = call(Method::GET, &path, Some(admin), None).await;
    expect(&rows, StatusCode::OK);
    let row = rows.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["productId"] == product && r["variantId"] == variant)
        .unwrap_or_else(|| panic!("no inventory row for {product}/{variant}: {}", rows.text))
        .clone();
    (
        row["stock"].as_u64().unwrap(),
        row["reserved"].as_u64().unwrap(),
    )
}

/// Everything one test needs, on a pincode of its own.
struct World {
    admin: String,
    pincode: String,
    shop: Shop,
    customer: String,
}

impl World {
    async fn new(stock: u32) -> Self {
        let admin = admin_token().await;
        let pincode = fresh_pincode();
        let shop = Self::open_shop(&admin, vendor_body(&[&pincode]), stock).await;
        let customer = customer_at(&pincode).await.1;
        Self {
            admin,
            pincode,
            shop,
            customer,
        }
    }

    async fn open_shop(admin: &str, vendor_body: Value, stock: u32) -> Shop {
        let vendor = vendor(admin, vendor_body).await;
        let (product, variants) = product(admin, &[&vendor], stock).await;
        Shop {
            vendor,
            product,
            variants,
        }
    }

    /// Another vendor serving this world's pincode, with a product of its own.
    async fn another_shop(&self, stock: u32) -> Shop {
        Self::open_shop(&self.admin, vendor_body(&[&self.pincode]), stock).await
    }

    async fn customer(&self) -> String {
        customer_at(&self.pincode).await.1
    }

    /// `count` customers, created concurrently.
    async fn customers(&self, count: usize) -> Vec<String> {
        join_all((0..count).map(|_| self.customer())).await
    }

    async fn stock(&self, shop: &Shop, variant: usize) -> (u64, u64) {
        inventory(
            &self.admin,
            &shop.vendor,
            &shop.product,
            &shop.variants[variant],
        )
        .await
    }
}

fn line(shop: &Shop, variant: usize, quantity: u32) -> Value {
    json!({"productId": shop.product, "variantId": shop.variants[variant], "quantity": quantity})
}

/// A valid order of `items` for the day after tomorrow, paid by card.
fn order_body(items: Value) -> Value {
    json!({"items": items, "deliveryDate": kolkata_date(2), "deliverySlot": "MORNING",
           "paymentMethod": "CARD"})
}

/// `body` with `extra`'s fields set (a `null` removes the field).
fn with(mut body: Value, extra: Value) -> Value {
    for (field, value) in extra.as_object().unwrap() {
        match value {
            Value::Null => body.as_object_mut().unwrap().remove(field),
            _ => body
                .as_object_mut()
                .unwrap()
                .insert(field.clone(), value.clone()),
        };
    }
    body
}

// --- placing and following orders -------------------------------------------------------

async fn post_order(token: &str, body: Value, key: Option<&str>) -> Reply {
    let mut request = client()
        .post(format!("{}/orders", base()))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    reply(request).await
}

/// Places the order (201 PENDING) and answers its id.
async fn place(token: &str, body: Value) -> String {
    let placed = post_order(token, body, None).await;
    expect(&placed, StatusCode::CREATED);
    assert_eq!(placed.body["status"], "PENDING", "{}", placed.text);
    text(&placed.body["orderId"])
}

/// Places and settles an order.
async fn checkout(token: &str, body: Value) -> Value {
    let id = place(token, body).await;
    settled(token, &id).await
}

/// Places each (customer, body) at once; answers the order ids.
async fn place_all(orders: Vec<(&str, Value)>) -> Vec<String> {
    join_all(orders.into_iter().map(|(token, body)| place(token, body))).await
}

/// Settles every order (one at a time, so the polling stays light), all within one
/// deadline that grows with the batch.
async fn settle_all(token: &str, ids: &[String]) -> Vec<Value> {
    let deadline = batch_deadline(ids.len());
    let mut settled = Vec::with_capacity(ids.len());
    for id in ids {
        settled.push(settled_by(token, id, deadline).await);
    }
    settled
}

fn statuses(order: &Value) -> Vec<String> {
    order["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| text(&change["status"]))
        .collect()
}

/// The reason recorded when the order moved to `status`.
fn reason(order: &Value, status: &str) -> String {
    let history = order["statusHistory"].as_array().unwrap();
    let change = history.iter().rev().find(|c| c["status"] == status);
    change.map_or_else(String::new, |c| {
        c["reason"].as_str().unwrap_or("").to_owned()
    })
}

fn assert_status(order: &Value, status: &str) {
    assert_eq!(order["status"], status, "{order}");
}

fn assert_failed(order: &Value, why: &str) {
    assert_status(order, "FAILED");
    assert_eq!(reason(order, "FAILED"), why, "{order}");
}

/// Each (vendor, SCHEDULED) of the order's deliveries, by vendor.
fn deliveries(order: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = order["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (text(&d["vendorId"]), text(&d["status"])))
        .collect();
    found.sort();
    found
}

/// Whether any of the order's items went to `vendor`.
fn served_by(order: &Value, vendor: &str) -> bool {
    let items = order["items"].as_array().unwrap();
    items.iter().any(|item| item["vendorId"] == vendor)
}

async fn order_action(token: Option<&str>, id: &str, action: &str) -> Reply {
    call(Method::POST, &format!("/orders/{id}/{action}"), token, None).await
}

async fn force_status(admin: &str, id: &str, status: &str) -> Reply {
    call(
        Method::PATCH,
        &format!("/orders/{id}/status"),
        Some(admin),
        Some(json!({"status": status})),
    )
    .await
}

async fn own_order_ids(token: &str) -> Vec<String> {
    let listed = call(Method::GET, "/orders?limit=100", Some(token), None).await;
    expect(&listed, StatusCode::OK);
    let items = listed.body["items"].as_array().unwrap();
    items.iter().map(|o| text(&o["orderId"])).collect()
}

// --- 1–5: the checkout and its payment --------------------------------------------------

#[tokio::test]
async fn a_card_order_is_paid_reserved_and_scheduled_with_one_delivery_per_vendor() {
    let world = World::new(20).await;
    let other = world.another_shop(20).await;
    let items = json!([line(&world.shop, 0, 2), line(&other, 1, 3)]);
    let body = with(order_body(items), json!({"paymentToken": "tok_ok"}));
    let order = checkout(&world.customer, body).await;
    assert_status(&order, "PREPARING");
    let total = 2 * PRICES[0] + 3 * PRICES[1];
    assert_eq!(order["total"]["amount"], total, "{order}");
    assert_eq!(order["payment"]["status"], "SUCCEEDED", "{order}");
    assert_eq!(order["payment"]["amount"]["amount"], total, "{order}");
    assert_eq!(order["payment"]["attempts"], 1, "{order}");
    assert!(served_by(&order, &world.shop.vendor) && served_by(&order, &other.vendor));
    let mut expected = vec![
        (world.shop.vendor.clone(), "SCHEDULED".to_owned()),
        (other.vendor.clone(), "SCHEDULED".to_owned()),
    ];
    expected.sort();
    assert_eq!(deliveries(&order), expected, "{order}");
    assert_eq!(world.stock(&world.shop, 0).await, (18, 2));
    assert_eq!(world.stock(&other, 1).await, (17, 3));
    assert_eq!(world.stock(&other, 0).await, (20, 0), "nothing else taken");

    let id = text(&order["orderId"]);
    let listed = call(Method::GET, "/orders", Some(&world.customer), None).await;
    expect(&listed, StatusCode::OK);
    assert_eq!(listed.body["items"][0]["orderId"], id.as_str());
    assert!(!listed.text.contains("paymentToken") && !listed.text.contains("tok_"));
    let track = call(
        Method::GET,
        &format!("/orders/{id}/track"),
        Some(&world.customer),
        None,
    )
    .await;
    expect(&track, StatusCode::OK);
    let timeline: Vec<&Value> = track.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["status"])
        .collect();
    assert_eq!(
        timeline,
        ["PENDING", "PAYMENT_PENDING", "CONFIRMED", "PREPARING"],
        "{}",
        track.text
    );
    assert_eq!(track.body["deliveries"].as_array().unwrap().len(), 2);
    assert!(!track.text.contains("tok_"));
}

#[tokio::test]
async fn cash_on_delivery_is_prepared_without_a_charge() {
    let world = World::new(10).await;
    let body = with(
        order_body(json!([line(&world.shop, 1, 2)])),
        json!({"paymentMethod": "COD"}),
    );
    let order = checkout(&world.customer, body).await;
    assert_status(&order, "PREPARING");
    assert_eq!(order["payment"], Value::Null, "{order}");
    assert!(order.get("paymentId").is_none_or(Value::is_null), "{order}");
    assert_eq!(world.stock(&world.shop, 1).await, (8, 2));
}

#[tokio::test]
async fn an_order_without_items_takes_the_cart_at_catalog_prices_and_empties_it() {
    let world = World::new(10).await;
    for (variant, quantity) in [(0, 2), (1, 1)] {
        let body = json!({"productId": world.shop.product, "variantId": world.shop.variants[variant],
                          "quantity": quantity});
        let added = call(
            Method::POST,
            "/cart/items",
            Some(&world.customer),
            Some(body),
        )
        .await;
        expect(&added, StatusCode::OK);
    }
    let body = with(order_body(json!(null)), json!({"items": null}));
    let id = place(&world.customer, body).await;
    let cart = call(Method::GET, "/cart", Some(&world.customer), None).await;
    assert_eq!(
        cart.body["items"],
        json!([]),
        "emptied once placed: {}",
        cart.text
    );
    let order = settled(&world.customer, &id).await;
    assert_status(&order, "PREPARING");
    let prices: Vec<(u64, u64)> = order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["unitPrice"]["amount"].as_u64().unwrap(),
                i["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(prices, [(PRICES[0], 2), (PRICES[1], 1)], "{order}");
    assert_eq!(order["total"]["amount"], 2 * PRICES[0] + PRICES[1]);
}

#[tokio::test]
async fn a_declined_card_fails_the_payment_and_releases_the_stock() {
    let world = World::new(10).await;
    let body = with(
        order_body(json!([line(&world.shop, 0, 3)])),
        json!({"paymentToken": "tok_decline"}),
    );
    let order = checkout(&world.customer, body).await;
    assert_status(&order, "PAYMENT_FAILED");
    assert_eq!(
        statuses(&order),
        ["PENDING", "PAYMENT_PENDING", "PAYMENT_FAILED"]
    );
    assert_eq!(order["payment"]["status"], "FAILED", "{order}");
    assert_eq!(order["deliveries"], json!([]));
    assert_eq!(world.stock(&world.shop, 0).await, (10, 0));
}

#[tokio::test]
async fn a_flaky_gateway_is_retried_until_the_charge_goes_through() {
    let world = World::new(10).await;
    let body = with(
        order_body(json!([line(&world.shop, 0, 1)])),
        json!({"paymentToken": "tok_flaky", "paymentMethod": "UPI"}),
    );
    let order = checkout(&world.customer, body).await;
    assert_status(&order, "PREPARING");
    assert_eq!(order["payment"]["status"], "SUCCEEDED", "{order}");
    assert_eq!(order["payment"]["attempts"], 3, "{order}");
    assert_eq!(order["payment"]["method"], "UPI", "{order}");
}

// --- 6: fraud holds -----------------------------------------------------------------------

#[tokio::test]
async fn a_manager_approves_one_held_order_and_rejects_another() {
    let world = World::new(300).await;
    let manager = user_with_role(&world.admin, "MANAGER", None).await;
    // 100 × ₹54 = ₹5,400: above the ₹5,000 fraud limit.
    let big = || order_body(json!([line(&world.shop, 1, 100)]));
    let ids = place_all(vec![(&world.customer, big()), (&world.customer, big())]).await;
    let held = settle_all(&world.customer, &ids).await;
    for order in &held {
        assert_status(order, "ON_HOLD");
        assert_eq!(order["flags"]["fraudFlag"], true, "{order}");
        assert!(reason(order, "ON_HOLD").contains("ABOVE_LIMIT"), "{order}");
        assert_eq!(
            order["payment"]["status"], "SUCCEEDED",
            "charged before the check"
        );
    }
    assert_eq!(world.stock(&world.shop, 1).await, (100, 200));
    let (approved, rejected) = (&ids[0], &ids[1]);

    let by_customer = order_action(Some(&world.customer), approved, "approve").await;
    assert_error(&by_customer, StatusCode::FORBIDDEN, "FORBIDDEN");
    let approval = order_action(Some(&manager), approved, "approve").await;
    expect(&approval, StatusCode::OK);
    assert!(!approval.text.contains("tok_"));
    let order = settled(&world.customer, approved).await;
    assert_status(&order, "PREPARING");
    assert_eq!(
        statuses(&order),
        [
            "PENDING",
            "PAYMENT_PENDING",
            "ON_HOLD",
            "CONFIRMED",
            "PREPARING"
        ]
    );
    assert_eq!(deliveries(&order).len(), 1, "{order}");
    let again = order_action(Some(&manager), approved, "approve").await;
    assert_error(&again, StatusCode::CONFLICT, "INVALID_TRANSITION");

    let rejection = order_action(Some(&manager), rejected, "reject").await;
    expect(&rejection, StatusCode::OK);
    let order = settled(&world.customer, rejected).await;
    assert_status(&order, "REFUNDED");
    assert_eq!(
        statuses(&order),
        [
            "PENDING",
            "PAYMENT_PENDING",
            "ON_HOLD",
            "CANCELLED",
            "REFUNDED"
        ]
    );
    assert_eq!(order["payment"]["status"], "REFUNDED", "{order}");
    assert_eq!(
        world.stock(&world.shop, 1).await,
        (200, 100),
        "the rejected 100 back"
    );
}

// --- 7: short stock -----------------------------------------------------------------------

#[tokio::test]
async fn short_stock_fails_the_order_unless_a_partial_order_is_allowed() {
    let world = World::new(2).await;
    let order = checkout(
        &world.customer,
        order_body(json!([line(&world.shop, 0, 5)])),
    )
    .await;
    assert_failed(&order, "OUT_OF_STOCK");
    assert_eq!(order["payment"], Value::Null, "never charged: {order}");
    assert_eq!(
        world.stock(&world.shop, 0).await,
        (2, 0),
        "nothing reserved"
    );

    let items = json!([line(&world.shop, 0, 2), line(&world.shop, 1, 5)]);
    let partial = with(order_body(items), json!({"allowPartial": true}));
    let order = checkout(&world.customer, partial).await;
    assert_status(&order, "PREPARING");
    assert_eq!(order["flags"]["partialFulfillment"], true, "{order}");
    let fulfilled: Vec<&Value> = order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["fulfilled"])
        .collect();
    assert_eq!(fulfilled, [true, false], "{order}");
    assert_eq!(order["total"]["amount"], 2 * PRICES[0], "{order}");
    assert_eq!(
        order["payment"]["amount"]["amount"],
        2 * PRICES[0],
        "{order}"
    );
    assert_eq!(world.stock(&world.shop, 0).await, (0, 2));
    assert_eq!(world.stock(&world.shop, 1).await, (2, 0));
}

// --- 8: cancels and forced moves ----------------------------------------------------------

#[tokio::test]
async fn an_owner_cancels_a_prepared_order_and_gets_stock_and_money_back() {
    let world = World::new(10).await;
    let order = checkout(
        &world.customer,
        order_body(json!([line(&world.shop, 0, 4)])),
    )
    .await;
    assert_status(&order, "PREPARING");
    let id = text(&order["orderId"]);

    let illegal = force_status(&world.admin, &id, "PENDING").await;
    assert_error(&illegal, StatusCode::CONFLICT, "INVALID_TRANSITION");
    assert_fields(
        &force_status(&world.admin, &id, "SHIPPED").await,
        &["status"],
    );
    let nothing = call(
        Method::PATCH,
        &format!("/orders/{id}/status"),
        Some(&world.admin),
        Some(json!({})),
    )
    .await;
    assert_fields(&nothing, &["status"]);

    let cancelled = order_action(Some(&world.customer), &id, "cancel").await;
    expect(&cancelled, StatusCode::OK);
    assert_status(&cancelled.body, "REFUNDED");
    let order = settled(&world.customer, &id).await;
    assert_eq!(
        statuses(&order)[3..],
        ["PREPARING", "CANCELLED", "REFUNDED"]
    );
    assert_eq!(order["payment"]["status"], "REFUNDED", "{order}");
    assert_eq!(world.stock(&world.shop, 0).await, (10, 0));
    // A second cancel meets a REFUNDED order, which no one may cancel:
    // OrderActions::cancel (crates/checkout/src/actions.rs) answers 409 INVALID_TRANSITION.
    // (A cancelled order that was never charged stays CANCELLED, and cancelling it again
    // is a no-op 200: a move to where the order already is changes nothing.)
    let again = order_action(Some(&world.customer), &id, "cancel").await;
    assert_error(&again, StatusCode::CONFLICT, "INVALID_TRANSITION");
    assert_eq!(world.stock(&world.shop, 0).await, (10, 0));
}

// --- 9: bad input -------------------------------------------------------------------------

#[tokio::test]
async fn bad_orders_are_refused_with_the_fields_named() {
    let world = World::new(10).await;
    let token = world.customer.as_str();
    let good = || order_body(json!([line(&world.shop, 0, 1)]));
    assert_fields(
        &post_order(token, json!({}), None).await,
        &["deliveryDate", "deliverySlot", "paymentMethod"],
    );
    assert_fields(
        &post_order(token, with(good(), json!({"items": []})), None).await,
        &["items"],
    );
    let too_many = json!({"items": [line(&world.shop, 0, 101)]});
    assert_fields(
        &post_order(token, with(good(), too_many), None).await,
        &["items[0].quantity"],
    );
    // A well-formed date outside the window conflicts with the calendar (409: no schema can
    // say "after today"); a malformed one is a 400.
    for date in [kolkata_date(0), kolkata_date(-1), kolkata_date(31)] {
        let reply = post_order(token, with(good(), json!({"deliveryDate": date})), None).await;
        assert_error(&reply, StatusCode::CONFLICT, "CONFLICT");
        assert!(reply.text.contains("deliveryDate"), "{}", reply.text);
    }
    let malformed_date = post_order(
        token,
        with(good(), json!({"deliveryDate": "tomorrow"})),
        None,
    )
    .await;
    assert_fields(&malformed_date, &["deliveryDate"]);
    let bad_enums = json!({"deliverySlot": "NIGHT", "paymentMethod": "CHEQUE"});
    assert_fields(
        &post_order(token, with(good(), bad_enums), None).await,
        &["deliverySlot", "paymentMethod"],
    );
    let unknown = json!([{"productId": Uuid::new_v4().to_string(), "variantId": world.shop.variants[0], "quantity": 1}]);
    assert_fields(
        &post_order(token, with(good(), json!({"items": unknown})), None).await,
        &["items[0].productId"],
    );
    let malformed = client()
        .post(format!("{}/orders", base()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{\"items\": [");
    assert_error(
        &reply(malformed).await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
    );
    let long_key = "k".repeat(300);
    assert_fields(
        &post_order(token, good(), Some(&long_key)).await,
        &["Idempotency-Key"],
    );
    assert!(
        own_order_ids(token).await.is_empty(),
        "no order was written"
    );
}

// --- 10: idempotency ----------------------------------------------------------------------

#[tokio::test]
async fn an_idempotency_key_places_one_order_however_often_it_is_sent() {
    let world = World::new(50).await;
    let body = order_body(json!([line(&world.shop, 0, 1)]));
    let key = Uuid::new_v4().to_string();
    let first = post_order(&world.customer, body.clone(), Some(&key)).await;
    expect(&first, StatusCode::CREATED);
    let second = post_order(&world.customer, body.clone(), Some(&key)).await;
    expect(&second, StatusCode::CREATED);
    assert_eq!(second.body["orderId"], first.body["orderId"]);
    settled(&world.customer, &text(&first.body["orderId"])).await;
    assert_eq!(own_order_ids(&world.customer).await.len(), 1);
    let changed = with(body.clone(), json!({"deliverySlot": "EVENING"}));
    let reused = post_order(&world.customer, changed, Some(&key)).await;
    assert_error(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    );

    let racer = world.customer().await;
    let key = Uuid::new_v4().to_string();
    let replies = join_all((0..20).map(|_| post_order(&racer, body.clone(), Some(&key)))).await;
    let mut placed = Vec::new();
    for reply in &replies {
        match reply.status {
            StatusCode::CREATED => placed.push(text(&reply.body["orderId"])),
            _ => assert_error(reply, StatusCode::CONFLICT, "IDEMPOTENCY_IN_PROGRESS"),
        }
    }
    placed.dedup();
    assert_eq!(placed.len(), 1, "one order id: {placed:?}");
    assert_eq!(own_order_ids(&racer).await, placed);
    let order = settled(&racer, &placed[0]).await;
    assert_status(&order, "PREPARING");
    assert_eq!(order["payment"]["attempts"], 1, "charged once: {order}");
    assert_eq!(
        world.stock(&world.shop, 0).await.1,
        2,
        "two orders, one unit each"
    );
}

// --- 11, 12: concurrency --------------------------------------------------------------------

/// 200 checkouts of one unit each for 50 units (4 orders each by 50 customers, see the
/// module documentation), all at once: exactly 50 are sold.
async fn oversell_round(round: usize) {
    let world = World::new(50).await;
    let customers = world.customers(50).await;
    let body = with(
        order_body(json!([line(&world.shop, 0, 1)])),
        json!({"paymentMethod": "COD"}),
    );
    let body = &body;
    let orders = customers
        .iter()
        .flat_map(|c| (0..ORDERS_PER_CUSTOMER).map(move |_| (c.as_str(), body.clone())))
        .collect();
    let ids = place_all(orders).await;
    let deadline = batch_deadline(ids.len());
    let (mut sold, mut failed) = (0, 0);
    for id in &ids {
        let order = settled_by(&world.admin, id, deadline).await;
        let (stock, reserved) = world.stock(&world.shop, 0).await;
        assert_eq!(
            stock + reserved,
            50,
            "round {round}: units appeared or vanished"
        );
        match order["status"].as_str().unwrap() {
            "PREPARING" => sold += 1,
            _ => {
                assert_failed(&order, "OUT_OF_STOCK");
                failed += 1;
            }
        }
    }
    assert_eq!((sold, failed), (50, 150), "round {round}");
    assert_eq!(world.stock(&world.shop, 0).await, (0, 50), "round {round}");
}

#[tokio::test]
async fn two_hundred_checkouts_for_fifty_units_sell_exactly_fifty() {
    // Ten rounds against `milkrun serve`, where a round takes seconds; one on emulated AWS,
    // where each checkout is ~12 Lambda invocations through one moto process, so a round of
    // 200 checkouts is already ~2,400 invocations.
    let rounds = if local() { 10 } else { 1 };
    for round in 0..rounds {
        oversell_round(round).await;
    }
}

#[tokio::test]
async fn a_vendor_takes_no_more_orders_a_day_than_its_limit() {
    let admin = admin_token().await;
    let pincode = fresh_pincode();
    let vendor_with = |rating: f64, limit: u32| {
        let body = vendor_body(&[&pincode]);
        with(
            body,
            json!({"rating": rating, "capacity": {"dailyOrderLimit": limit}}),
        )
    };
    // The limited vendor rates higher, so it is everyone's first choice.
    let limited = vendor(&admin, vendor_with(5.0, 5)).await;
    let spare = vendor(&admin, vendor_with(4.0, 300)).await;
    let (product, variants) = product(&admin, &[&limited, &spare], 100).await;
    let shop = Shop {
        vendor: limited.clone(),
        product,
        variants,
    };
    let customers = join_all((0..5).map(|_| async { customer_at(&pincode).await.1 })).await;
    let body = order_body(json!([line(&shop, 0, 1)]));
    let body = &body;
    let orders = customers
        .iter()
        .flat_map(|c| (0..ORDERS_PER_CUSTOMER).map(move |_| (c.as_str(), body.clone())))
        .collect();
    let ids = place_all(orders).await;
    let settled = settle_all(&admin, &ids).await;
    // (status, reason, the limited vendor's?) of each order, for the messages.
    let outcomes: Vec<(String, String, bool)> = settled
        .iter()
        .map(|o| {
            let status = text(&o["status"]);
            let why = reason(o, &status);
            (status, why, served_by(o, &limited))
        })
        .collect();
    let limited_took = outcomes
        .iter()
        .filter(|(status, _, limited)| *limited && status != "FAILED")
        .count();
    assert_eq!(limited_took, 5, "{outcomes:?}");
    let reserved = async |vendor: &str| {
        inventory(&admin, vendor, &shop.product, &shop.variants[0])
            .await
            .1
    };
    assert_eq!(reserved(&limited).await, 5);
    for order in &settled {
        if order["status"] == "FAILED" {
            assert_failed(order, "NO_VENDOR_AVAILABLE");
        } else {
            assert_status(order, "PREPARING");
        }
    }
    // The spare vendor had room for every order the limited one could not take, so none
    // may fail (SPEC §5 step 3: a vendor "that has capacity for that date").
    let failed = outcomes.iter().filter(|(s, _, _)| s == "FAILED").count();
    assert_eq!(
        failed, 0,
        "orders failed while a vendor had room: {outcomes:?}"
    );
    assert_eq!(reserved(&spare).await, 15);
}

// --- 13: who may touch an order -----------------------------------------------------------

#[tokio::test]
async fn each_role_may_do_exactly_what_the_order_routes_allow() {
    let world = World::new(20).await;
    let body = || order_body(json!([line(&world.shop, 0, 1)]));
    let ids = place_all(vec![(&world.customer, body()), (&world.customer, body())]).await;
    for order in settle_all(&world.customer, &ids).await {
        assert_status(&order, "PREPARING");
    }
    let (mine, admins) = (&ids[0], &ids[1]);
    let stranger = world.customer().await;
    let vendor_user = user_with_role(&world.admin, "VENDOR", Some(&world.shop.vendor)).await;
    let manager = user_with_role(&world.admin, "MANAGER", None).await;

    let one = format!("/orders/{mine}");
    let routes: [(Method, String, Option<Value>); 7] = [
        (Method::GET, "/orders".into(), None),
        (Method::GET, one.clone(), None),
        (Method::GET, format!("{one}/track"), None),
        (Method::POST, format!("{one}/approve"), None),
        (Method::POST, format!("{one}/reject"), None),
        (
            Method::PATCH,
            format!("{one}/status"),
            Some(json!({"status": "PENDING"})),
        ),
        (Method::POST, "/orders".into(), Some(body())),
    ];
    use StatusCode as S;
    let (ok, made, no, bad, gone, clash) = (
        S::OK,
        S::CREATED,
        S::UNAUTHORIZED,
        S::FORBIDDEN,
        S::NOT_FOUND,
        S::CONFLICT,
    );
    // Approve, reject and a forced move of a PREPARING order are 409 for those allowed to try.
    let callers: [(&str, Option<&str>, [StatusCode; 7]); 6] = [
        ("guest", None, [no, no, no, no, no, no, no]),
        (
            "owner",
            Some(&world.customer),
            [ok, ok, ok, bad, bad, bad, made],
        ),
        (
            "stranger",
            Some(&stranger),
            [ok, gone, gone, bad, bad, bad, made],
        ),
        (
            "vendor",
            Some(&vendor_user),
            [bad, bad, bad, bad, bad, bad, bad],
        ),
        (
            "manager",
            Some(&manager),
            [ok, ok, ok, clash, clash, bad, bad],
        ),
        (
            "admin",
            Some(&world.admin),
            [ok, ok, ok, clash, clash, clash, bad],
        ),
    ];
    for (who, token, expected) in callers {
        for ((method, path, body), status) in routes.iter().zip(expected) {
            let reply = call(method.clone(), path, token, body.clone()).await;
            assert_eq!(
                reply.status, status,
                "{who} {method} {path}: {}",
                reply.text
            );
        }
    }
    let listed = |token: &str, query: &str| {
        let path = format!("/orders?limit=100{query}");
        let token = token.to_owned();
        async move { call(Method::GET, &path, Some(&token), None).await }
    };
    assert!(!listed(&stranger, "").await.text.contains(mine.as_str()));
    for staff in [&manager, &world.admin] {
        let preparing = listed(staff, "&status=PREPARING").await;
        expect(&preparing, StatusCode::OK);
        assert!(
            preparing.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["status"] == "PREPARING")
        );
    }
    assert_error(
        &listed(&world.customer, "&status=PREPARING").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );

    for (who, token, status) in [
        ("guest", None, no),
        ("stranger", Some(stranger.as_str()), gone),
        ("vendor", Some(vendor_user.as_str()), bad),
        ("manager", Some(manager.as_str()), bad),
        ("owner", Some(world.customer.as_str()), ok),
    ] {
        let reply = order_action(token, mine, "cancel").await;
        assert_eq!(reply.status, status, "{who} cancel: {}", reply.text);
    }
    let by_admin = order_action(Some(&world.admin), admins, "cancel").await;
    expect(&by_admin, StatusCode::OK);
    for id in [mine, admins] {
        assert_status(&read_order(&world.customer, id).await.body, "REFUNDED");
    }
}

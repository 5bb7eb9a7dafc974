//! Fulfilment end to end (SPEC §3 payment and delivery models, §4 payment and delivery
//! routes, §5 ProcessPayment and ScheduleDelivery, §7 notifications): a declined order paid
//! again through `POST /payments`, once per `Idempotency-Key`; reading a payment; the
//! gateway's webhook refusing what it cannot verify; a vendor's delivery round, its moves to
//! the door (or to FAILED) with the order and the stock following; what the customer hears;
//! and who may call each payment and delivery route.
//!
//! Every test builds its own world (a vendor serving a fresh pincode, a product it sells,
//! stock, a user of that vendor, a customer with a complete profile), so tests never share
//! stock, rounds or fraud history. Order totals stay under ₹2,500 and no customer places
//! more than 4 orders, so no fraud rule holds an order (see orders.rs). Every order is for
//! the morning round of an open date in Asia/Kolkata.

use std::time::{Duration, Instant};

use futures::future::join_all;
use milkrun_e2e::*;

use crate::helpers::*;

const SLOT: &str = "MORNING";
/// A delivery's way to the door, after SCHEDULED.
const TO_THE_DOOR: [&str; 4] = ["ASSIGNED", "PICKED_UP", "IN_TRANSIT", "DELIVERED"];

/// `reply` has `status`, and an error of that status carries the error code the routes
/// here answer with it.
fn expect_as(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.text);
    let code = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::CONFLICT => "INVALID_TRANSITION",
        _ => return,
    };
    assert_error(reply, status, code);
}

fn assert_no_payment_token(text: &str) {
    assert!(
        !text.contains("paymentToken") && !text.contains("tok_"),
        "a payment token shows: {text}"
    );
}

/// `body` with `extra`'s fields set.
fn with(mut body: Value, extra: Value) -> Value {
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    body
}

// --- time ------------------------------------------------------------------------------

/// Tomorrow in Asia/Kolkata (UTC+05:30): the delivery date of every order here.
/// A delivery date open to orders whenever the test runs: tomorrow's closes at the
/// cut-off (21:00 IST) today.
fn open_date() -> String {
    kolkata_date(2)
}

// --- the world ---------------------------------------------------------------------------

/// A vendor serving `pincode` and a user of it (its token).
pub(crate) async fn vendor_at(admin: &str, pincode: &str) -> (String, String) {
    let vendor = text(&create_vendor(admin, &[pincode]).await["vendorId"]);
    let user = user_with_role(admin, "VENDOR", Some(&vendor)).await;
    (vendor, user)
}

/// A product of `vendor`'s (both variants at [`PRICES`]), `stock` units of each.
pub(crate) async fn stocked_product(
    admin: &str,
    vendor: &str,
    stock: u32,
) -> (String, [String; 2]) {
    let variant = |i: usize| {
        let (name, price) = (["500ml", "1L"][i], PRICES[i]);
        json!({"name": name, "price": {"amount": price}, "unit": "packet"})
    };
    let body = json!({"name": format!("Round milk {}", Uuid::new_v4().simple()), "category": "MILK",
                      "variants": [variant(0), variant(1)], "vendorIds": [vendor]});
    let created = call(Method::POST, "/products", Some(admin), Some(body)).await;
    expect(&created, StatusCode::CREATED);
    let product = text(&created.body["productId"]);
    let variants = [0, 1].map(|i| text(&created.body["variants"][i]["variantId"]));
    for variant in &variants {
        let path = format!("/inventory/{vendor}/{product}/{variant}");
        let set = json!({"operation": "SET", "quantity": stock});
        expect(
            &call(Method::PUT, &path, Some(admin), Some(set)).await,
            StatusCode::OK,
        );
    }
    (product, variants)
}

/// Everything one test needs, on a pincode of its own.
struct World {
    admin: String,
    pincode: String,
    vendor: String,
    /// A VENDOR user of `vendor`.
    vendor_user: String,
    product: String,
    variants: [String; 2],
    customer_id: String,
    customer: String,
}

impl World {
    async fn new(stock: u32) -> Self {
        let admin = admin_token().await;
        let pincode = fresh_pincode();
        let (vendor, vendor_user) = vendor_at(&admin, &pincode).await;
        let (product, variants) = stocked_product(&admin, &vendor, stock).await;
        let (customer_id, customer) = customer_at(&pincode).await;
        Self {
            admin,
            pincode,
            vendor,
            vendor_user,
            product,
            variants,
            customer_id,
            customer,
        }
    }

    /// Another customer in this world's pincode: (userId, token).
    async fn another_customer(&self) -> (String, String) {
        customer_at(&self.pincode).await
    }

    /// Another vendor serving this same pincode (it does not sell this world's product),
    /// and a user of it.
    async fn rival(&self) -> (String, String) {
        vendor_at(&self.admin, &self.pincode).await
    }

    fn line(&self, variant: usize, quantity: u32) -> Value {
        json!({"productId": self.product, "variantId": self.variants[variant], "quantity": quantity})
    }

    /// An order of `items` for the open date's morning round, paid by card.
    fn order_body(&self, items: Value) -> Value {
        json!({"items": items, "deliveryDate": open_date(), "deliverySlot": SLOT,
               "paymentMethod": "CARD"})
    }

    /// `customer`'s order of `items`, placed and settled PREPARING.
    async fn prepared_for(&self, customer: &str, items: Value) -> Value {
        let id = place(customer, self.order_body(items)).await;
        let order = settled(customer, &id).await;
        assert_eq!(order["status"], "PREPARING", "{order}");
        order
    }

    async fn prepared(&self, items: Value) -> Value {
        self.prepared_for(&self.customer, items).await
    }

    /// (stock, reserved) of one variant, as the vendor's own user reads it.
    async fn stock(&self, variant: usize) -> (u64, u64) {
        let path = format!("/inventory?vendorId={}&limit=100", self.vendor);
        let rows = call(Method::GET, &path, Some(&self.vendor_user), None).await;
        expect(&rows, StatusCode::OK);
        let row = rows.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["productId"] == self.product && r["variantId"] == self.variants[variant])
            .unwrap_or_else(|| panic!("no inventory row: {}", rows.text))
            .clone();
        (
            row["stock"].as_u64().unwrap(),
            row["reserved"].as_u64().unwrap(),
        )
    }
}

// --- orders ------------------------------------------------------------------------------

/// Places an order (201 PENDING) and answers its id.
async fn place(token: &str, body: Value) -> String {
    let placed = call(Method::POST, "/orders", Some(token), Some(body)).await;
    expect(&placed, StatusCode::CREATED);
    assert_eq!(placed.body["status"], "PENDING", "{}", placed.text);
    text(&placed.body["orderId"])
}

async fn get_order(token: &str, id: &str) -> Value {
    read_order(token, id).await.body
}

/// The order once `done` holds of its status, polled for up to [`SETTLE`].
async fn await_order(token: &str, id: &str, what: &str, done: impl Fn(&str) -> bool) -> Value {
    order_when(token, id, what, Instant::now() + SETTLE, done).await
}

fn statuses(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|change| text(&change["status"]))
        .collect()
}

/// The one delivery of a one-vendor order.
fn delivery_of(order: &Value) -> String {
    let deliveries = order["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "one vendor, one delivery: {order}");
    text(&deliveries[0]["deliveryId"])
}

// --- payments ----------------------------------------------------------------------------

fn pay_body(order_id: &str, method: &str, token: Option<&str>) -> Value {
    let body = json!({"orderId": order_id, "method": method});
    match token {
        Some(token) => with(body, json!({"paymentToken": token})),
        None => body,
    }
}

async fn pay(token: Option<&str>, body: Value, key: Option<&str>) -> Reply {
    let mut request = client().post(format!("{}/payments", base())).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    reply(request).await
}

async fn get_payment(token: Option<&str>, id: &str) -> Reply {
    call(Method::GET, &format!("/payments/{id}"), token, None).await
}

/// A webhook delivery of the raw `body`, with `signature` as `X-Signature` if any.
async fn webhook(signature: Option<&str>, body: &str) -> Reply {
    let mut request = client()
        .post(format!("{}/payments/webhook", base()))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("X-Signature", signature);
    }
    reply(request).await
}

// --- deliveries --------------------------------------------------------------------------

/// `GET /deliveries` with exactly `query`.
async fn round_query(token: Option<&str>, query: &[(&str, &str)]) -> Reply {
    let mut request = client().get(format!("{}/deliveries", base())).query(query);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    reply(request).await
}

/// Tomorrow's morning round, with `extra` parameters.
async fn round(token: &str, extra: &[(&str, &str)]) -> Reply {
    let date = open_date();
    let mut query = vec![("date", date.as_str()), ("slot", SLOT)];
    query.extend_from_slice(extra);
    round_query(Some(token), &query).await
}

/// The stops of one round page, across its pincodes.
fn stops(sheet: &Value) -> Vec<Value> {
    let groups = sheet["pincodes"].as_array().unwrap();
    groups
        .iter()
        .flat_map(|group| group["deliveries"].as_array().unwrap().clone())
        .collect()
}

/// The delivery ids of the open date's whole morning round as `token` sees it, page by page.
async fn whole_round(token: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    for _ in 0..1_000 {
        let mut query = vec![("limit", "100")];
        query.extend_from_slice(extra);
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let page = round(token, &query).await;
        expect(&page, StatusCode::OK);
        ids.extend(stops(&page.body).iter().map(|s| text(&s["deliveryId"])));
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("the round never ended");
}

async fn move_delivery(token: Option<&str>, id: &str, body: Value) -> Reply {
    call(
        Method::PATCH,
        &format!("/deliveries/{id}"),
        token,
        Some(body),
    )
    .await
}

/// Moves the delivery through `steps` as `token`, each answered 200 with that status.
async fn advance(token: &str, id: &str, steps: &[&str]) -> Value {
    let mut moved = Value::Null;
    for step in steps {
        let reply = move_delivery(Some(token), id, json!({"status": step})).await;
        expect(&reply, StatusCode::OK);
        assert_eq!(reply.body["status"], *step, "{}", reply.text);
        moved = reply.body;
    }
    moved
}

// --- notifications -----------------------------------------------------------------------

/// The caller's mails about order `id` once each (type, count) of `wanted` has arrived,
/// polled for up to [`SETTLE`]; then exactly those counts (a redelivered event makes no
/// second message). Each is kept once more, in the app (a customer's default channels).
async fn notified(token: &str, id: &str, wanted: &[(&str, usize)]) -> Vec<Value> {
    // (by email, in the app): the two are kept one after the other, so a poll may see the
    // first without the second; only the final reading must have both.
    let count = |items: &[Value], kind: &str| {
        let by = |channel: &str| {
            let of = |n: &&Value| n["type"] == kind && n["channel"] == channel;
            items.iter().filter(of).count()
        };
        (by("EMAIL"), by("IN_APP"))
    };
    let arrived = |about: &Vec<Value>| {
        wanted.iter().all(|(kind, n)| {
            let (email, in_app) = count(about, kind);
            email >= *n && in_app >= *n
        })
    };
    let about_the_order = async || {
        let listed = call(Method::GET, "/notifications?limit=100", Some(token), None).await;
        expect(&listed, StatusCode::OK);
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["body"].as_str().unwrap_or("").contains(id))
            .cloned()
            .collect::<Vec<Value>>()
    };
    let every = Duration::from_millis(500);
    let about = poll_until(SETTLE, every, about_the_order, arrived).await;
    let heard: Vec<&Value> = about.iter().map(|n| &n["type"]).collect();
    assert!(
        arrived(&about),
        "order {id}: wanted {wanted:?}, heard only {heard:?}"
    );
    for (kind, n) in wanted {
        assert_eq!(
            count(&about, kind),
            (*n, *n),
            "{kind} by email and in the app: {about:?}"
        );
    }
    about
}

// --- POST /payments, GET /payments/{id} ----------------------------------------------------

#[tokio::test]
async fn a_declined_order_is_paid_again_once_per_idempotency_key() {
    let world = World::new(10).await;
    let owner = Some(world.customer.as_str());
    let declined_body = with(
        world.order_body(json!([world.line(0, 3)])),
        json!({"paymentToken": "tok_decline"}),
    );
    let id = place(&world.customer, declined_body).await;
    let declined = settled(&world.customer, &id).await;
    assert_eq!(declined["status"], "PAYMENT_FAILED", "{declined}");
    assert_eq!(declined["payment"]["status"], "FAILED", "{declined}");
    let payment_id = text(&declined["payment"]["paymentId"]);
    assert_eq!(world.stock(0).await, (10, 0), "released on the decline");

    // Bad requests start nothing.
    assert_fields(&pay(owner, json!({}), None).await, &["orderId", "method"]);
    let bad = json!({"orderId": "order-1", "method": "CHEQUE", "paymentToken": "tok ok"});
    assert_fields(
        &pay(owner, bad, None).await,
        &["orderId", "method", "paymentToken"],
    );
    let unknown = pay_body(&Uuid::new_v4().to_string(), "CARD", Some("tok_ok"));
    expect_as(
        &pay(owner, unknown, None).await,
        StatusCode::NOT_FOUND,
        "an unknown order",
    );
    assert_eq!(
        get_order(&world.customer, &id).await["status"],
        "PAYMENT_FAILED"
    );

    let key = Uuid::new_v4().to_string();
    let retry = pay_body(&id, "UPI", Some("tok_ok"));
    let first = pay(owner, retry.clone(), Some(&key)).await;
    expect(&first, StatusCode::ACCEPTED);
    assert_no_payment_token(&first.text);
    assert_eq!(first.body["orderId"], id.as_str(), "{}", first.text);
    assert!(
        ["PAYMENT_FAILED", "PAYMENT_PENDING"].contains(&first.body["status"].as_str().unwrap()),
        "{}",
        first.text
    );
    assert_eq!(
        first.body["paymentId"],
        payment_id.as_str(),
        "{}",
        first.text
    );
    let again = pay(owner, retry.clone(), Some(&key)).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body));

    let paid = await_order(&world.customer, &id, "PREPARING", |s| s == "PREPARING").await;
    assert_eq!(
        statuses(&paid["statusHistory"]),
        [
            "PENDING",
            "PAYMENT_PENDING",
            "PAYMENT_FAILED",
            "PAYMENT_PENDING",
            "CONFIRMED",
            "PREPARING"
        ],
        "{paid}"
    );
    assert_eq!(paid["paymentMethod"], "UPI", "{paid}");
    assert_eq!(paid["payment"]["status"], "SUCCEEDED", "{paid}");
    assert_eq!(paid["payment"]["paymentId"], payment_id.as_str(), "{paid}");
    assert_eq!(paid["payment"]["amount"]["amount"], 3 * PRICES[0], "{paid}");
    assert_eq!(paid["deliveries"][0]["status"], "SCHEDULED", "{paid}");
    assert_eq!(world.stock(0).await, (7, 3), "reserved again, once");

    // The same key and body once more answer the first answer and start nothing; the same
    // key with another body is refused; a new request for a PREPARING order is 409.
    let late = pay(owner, retry, Some(&key)).await;
    assert_eq!((late.status, &late.body), (first.status, &first.body));
    let changed = pay(owner, pay_body(&id, "CARD", Some("tok_ok")), Some(&key)).await;
    assert_error(
        &changed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    );
    let fresh_key = Uuid::new_v4().to_string();
    let prepared = pay(owner, pay_body(&id, "CARD", None), Some(&fresh_key)).await;
    expect_as(&prepared, StatusCode::CONFLICT, "paying a PREPARING order");
    let after = get_order(&world.customer, &id).await;
    assert_eq!(
        after["statusHistory"], paid["statusHistory"],
        "nothing new ran"
    );
    assert_eq!(world.stock(0).await, (7, 3));

    notified(
        &world.customer,
        &id,
        &[("PAYMENT_FAILED", 1), ("ORDER_CONFIRMED", 1)],
    )
    .await;

    // The owner reads the payment: the retry's method and the order's amount, no token.
    let payment = get_payment(owner, &payment_id).await;
    expect(&payment, StatusCode::OK);
    assert_no_payment_token(&payment.text);
    for (field, value) in [
        ("paymentId", json!(payment_id)),
        ("orderId", json!(id)),
        ("userId", json!(world.customer_id)),
        ("method", json!("UPI")),
        ("status", json!("SUCCEEDED")),
        (
            "amount",
            json!({"amount": 3 * PRICES[0], "currency": "INR"}),
        ),
    ] {
        assert_eq!(payment.body[field], value, "{field}: {}", payment.text);
    }
}

// --- POST /payments/webhook --------------------------------------------------------------

#[tokio::test]
async fn the_webhook_refuses_a_missing_or_forged_signature_and_records_nothing() {
    let world = World::new(10).await;
    let order = world.prepared(json!([world.line(1, 1)])).await;
    let id = text(&order["orderId"]);
    let payment_id = text(&order["payment"]["paymentId"]);
    // A refund the gateway never sent. (A valid signature is the payment crate's own test:
    // the secret differs per host.)
    let forged = json!({"paymentId": payment_id, "orderId": id, "status": "REFUNDED",
                        "gatewayReference": "gw_forged", "timestamp": utc_now()})
    .to_string();
    let zeros = format!("sha256={}", "0".repeat(64));
    for signature in [
        None,
        Some("nonsense"),
        Some("sha256=zz"),
        Some(zeros.as_str()),
    ] {
        let reply = webhook(signature, &forged).await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    let unreadable = webhook(Some(&zeros), "{\"orderId\": ").await;
    assert_error(&unreadable, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    let after = get_order(&world.customer, &id).await;
    assert_eq!(after["status"], "PREPARING", "{after}");
    assert_eq!(after["payment"]["status"], "SUCCEEDED", "{after}");
    assert_ne!(after["payment"]["gatewayReference"], "gw_forged", "{after}");
    assert_eq!(world.stock(1).await, (9, 1));
}

// --- GET /deliveries ---------------------------------------------------------------------

#[tokio::test]
async fn a_vendor_sees_its_round_with_addresses_items_and_load_and_no_one_elses() {
    let world = World::new(20).await;
    let (neighbour_id, neighbour) = world.another_customer().await;
    let orders = join_all([
        world.prepared_for(&world.customer, json!([world.line(0, 2)])),
        world.prepared_for(&neighbour, json!([world.line(0, 1), world.line(1, 1)])),
    ])
    .await;
    let customers = [world.customer_id.as_str(), neighbour_id.as_str()];

    let sheet = round(&world.vendor_user, &[]).await;
    expect(&sheet, StatusCode::OK);
    assert_eq!(sheet.body["date"], open_date(), "{}", sheet.text);
    assert_eq!(sheet.body["slot"], SLOT, "{}", sheet.text);
    assert_eq!(sheet.body["nextCursor"], Value::Null, "{}", sheet.text);
    let groups = sheet.body["pincodes"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "one pincode: {}", sheet.text);
    assert_eq!(groups[0]["pincode"], world.pincode.as_str());
    let found = stops(&sheet.body);
    assert_eq!(found.len(), 2, "{}", sheet.text);
    for (order, customer) in orders.iter().zip(customers) {
        let delivery = delivery_of(order);
        let stop = found
            .iter()
            .find(|s| s["deliveryId"] == delivery.as_str())
            .unwrap_or_else(|| panic!("delivery {delivery} not on the round: {}", sheet.text));
        assert_eq!(stop["orderId"], order["orderId"], "{stop}");
        assert_eq!(stop["userId"], customer, "{stop}");
        assert_eq!(stop["vendorId"], world.vendor.as_str(), "{stop}");
        assert_eq!(stop["status"], "SCHEDULED", "{stop}");
        assert_eq!(stop["address"]["line1"], "12 MG Road", "{stop}");
        assert_eq!(stop["address"]["pincode"], world.pincode.as_str(), "{stop}");
        let carried: Vec<(String, u64)> = stop["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (text(&i["variantId"]), i["quantity"].as_u64().unwrap()))
            .collect();
        let ordered: Vec<(String, u64)> = order["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (text(&i["variantId"]), i["quantity"].as_u64().unwrap()))
            .collect();
        assert_eq!(carried, ordered, "{stop}");
    }
    let mut load: Vec<(String, String, u64)> = sheet.body["load"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["productId"], world.product.as_str(), "{i}");
            (
                text(&i["variantName"]),
                text(&i["variantId"]),
                i["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    load.sort();
    let expected = [("1L", 1, 1), ("500ml", 0, 3)]
        .map(|(name, v, n)| (name.to_owned(), world.variants[v].clone(), n));
    assert_eq!(load, expected, "{}", sheet.text);

    // The admin sees the same stops for this vendor, and them among every vendor's.
    let admin = round(&world.admin, &[("vendorId", world.vendor.as_str())]).await;
    expect(&admin, StatusCode::OK);
    assert_eq!(admin.body["pincodes"], sheet.body["pincodes"]);
    assert_eq!(admin.body["load"], sheet.body["load"]);
    let everyone = whole_round(&world.admin, &[]).await;
    for order in &orders {
        assert!(everyone.contains(&delivery_of(order)), "{everyone:?}");
    }

    // Another vendor serving the same pincode sees none of it and may not ask for it.
    let (_, rival) = world.rival().await;
    let theirs = round(&rival, &[]).await;
    expect(&theirs, StatusCode::OK);
    assert_eq!(
        (&theirs.body["pincodes"], &theirs.body["load"]),
        (&json!([]), &json!([])),
        "{}",
        theirs.text
    );
    let asked = round(&rival, &[("vendorId", world.vendor.as_str())]).await;
    expect_as(&asked, StatusCode::FORBIDDEN, "another vendor's round");

    // The evening round is another round; a round needs its date and slot.
    let date = open_date();
    let evening = round_query(
        Some(&world.vendor_user),
        &[("date", date.as_str()), ("slot", "EVENING")],
    )
    .await;
    expect(&evening, StatusCode::OK);
    assert_eq!(evening.body["pincodes"], json!([]), "{}", evening.text);
    let vendor = Some(world.vendor_user.as_str());
    assert_fields(&round_query(vendor, &[]).await, &["date", "slot"]);
    let bad = [("date", "tomorrow"), ("slot", "NIGHT")];
    assert_fields(&round_query(vendor, &bad).await, &["date", "slot"]);
}

// --- PATCH /deliveries/{id} ----------------------------------------------------------------

#[tokio::test]
async fn a_vendor_moves_a_delivery_to_the_door_and_the_order_and_stock_follow() {
    let world = World::new(10).await;
    let order = world.prepared(json!([world.line(0, 3)])).await;
    let id = text(&order["orderId"]);
    let delivery = delivery_of(&order);
    assert_eq!(world.stock(0).await, (7, 3));
    let vendor = Some(world.vendor_user.as_str());
    let assign = || json!({"status": "ASSIGNED"});

    // Refused moves change nothing.
    let skipping = move_delivery(vendor, &delivery, json!({"status": "DELIVERED"})).await;
    expect_as(&skipping, StatusCode::CONFLICT, "SCHEDULED to DELIVERED");
    let lost = move_delivery(vendor, &delivery, json!({"status": "LOST"})).await;
    assert_fields(&lost, &["status"]);
    assert_fields(
        &move_delivery(vendor, &delivery, json!({})).await,
        &["status"],
    );
    let bad_extras =
        json!({"status": "ASSIGNED", "driverId": "driver-7", "proofUrl": "ftp://x/1.jpg"});
    assert_fields(
        &move_delivery(vendor, &delivery, bad_extras).await,
        &["driverId", "proofUrl"],
    );
    let (_, rival) = world.rival().await;
    let by_rival = move_delivery(Some(&rival), &delivery, assign()).await;
    expect_as(&by_rival, StatusCode::NOT_FOUND, "another vendor");
    let by_customer = move_delivery(Some(&world.customer), &delivery, assign()).await;
    expect_as(&by_customer, StatusCode::FORBIDDEN, "the customer");
    let unknown = move_delivery(vendor, &Uuid::new_v4().to_string(), assign()).await;
    expect_as(&unknown, StatusCode::NOT_FOUND, "an unknown delivery");
    let untouched = get_order(&world.customer, &id).await;
    assert_eq!(
        untouched["deliveries"][0]["status"], "SCHEDULED",
        "{untouched}"
    );
    assert_eq!(untouched["status"], "PREPARING", "{untouched}");

    let driver = Uuid::new_v4().to_string();
    let assigned = move_delivery(
        vendor,
        &delivery,
        json!({"status": "ASSIGNED", "driverId": driver}),
    )
    .await;
    expect(&assigned, StatusCode::OK);
    assert_eq!(
        assigned.body["driverId"],
        driver.as_str(),
        "{}",
        assigned.text
    );
    for (step, order_status) in [
        ("PICKED_UP", "PREPARING"),
        ("IN_TRANSIT", "OUT_FOR_DELIVERY"),
    ] {
        advance(&world.vendor_user, &delivery, &[step]).await;
        let order = get_order(&world.customer, &id).await;
        assert_eq!(order["status"], order_status, "after {step}: {order}");
    }
    assert_eq!(world.stock(0).await, (7, 3), "still reserved on the way");

    let proof = "https://proof.example/deliveries/1.jpg";
    let delivered = move_delivery(
        vendor,
        &delivery,
        json!({"status": "DELIVERED", "proofUrl": proof}),
    )
    .await;
    expect(&delivered, StatusCode::OK);
    let view = &delivered.body;
    assert_eq!(
        (&view["status"], &view["proofUrl"], &view["driverId"]),
        (&json!("DELIVERED"), &json!(proof), &json!(driver)),
        "{view}"
    );
    let mut way = vec!["SCHEDULED"];
    way.extend(TO_THE_DOOR);
    assert_eq!(statuses(&view["statusHistory"]), way, "{view}");
    let order = get_order(&world.customer, &id).await;
    assert_eq!(order["status"], "DELIVERED", "{order}");
    assert_eq!(
        statuses(&order["statusHistory"])[3..],
        ["PREPARING", "OUT_FOR_DELIVERY", "DELIVERED"],
        "{order}"
    );
    assert_eq!(order["deliveries"][0]["status"], "DELIVERED", "{order}");
    assert_eq!(
        world.stock(0).await,
        (7, 0),
        "committed: gone from reserved, not back in stock"
    );

    // DELIVERED is final; the same status again changes nothing.
    let failed = move_delivery(vendor, &delivery, json!({"status": "FAILED"})).await;
    expect_as(&failed, StatusCode::CONFLICT, "DELIVERED to FAILED");
    let same = move_delivery(vendor, &delivery, json!({"status": "DELIVERED"})).await;
    expect(&same, StatusCode::OK);
    assert_eq!(same.body["statusHistory"], view["statusHistory"]);
    assert_eq!(get_order(&world.customer, &id).await["status"], "DELIVERED");
    assert_eq!(world.stock(0).await, (7, 0));
}

#[tokio::test]
async fn a_failed_delivery_cancels_and_refunds_the_order_and_releases_its_stock() {
    let world = World::new(10).await;
    let order = world.prepared(json!([world.line(1, 2)])).await;
    let id = text(&order["orderId"]);
    let delivery = delivery_of(&order);
    assert_eq!(world.stock(1).await, (8, 2));
    advance(&world.vendor_user, &delivery, &TO_THE_DOOR[..3]).await;
    assert_eq!(
        get_order(&world.customer, &id).await["status"],
        "OUT_FOR_DELIVERY"
    );

    let failed = move_delivery(Some(&world.admin), &delivery, json!({"status": "FAILED"})).await;
    expect(&failed, StatusCode::OK);
    assert_eq!(failed.body["status"], "FAILED", "{}", failed.text);
    let order = get_order(&world.customer, &id).await;
    assert_eq!(order["status"], "REFUNDED", "{order}");
    assert_eq!(
        statuses(&order["statusHistory"])[3..],
        ["PREPARING", "OUT_FOR_DELIVERY", "CANCELLED", "REFUNDED"],
        "{order}"
    );
    assert_eq!(order["payment"]["status"], "REFUNDED", "{order}");
    assert_eq!(world.stock(1).await, (10, 0), "released");

    let vendor = Some(world.vendor_user.as_str());
    let after = move_delivery(vendor, &delivery, json!({"status": "DELIVERED"})).await;
    expect_as(&after, StatusCode::CONFLICT, "FAILED to DELIVERED");
    assert_eq!(world.stock(1).await, (10, 0));
    notified(
        &world.customer,
        &id,
        &[("ORDER_CANCELLED", 1), ("PAYMENT_REFUNDED", 1)],
    )
    .await;
}

// --- GET /notifications: the customer's story ------------------------------------------------

#[tokio::test]
async fn the_customer_hears_of_the_confirmation_the_schedule_and_each_step_to_the_door() {
    let world = World::new(10).await;
    let order = world.prepared(json!([world.line(0, 1)])).await;
    let id = text(&order["orderId"]);
    advance(&world.vendor_user, &delivery_of(&order), &TO_THE_DOOR).await;
    assert_eq!(get_order(&world.customer, &id).await["status"], "DELIVERED");

    let heard = notified(
        &world.customer,
        &id,
        &[
            ("ORDER_CONFIRMED", 1),
            ("DELIVERY_SCHEDULED", 1),
            ("DELIVERY_UPDATED", TO_THE_DOOR.len()),
        ],
    )
    .await;
    for message in &heard {
        assert_eq!(message["userId"], world.customer_id.as_str(), "{message}");
        assert_no_payment_token(&message.to_string());
        assert_no_secrets(&message.to_string());
    }
    let news: Vec<String> = heard
        .iter()
        .filter(|n| n["type"] == "DELIVERY_UPDATED")
        .map(|n| text(&n["body"]).to_lowercase())
        .collect();
    assert!(news.iter().any(|b| b.contains("delivered")), "{news:?}");

    let (_, stranger) = world.another_customer().await;
    let theirs = call(
        Method::GET,
        "/notifications?limit=100",
        Some(&stranger),
        None,
    )
    .await;
    expect(&theirs, StatusCode::OK);
    assert!(!theirs.text.contains(id.as_str()), "{}", theirs.text);
}

// --- who may call each route ----------------------------------------------------------------

#[tokio::test]
async fn each_role_may_do_exactly_what_the_payment_and_delivery_routes_allow() {
    let world = World::new(10).await;
    let order = world.prepared(json!([world.line(0, 1)])).await;
    let id = text(&order["orderId"]);
    let payment = text(&order["payment"]["paymentId"]);
    let delivery = delivery_of(&order);
    let (_, stranger) = world.another_customer().await;
    let (_, rival) = world.rival().await;
    let manager = user_with_role(&world.admin, "MANAGER", None).await;

    let unsigned = json!({"orderId": id, "status": "REFUNDED", "timestamp": utc_now()});
    let date = open_date();
    let round_path = format!("/deliveries?date={date}&slot={SLOT}");
    // Moving a delivery to the status it has changes nothing, for those who may.
    let routes: [(Method, String, Option<Value>); 5] = [
        (
            Method::POST,
            "/payments".into(),
            Some(pay_body(&id, "CARD", None)),
        ),
        (Method::GET, format!("/payments/{payment}"), None),
        (Method::POST, "/payments/webhook".into(), Some(unsigned)),
        (Method::GET, round_path, None),
        (
            Method::PATCH,
            format!("/deliveries/{delivery}"),
            Some(json!({"status": "SCHEDULED"})),
        ),
    ];
    use StatusCode as S;
    let (ok, no, bad, gone, clash) = (
        S::OK,
        S::UNAUTHORIZED,
        S::FORBIDDEN,
        S::NOT_FOUND,
        S::CONFLICT,
    );
    // Paying a PREPARING order is 409 for its owner, the one who may pay.
    let callers: [(&str, Option<&str>, [StatusCode; 5]); 7] = [
        ("guest", None, [no, no, no, no, no]),
        ("owner", Some(&world.customer), [clash, ok, no, bad, bad]),
        (
            "another customer",
            Some(&stranger),
            [gone, gone, no, bad, bad],
        ),
        ("vendor", Some(&world.vendor_user), [bad, gone, no, ok, ok]),
        ("another vendor", Some(&rival), [bad, gone, no, ok, gone]),
        ("manager", Some(&manager), [bad, ok, no, bad, bad]),
        ("admin", Some(&world.admin), [bad, ok, no, ok, ok]),
    ];
    for (who, token, expected) in callers {
        for ((method, path, body), status) in routes.iter().zip(expected) {
            let reply = call(method.clone(), path, token, body.clone()).await;
            expect_as(&reply, status, &format!("{who} {method} {path}"));
            assert_no_payment_token(&reply.text);
        }
    }

    // Ids that name nothing are 404 to those who may look.
    for path in [
        format!("/payments/{}", Uuid::new_v4()),
        "/payments/pay-1".into(),
    ] {
        let reply = call(Method::GET, &path, Some(&world.admin), None).await;
        expect_as(&reply, S::NOT_FOUND, &path);
    }
    for target in [Uuid::new_v4().to_string(), "delivery-1".into()] {
        let reply = move_delivery(Some(&world.admin), &target, json!({"status": "ASSIGNED"})).await;
        expect_as(&reply, S::NOT_FOUND, &target);
    }

    // Nothing moved.
    let after = get_order(&world.customer, &id).await;
    assert_eq!(after["statusHistory"], order["statusHistory"], "{after}");
    assert_eq!(after["payment"]["status"], "SUCCEEDED", "{after}");
    let scheduled = &after["deliveries"][0];
    assert_eq!(
        statuses(&scheduled["statusHistory"]),
        ["SCHEDULED"],
        "{after}"
    );
    assert_eq!(world.stock(0).await, (9, 1));
}

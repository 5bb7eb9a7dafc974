//! Subscriptions, the wallet and the nightly run over HTTP: one order per due subscription
//! and date however often (and however concurrently) the run goes, the calendar agreeing
//! with what the run does, a wallet that credits a top-up once, and who may see what.

use milkrun_e2e::*;

use crate::fulfilment::{stocked_product, vendor_at};
use crate::helpers::*;

/// A customer with a vendor, a product (variants at [`PRICES`]) and stock in their pincode.
struct Dairy {
    admin: String,
    vendor_user: String,
    product: String,
    variants: [String; 2],
    customer_id: String,
    customer: String,
    pincode: String,
}

impl Dairy {
    async fn new() -> Self {
        let admin = admin_token().await;
        let pincode = fresh_pincode();
        let (vendor, vendor_user) = vendor_at(&admin, &pincode).await;
        let (product, variants) = stocked_product(&admin, &vendor, 500).await;
        let (customer_id, customer) = customer_at(&pincode).await;
        Self {
            admin,
            vendor_user,
            product,
            variants,
            customer_id,
            customer,
            pincode,
        }
    }

    fn subscription(&self, variant: usize, quantity: u32, start: &str, method: &str) -> Value {
        json!({"productId": self.product, "variantId": self.variants[variant], "quantity": quantity,
               "frequency": "DAILY", "startDate": start, "deliverySlot": "MORNING",
               "addressLabel": "home", "paymentMethod": method})
    }

    async fn subscribe(&self, body: Value) -> Value {
        let made = call(
            Method::POST,
            "/subscriptions",
            Some(&self.customer),
            Some(body),
        )
        .await;
        expect(&made, StatusCode::CREATED);
        made.body
    }

    async fn top_up(&self, key: &str, paise: u64) -> Reply {
        let request = client()
            .post(format!("{}/wallet/topups", base()))
            .bearer_auth(&self.customer)
            .header("idempotency-key", key)
            .json(&json!({"amount": {"amount": paise}}));
        reply(request).await
    }

    async fn run(&self, date: &str) -> Value {
        let path = format!("/jobs/subscriptions?date={date}");
        let ran = call(Method::POST, &path, Some(&self.admin), None).await;
        expect(&ran, StatusCode::OK);
        ran.body
    }

    /// The customer's orders for `subscription`.
    async fn orders_of(&self, subscription: &str) -> Vec<Value> {
        let listed = call(Method::GET, "/orders?limit=100", Some(&self.customer), None).await;
        expect(&listed, StatusCode::OK);
        let items = listed.body["items"].as_array().unwrap().clone();
        items
            .into_iter()
            .filter(|o| o["subscriptionId"] == subscription)
            .collect()
    }

    /// The wallet's invariant, as the customer can read it: this month's statement's entries
    /// lead from its opening to its closing balance, each `balanceAfter` the running sum,
    /// never below zero, and the closing balance is the wallet's.
    async fn assert_ledger(&self) {
        let month = &kolkata_date(0)[..7];
        let path = format!("/wallet/statement?month={month}");
        let statement = call(Method::GET, &path, Some(&self.customer), None).await;
        expect(&statement, StatusCode::OK);
        let mut running = statement.body["openingBalance"]["amount"].as_i64().unwrap();
        for entry in statement.body["entries"].as_array().unwrap() {
            let amount = entry["amount"]["amount"].as_i64().unwrap();
            running += if entry["kind"] == "DEBIT" {
                -amount
            } else {
                amount
            };
            assert!(running >= 0, "{}", statement.text);
            assert_eq!(
                entry["balanceAfter"]["amount"], running,
                "{}",
                statement.text
            );
        }
        assert_eq!(statement.body["closingBalance"]["amount"], running);
        assert_eq!(self.balance().await as i64, running, "{}", statement.text);
    }

    async fn balance(&self) -> u64 {
        let wallet = call(Method::GET, "/wallet", Some(&self.customer), None).await;
        expect(&wallet, StatusCode::OK);
        wallet.body["balance"]["amount"].as_u64().unwrap()
    }
}

#[tokio::test]
async fn the_run_places_one_order_per_due_day_however_often_it_runs() {
    let dairy = Dairy::new().await;
    let date = kolkata_date(2);
    expect(&dairy.top_up("first", 20_000).await, StatusCode::CREATED);
    let wallet_milk = dairy
        .subscribe(dairy.subscription(1, 2, &date, "WALLET"))
        .await;
    let cod_milk = dairy
        .subscribe(dairy.subscription(0, 1, &date, "COD"))
        .await;
    let (wallet_id, cod_id) = (
        text(&wallet_milk["subscriptionId"]),
        text(&cod_milk["subscriptionId"]),
    );

    let path = format!("/subscriptions/calendar?from={date}&days=1");
    let calendar = call(Method::GET, &path, Some(&dairy.customer), None).await;
    expect(&calendar, StatusCode::OK);
    let day = &calendar.body["days"][0];
    assert_eq!(day["total"]["amount"], 2 * PRICES[1] + PRICES[0], "{day}");

    let first = dairy.run(&date).await;
    // Another test's run may have placed them first: either way they are placed.
    let placed = first["ordered"].as_u64().unwrap() + first["alreadyOrdered"].as_u64().unwrap();
    assert!(placed >= 2, "{first}");
    let again = futures::future::join_all((0..3).map(|_| dairy.run(&date))).await;
    for report in again {
        assert!(report["read"].as_u64().unwrap() >= 2, "{report}");
    }
    for subscription in [&wallet_id, &cod_id] {
        let orders = dairy.orders_of(subscription).await;
        assert_eq!(
            orders.len(),
            1,
            "one order per subscription and date: {orders:?}"
        );
        assert_eq!(orders[0]["deliveryDate"], date.as_str());
        // A run starts many checkouts at once (every test's due subscriptions): on emulated
        // AWS, where each function serves one invocation at a time, they queue.
        let deadline = std::time::Instant::now() + 4 * SETTLE;
        let order = settled_by(&dairy.customer, &text(&orders[0]["orderId"]), deadline).await;
        assert_eq!(order["status"], "PREPARING", "{order}");
    }
    assert_eq!(
        dairy.balance().await,
        20_000 - 2 * PRICES[1],
        "the wallet paid its one order once"
    );
    // Two orders to one door: the driver's round sheet has one stop with both.
    let path = format!("/deliveries?date={date}&slot=MORNING&limit=100");
    let round = call(Method::GET, &path, Some(&dairy.vendor_user), None).await;
    expect(&round, StatusCode::OK);
    let group = &round.body["pincodes"][0];
    assert_eq!(
        group["stops"].as_array().unwrap().len(),
        1,
        "{}",
        round.text
    );
    let stop = &group["stops"][0];
    assert_eq!(stop["deliveryIds"].as_array().unwrap().len(), 2, "{stop}");
    let items = stop["items"].as_array().unwrap();
    let units: u64 = items.iter().map(|i| i["quantity"].as_u64().unwrap()).sum();
    assert_eq!(units, 3, "both orders' items at the one stop: {stop}");

    // Cancelled, the wallet order is credited back, once.
    let wallet_order = text(&dairy.orders_of(&wallet_id).await[0]["orderId"]);
    let cancel = format!("/orders/{wallet_order}/cancel");
    expect(
        &call(Method::POST, &cancel, Some(&dairy.customer), None).await,
        StatusCode::OK,
    );
    let again = call(Method::POST, &cancel, Some(&dairy.customer), None).await;
    assert!(again.status.is_client_error(), "{}", again.text);
    assert_eq!(dairy.balance().await, 20_000, "refunded to the wallet once");
    dairy.assert_ledger().await;
    let read = call(
        Method::GET,
        &format!("/subscriptions/{wallet_id}"),
        Some(&dairy.customer),
        None,
    )
    .await;
    assert_eq!(
        read.body["lastGeneratedFor"],
        date.as_str(),
        "{}",
        read.text
    );
}

#[tokio::test]
async fn a_day_the_wallet_does_not_cover_is_skipped_and_says_why() {
    let dairy = Dairy::new().await;
    let date = kolkata_date(2);
    let made = dairy
        .subscribe(dairy.subscription(1, 1, &date, "WALLET"))
        .await;
    let id = text(&made["subscriptionId"]);
    let path = format!("/subscriptions/calendar?from={date}&days=2");
    let calendar = call(Method::GET, &path, Some(&dairy.customer), None).await;
    assert_eq!(
        calendar.body["days"][0]["items"][0]["reason"], "INSUFFICIENT_BALANCE",
        "{}",
        calendar.text
    );
    let report = dairy.run(&date).await;
    assert!(
        report["skipped"]["INSUFFICIENT_BALANCE"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        dairy.orders_of(&id).await.is_empty(),
        "no order is placed to fail"
    );

    // A day changed to 0 and a vacation say so too.
    let day = format!("/subscriptions/{id}/days/{}", kolkata_date(3));
    let skipped = call(
        Method::PUT,
        &day,
        Some(&dairy.customer),
        Some(json!({"quantity": 0})),
    )
    .await;
    expect(&skipped, StatusCode::OK);
    let away = json!({"from": kolkata_date(4), "until": kolkata_date(5)});
    expect(
        &call(
            Method::PUT,
            "/subscriptions/vacation",
            Some(&dairy.customer),
            Some(away),
        )
        .await,
        StatusCode::OK,
    );
    expect(&dairy.top_up("cover", 50_000).await, StatusCode::CREATED);
    let path = format!("/subscriptions/calendar?from={}&days=4", kolkata_date(3));
    let calendar = call(Method::GET, &path, Some(&dairy.customer), None).await;
    let reasons: Vec<Value> = (0..4)
        .map(|i| calendar.body["days"][i]["items"][0]["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [
            json!("SKIPPED"),
            json!("VACATION"),
            json!("VACATION"),
            Value::Null
        ],
        "{}",
        calendar.text
    );
    dairy.assert_ledger().await;
}

#[tokio::test]
async fn twenty_top_ups_with_one_key_credit_once() {
    let dairy = Dairy::new().await;
    let replies = futures::future::join_all((0..20).map(|_| dairy.top_up("one-key", 10_000))).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert!(
        created >= 1,
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in &replies {
        assert!(
            r.status == StatusCode::CREATED || r.body["errorCode"] == "IDEMPOTENCY_IN_PROGRESS",
            "{}",
            r.text
        );
    }
    assert_eq!(dairy.balance().await, 10_000);
    let statement_month = &kolkata_date(0)[..7];
    let path = format!("/wallet/statement?month={statement_month}");
    let statement = call(Method::GET, &path, Some(&dairy.customer), None).await;
    expect(&statement, StatusCode::OK);
    assert_eq!(
        statement.body["closingBalance"]["amount"], 10_000,
        "{}",
        statement.text
    );
    // The key with another body is refused; without a key, a top-up is one of its own.
    let reused = dairy.top_up("one-key", 20_000).await;
    assert_error(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    );
    let body = json!({"amount": {"amount": 100}});
    let unkeyed = call(
        Method::POST,
        "/wallet/topups",
        Some(&dairy.customer),
        Some(body),
    )
    .await;
    expect(&unkeyed, StatusCode::CREATED);
    assert_eq!(dairy.balance().await, 10_100);
    dairy.assert_ledger().await;
}

#[tokio::test]
async fn only_the_owner_changes_one_and_admins_read_them() {
    let dairy = Dairy::new().await;
    let made = dairy
        .subscribe(dairy.subscription(0, 1, &kolkata_date(2), "COD"))
        .await;
    let path = format!("/subscriptions/{}", text(&made["subscriptionId"]));
    let (_, stranger) = customer_at(&dairy.pincode).await;
    let pause = json!({"status": "PAUSED"});
    assert_error(
        &call(Method::GET, &path, Some(&stranger), None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &call(Method::PATCH, &path, Some(&stranger), Some(pause.clone())).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let manager = user_with_role(&dairy.admin, "MANAGER", None).await;
    for staff in [&dairy.vendor_user, &manager] {
        assert_error(
            &call(Method::GET, &path, Some(staff), None).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        );
        let wallet = call(Method::GET, "/wallet", Some(staff), None).await;
        assert_error(&wallet, StatusCode::FORBIDDEN, "FORBIDDEN");
        let run = call(Method::POST, "/jobs/subscriptions", Some(staff), None).await;
        assert_error(&run, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    assert_error(
        &call(
            Method::PATCH,
            &path,
            Some(&dairy.admin),
            Some(pause.clone()),
        )
        .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &call(Method::GET, &path, None, None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    expect(
        &call(Method::GET, &path, Some(&dairy.admin), None).await,
        StatusCode::OK,
    );
    let listed = call(
        Method::GET,
        &format!("/subscriptions?userId={}", dairy.customer_id),
        Some(&dairy.admin),
        None,
    )
    .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text
    );
    let own_filter = format!("/subscriptions?userId={}", dairy.customer_id);
    assert_error(
        &call(Method::GET, &own_filter, Some(&dairy.customer), None).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );

    let paused = call(Method::PATCH, &path, Some(&dairy.customer), Some(pause)).await;
    expect(&paused, StatusCode::OK);
    assert_eq!(paused.body["status"], "PAUSED");
    let bad = call(
        Method::PATCH,
        &path,
        Some(&dairy.customer),
        Some(json!({"quantity": 0, "status": "GONE"})),
    )
    .await;
    assert_fields(&bad, &["quantity", "status"]);
    let cancelled = call(Method::DELETE, &path, Some(&dairy.customer), None).await;
    expect(&cancelled, StatusCode::OK);
    assert_eq!(cancelled.body["status"], "CANCELLED");
}

#[tokio::test]
async fn a_start_on_a_closed_date_is_refused_with_the_next_open_date() {
    let dairy = Dairy::new().await;
    let tomorrow = kolkata_date(1);
    let made = call(
        Method::POST,
        "/subscriptions",
        Some(&dairy.customer),
        Some(dairy.subscription(0, 1, &tomorrow, "COD")),
    )
    .await;
    // Tomorrow closes at 21:00 IST today: before it the start is taken, after it refused.
    if made.status == StatusCode::CONFLICT {
        assert_error(&made, StatusCode::CONFLICT, "CUTOFF_PASSED");
        assert_eq!(
            made.body["details"]["nextDate"],
            kolkata_date(2).as_str(),
            "{}",
            made.text
        );
    } else {
        expect(&made, StatusCode::CREATED);
    }
    let today = call(
        Method::POST,
        "/subscriptions",
        Some(&dairy.customer),
        Some(dairy.subscription(0, 1, &kolkata_date(0), "COD")),
    )
    .await;
    assert_error(&today, StatusCode::CONFLICT, "CUTOFF_PASSED");
}

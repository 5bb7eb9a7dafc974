//! GET /deliveries and PATCH /deliveries/{deliveryId} through HTTP, over the local host's
//! adapters on SQLite in memory: the round sheet and who sees what; a delivery's moves, the
//! order following them (stock committed on DELIVERED, released and refunded on FAILED),
//! with each write's audit entry and event.

use axum::Router;
use axum::body::Body;
use chrono::{Days, NaiveDate, Utc};
use http::{Request, StatusCode};
use milkrun_domain::Effects;
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::checkout;
use milkrun_domain::delivery::{Delivery, DeliveryStatus};
use milkrun_domain::events::EventType;
use milkrun_domain::inventory::{StockKey, StockOperation};
use milkrun_domain::money::Money;
use milkrun_domain::order::{NewOrder, Order, OrderItem, OrderStatus};
use milkrun_domain::page::PageRequest;
use milkrun_domain::payment::{Payment, PaymentStatus};
use milkrun_domain::ports::{
    AuditLog, DeliveryReads, DeliveryWrites, OrderReads, OrderWrites, PaymentReads, PaymentWrites,
    PendingEvents, StockAdjustments, StockLevels, StockReservations, UserRegistry, WalletStore,
};
use milkrun_domain::values::{DeliverySlot, PaymentMethod, Role};
use milkrun_local::{Database, LocalHost, RetryPolicy};
use milkrun_platform::Settings;
use milkrun_testkit::address;
use serde_json::{Value, json};
use uuid::Uuid;

const STOCK: u32 = 50;

/// One product variant the orders carry.
#[derive(Clone, Copy)]
struct Variant {
    product_id: Uuid,
    variant_id: Uuid,
    name: &'static str,
    variant_name: &'static str,
    price: u64,
}

impl Variant {
    fn new(name: &'static str, variant_name: &'static str, price: u64) -> Self {
        Self {
            product_id: Uuid::now_v7(),
            variant_id: Uuid::now_v7(),
            name,
            variant_name,
            price,
        }
    }

    fn key(&self, vendor_id: Uuid) -> StockKey {
        StockKey {
            vendor_id,
            product_id: self.product_id,
            variant_id: self.variant_id,
        }
    }
}

/// An order line: the variant, units, its vendor and whether it is fulfilled.
type Line = (Variant, u32, Uuid, bool);

/// The host, and what writes the fixtures straight into its stores.
struct Setup {
    host: LocalHost,
    date: NaiveDate,
}

struct World {
    setup: Setup,
    _data: tempfile::TempDir,
    app: Router,
    date: NaiveDate,
    vendor_a: Uuid,
    vendor_b: Uuid,
    milk: Variant,
    curd: Variant,
    paneer: Variant,
    admin: String,
    manager: String,
    customer: String,
    seller_a: String,
    seller_b: String,
    unlinked_seller: String,
    customer_id: Uuid,
    /// 560034: milk ×2 (A), curd ×1 (B), paneer ×1 (A, unfulfilled); paid by card.
    order1: Order,
    /// 560001: milk ×3 (A).
    order2: Order,
    /// 560034: curd ×2 (A).
    order3: Order,
}

impl World {
    /// Vendors A and B; four PREPARING orders of one customer for tomorrow (three on the
    /// morning round, one on the evening's), their stock reserved and deliveries scheduled.
    async fn new() -> Self {
        let data = tempfile::tempdir().unwrap();
        let settings = Settings {
            verify_email_url: "https://milkrun.test/verify?token=".into(),
            ..Settings::default()
        };
        let host = LocalHost::over(
            Database::in_memory().unwrap(),
            data.path(),
            settings,
            RetryPolicy::default(),
        )
        .await
        .unwrap();
        let adapters = &host.adapters;
        let auth = milkrun_http::Auth {
            keys: adapters.keys.clone(),
            access: adapters.access.clone(),
        };
        let app = milkrun_http::finish((milkrun_delivery::HTTP.api)(adapters), auth);
        let date = checkout::platform_today(Utc::now()) + Days::new(1);
        let setup = Setup { host, date };

        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let (_, admin) = setup.user("admin@milkrun.test", Role::Admin, None).await;
        let (_, manager) = setup.user("m@milkrun.test", Role::Manager, None).await;
        let (customer_id, customer) = setup.user("c@milkrun.test", Role::Customer, None).await;
        let (_, seller_a) = setup.user("a@dairy.test", Role::Vendor, Some(a)).await;
        let (_, seller_b) = setup.user("b@dairy.test", Role::Vendor, Some(b)).await;
        let (_, unlinked_seller) = setup.user("u@dairy.test", Role::Vendor, None).await;

        let milk = Variant::new("Toned milk", "1L", 6_000);
        let curd = Variant::new("Curd", "400g", 4_000);
        let paneer = Variant::new("Paneer", "200g", 9_000);
        for (variant, vendor) in [(milk, a), (curd, a), (curd, b), (paneer, a)] {
            setup.stock(variant, vendor).await;
        }
        let morning = DeliverySlot::Morning;
        let order1 = setup
            .order(
                customer_id,
                "560034",
                morning,
                &[
                    (milk, 2, a, true),
                    (curd, 1, b, true),
                    (paneer, 1, a, false),
                ],
            )
            .await;
        let order2 = setup
            .order(customer_id, "560001", morning, &[(milk, 3, a, true)])
            .await;
        let order3 = setup
            .order(customer_id, "560034", morning, &[(curd, 2, a, true)])
            .await;
        // Another slot's round: never on the morning's sheet.
        let evening = DeliverySlot::Evening;
        setup
            .order(customer_id, "560001", evening, &[(milk, 4, a, true)])
            .await;
        setup.pay(&order1).await;
        Self {
            setup,
            _data: data,
            app,
            date,
            vendor_a: a,
            vendor_b: b,
            milk,
            curd,
            paneer,
            admin,
            manager,
            customer,
            seller_a,
            seller_b,
            unlinked_seller,
            customer_id,
            order1,
            order2,
            order3,
        }
    }

    fn stores(&self) -> &milkrun_store::Stores {
        &self.setup.host.adapters.stores
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        milkrun_testkit::json_answer(&self.app, request).await
    }

    async fn round(&self, token: &str, query: &str) -> (StatusCode, Value) {
        let path = format!("/deliveries?date={}&slot=MORNING{query}", self.date);
        self.send("GET", &path, token, None).await
    }

    async fn patch(&self, token: &str, delivery_id: Uuid, body: Value) -> (StatusCode, Value) {
        let path = format!("/deliveries/{delivery_id}");
        self.send("PATCH", &path, token, Some(body)).await
    }

    /// Moves a delivery through `statuses` in turn, each answered 200.
    async fn walk(&self, token: &str, delivery_id: Uuid, statuses: &[&str]) {
        for status in statuses {
            let (code, reply) = self
                .patch(token, delivery_id, json!({"status": status}))
                .await;
            assert_eq!(code, StatusCode::OK, "{status}: {reply}");
            assert_eq!(reply["status"], *status);
        }
    }

    async fn order_status(&self, order: &Order) -> OrderStatus {
        let stores = self.stores();
        stores
            .orders
            .get(order.order_id)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    /// (stock, reserved) of a row.
    async fn levels(&self, variant: Variant, vendor_id: Uuid) -> (u32, u32) {
        let stores = self.stores();
        let row = stores
            .stock
            .get(&variant.key(vendor_id))
            .await
            .unwrap()
            .unwrap();
        (row.stock, row.reserved)
    }

    async fn audit_count(&self, delivery_id: Uuid) -> usize {
        let stores = self.stores();
        stores
            .audit
            .for_entity(&delivery_id.to_string(), &PageRequest::first(100))
            .await
            .unwrap()
            .items
            .len()
    }

    /// The audit entries of the order's stock settlements.
    async fn stock_audit(&self, order: &Order) -> Vec<AuditEntry> {
        let stores = self.stores();
        let trail = stores
            .audit
            .for_entity(&order.order_id.to_string(), &PageRequest::first(100))
            .await
            .unwrap();
        let reservation = trail
            .items
            .into_iter()
            .filter(|e| e.entity == "RESERVATION");
        reservation.collect()
    }

    async fn delivery_events(&self, delivery_id: Uuid) -> Vec<Value> {
        let stores = self.stores();
        stores
            .outbox
            .pending(1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == EventType::DeliveryUpdated)
            .filter(|e| e.data["deliveryId"] == json!(delivery_id))
            .map(|e| e.data)
            .collect()
    }
}

impl Setup {
    fn stores(&self) -> &milkrun_store::Stores {
        &self.host.adapters.stores
    }

    /// An account with `role` (and vendor), and an access token for it.
    async fn user(&self, email: &str, role: Role, vendor_id: Option<Uuid>) -> (Uuid, String) {
        let mut user = milkrun_testkit::user(email, role, Utc::now());
        user.vendor_id = vendor_id;
        self.stores()
            .users
            .create(&user, &Effects::none())
            .await
            .unwrap();
        let signer = self.host.adapters.keys.signer().unwrap();
        let token = signer.issue_access(user.user_id, role, vendor_id).unwrap();
        (user.user_id, token)
    }

    async fn stock(&self, variant: Variant, vendor_id: Uuid) {
        self.stores()
            .stock
            .adjust(
                &variant.key(vendor_id),
                StockOperation::Add(STOCK),
                None,
                &|_, _| Effects::none(),
            )
            .await
            .unwrap();
    }

    /// A PREPARING order for the round's date: stock reserved, deliveries scheduled.
    async fn order(
        &self,
        user_id: Uuid,
        pincode: &str,
        slot: DeliverySlot,
        lines: &[Line],
    ) -> Order {
        let items: Vec<OrderItem> = lines
            .iter()
            .map(|&(v, quantity, vendor_id, fulfilled)| OrderItem {
                product_id: v.product_id,
                variant_id: v.variant_id,
                name: v.name.into(),
                variant_name: v.variant_name.into(),
                quantity,
                unit_price: Money::inr(v.price),
                vendor_id: Some(vendor_id),
                fulfilled,
            })
            .collect();
        let now = Utc::now();
        let new = NewOrder {
            order_id: Uuid::now_v7(),
            user_id,
            totals: checkout::totals(&items, checkout::NO_DISCOUNT).unwrap(),
            items,
            delivery_date: self.date,
            delivery_slot: slot,
            delivery_address: address(pincode),
            payment_method: PaymentMethod::Card,
            subscription_id: None,
            idempotency_key: None,
        };
        let mut order = Order::place(new, "test", now);
        for to in [
            OrderStatus::PaymentPending,
            OrderStatus::Confirmed,
            OrderStatus::Preparing,
        ] {
            order.move_to(to, "test", None, now).unwrap();
        }
        let deliveries = Delivery::schedule_for(&order, "checkout", now);
        order.delivery_ids = deliveries.iter().map(|d| d.delivery_id).collect();
        let stores = self.stores();
        let none = Effects::none();
        stores
            .stock
            .reserve(order.order_id, &order.stock_lines(), &none)
            .await
            .unwrap();
        stores.orders.create(&order, &none).await.unwrap();
        stores
            .deliveries
            .create_many(&deliveries, &none)
            .await
            .unwrap();
        order
    }

    /// A succeeded card payment of `order`.
    async fn pay(&self, order: &Order) {
        let now = Utc::now();
        let payment = Payment {
            payment_id: Payment::id_for(order.order_id),
            order_id: order.order_id,
            user_id: order.user_id,
            amount: order.total,
            method: PaymentMethod::Card,
            status: PaymentStatus::Succeeded,
            attempts: 1,
            gateway_reference: Some("sim-1".into()),
            failure_reason: None,
            fraud_score: 0,
            refunded_amount: milkrun_domain::money::Money::inr(0),
            refunds: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        self.stores()
            .payments
            .create(&payment, &Effects::none())
            .await
            .unwrap();
    }
}

fn id_of(order: &Order, vendor_id: Uuid) -> Uuid {
    Delivery::id_for(order.order_id, vendor_id)
}

/// The sheet's groups as (pincode, [deliveryId]).
fn groups(sheet: &Value) -> Vec<(String, Vec<Uuid>)> {
    sheet["pincodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let ids = g["deliveries"].as_array().unwrap().iter();
            let ids = ids.map(|d| d["deliveryId"].as_str().unwrap().parse().unwrap());
            (g["pincode"].as_str().unwrap().to_owned(), ids.collect())
        })
        .collect()
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort_unstable();
    ids
}

fn load_line(v: Variant, quantity: u32) -> Value {
    json!({"productId": v.product_id, "variantId": v.variant_id, "name": v.name,
        "variantName": v.variant_name, "quantity": quantity})
}

/// The delivery of `delivery_id` on the sheet.
fn stop(sheet: &Value, delivery_id: Uuid) -> Value {
    sheet["pincodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["deliveries"].as_array().unwrap().iter())
        .find(|d| d["deliveryId"] == json!(delivery_id))
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_vendor_gets_its_own_round_grouped_by_pincode_with_what_to_load() {
    let w = World::new().await;
    let (code, sheet) = w.round(&w.seller_a, "").await;
    assert_eq!(code, StatusCode::OK, "{sheet}");
    assert_eq!(sheet["date"], json!(w.date));
    assert_eq!(sheet["slot"], "MORNING");
    let a = w.vendor_a;
    assert_eq!(
        groups(&sheet),
        [
            ("560001".to_owned(), vec![id_of(&w.order2, a)]),
            (
                "560034".to_owned(),
                sorted(vec![id_of(&w.order1, a), id_of(&w.order3, a)])
            ),
        ]
    );
    let first = stop(&sheet, id_of(&w.order1, a));
    assert_eq!(
        first["items"],
        json!([load_line(w.milk, 2)]),
        "only the vendor's fulfilled items: not B's curd, not the unfulfilled paneer"
    );
    assert_eq!(
        (&first["orderId"], &first["userId"], &first["vendorId"]),
        (&json!(w.order1.order_id), &json!(w.customer_id), &json!(a))
    );
    assert_eq!(first["status"], "SCHEDULED");
    assert_eq!(first["address"]["pincode"], "560034");
    assert_eq!(
        sheet["load"],
        json!([load_line(w.curd, 2), load_line(w.milk, 5)]),
        "by name; the evening's milk is not loaded"
    );
    assert_eq!(sheet["nextCursor"], Value::Null);

    let (code, mine) = w
        .round(&w.seller_a, &format!("&vendorId={}", w.vendor_a))
        .await;
    assert_eq!(
        (code, &mine),
        (StatusCode::OK, &sheet),
        "its own id is its round"
    );
}

#[tokio::test]
async fn an_admin_sees_every_vendor_or_one_and_pages_keep_the_order() {
    let w = World::new().await;
    let (a, b) = (w.vendor_a, w.vendor_b);
    let (code, sheet) = w.round(&w.admin, "").await;
    assert_eq!(code, StatusCode::OK, "{sheet}");
    let east = sorted(vec![
        id_of(&w.order1, a),
        id_of(&w.order1, b),
        id_of(&w.order3, a),
    ]);
    assert_eq!(
        groups(&sheet),
        [
            ("560001".to_owned(), vec![id_of(&w.order2, a)]),
            ("560034".to_owned(), east.clone()),
        ]
    );
    assert_eq!(
        stop(&sheet, id_of(&w.order1, b))["items"],
        json!([load_line(w.curd, 1)])
    );
    assert_eq!(
        sheet["load"],
        json!([load_line(w.curd, 3), load_line(w.milk, 5)])
    );

    let (code, only_b) = w.round(&w.admin, &format!("&vendorId={b}")).await;
    assert_eq!(code, StatusCode::OK, "{only_b}");
    assert_eq!(
        groups(&only_b),
        [("560034".to_owned(), vec![id_of(&w.order1, b)])]
    );
    assert_eq!(only_b["load"], json!([load_line(w.curd, 1)]));

    // Two pages of two: the pincode cut by the page goes on where the next page starts.
    let (code, first) = w.round(&w.admin, "&limit=2").await;
    assert_eq!(code, StatusCode::OK, "{first}");
    assert_eq!(
        groups(&first),
        [
            ("560001".to_owned(), vec![id_of(&w.order2, a)]),
            ("560034".to_owned(), vec![east[0]]),
        ]
    );
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let (code, second) = w
        .round(&w.admin, &format!("&limit=2&cursor={cursor}"))
        .await;
    assert_eq!(code, StatusCode::OK, "{second}");
    assert_eq!(groups(&second), [("560034".to_owned(), east[1..].to_vec())]);
    assert_eq!(second["nextCursor"], Value::Null);

    let (code, reply) = w
        .round(&w.seller_a, &format!("&limit=2&cursor={cursor}"))
        .await;
    assert_eq!(
        (code, &reply["errorCode"]),
        (StatusCode::NOT_FOUND, &json!("NOT_FOUND")),
        "a cursor of another listing: {reply}"
    );
}

#[tokio::test]
async fn others_are_refused_before_the_query_is_read_and_the_query_is_checked() {
    let w = World::new().await;
    for token in [&w.customer, &w.manager, &w.unlinked_seller] {
        let (code, reply) = w.send("GET", "/deliveries", token, None).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{reply}");
        assert_eq!(reply["errorCode"], "FORBIDDEN");
    }
    let (code, reply) = w.send("GET", "/deliveries", "not-a-token", None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{reply}");

    let (code, reply) = w
        .round(&w.seller_a, &format!("&vendorId={}", w.vendor_b))
        .await;
    assert_eq!(
        code,
        StatusCode::FORBIDDEN,
        "another vendor's round: {reply}"
    );

    let (code, reply) = w.send("GET", "/deliveries", &w.admin, None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(reply["errorCode"], "VALIDATION_ERROR");
    assert_eq!(
        reply["details"]["fields"],
        json!({"date": "is required", "slot": "is required"})
    );
    let (code, reply) = w
        .send(
            "GET",
            "/deliveries?date=2030-02-30&slot=NIGHT&vendorId=x&limit=0",
            &w.admin,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{reply}");
    let fields = reply["details"]["fields"].as_object().unwrap();
    let named: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(named, ["date", "limit", "slot", "vendorId"]);
}

#[tokio::test]
async fn a_delivery_in_transit_sends_the_order_out_and_all_delivered_commit_its_stock() {
    let w = World::new().await;
    let (a, b) = (w.vendor_a, w.vendor_b);
    let (da, db) = (id_of(&w.order1, a), id_of(&w.order1, b));
    let driver = Uuid::now_v7();
    assert_eq!(w.levels(w.milk, a).await, (STOCK - 2 - 3 - 4, 2 + 3 + 4));
    assert_eq!(w.levels(w.curd, b).await, (STOCK - 1, 1));

    let (code, reply) = w
        .patch(
            &w.seller_a,
            da,
            json!({"status": "ASSIGNED", "driverId": driver}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{reply}");
    assert_eq!(reply["driverId"], json!(driver));
    assert!(reply.get("version").is_none(), "no storage detail: {reply}");
    w.walk(&w.seller_a, da, &["PICKED_UP"]).await;
    assert_eq!(w.order_status(&w.order1).await, OrderStatus::Preparing);
    w.walk(&w.seller_a, da, &["IN_TRANSIT"]).await;
    assert_eq!(w.order_status(&w.order1).await, OrderStatus::OutForDelivery);

    // The same status again, nothing else changed: 200, nothing written.
    let audited = w.audit_count(da).await;
    let (code, reply) = w
        .patch(
            &w.seller_a,
            da,
            json!({"status": "IN_TRANSIT", "driverId": driver}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{reply}");
    assert_eq!(w.audit_count(da).await, audited);

    w.walk(&w.seller_a, da, &["DELIVERED"]).await;
    assert_eq!(
        w.order_status(&w.order1).await,
        OrderStatus::OutForDelivery,
        "B's delivery is still out"
    );
    w.walk(&w.admin, db, &["ASSIGNED", "PICKED_UP", "IN_TRANSIT"])
        .await;
    let proof = "https://proof.example/o1-b.jpg";
    let (code, reply) = w
        .patch(
            &w.seller_b,
            db,
            json!({"status": "DELIVERED", "proofUrl": proof}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{reply}");
    assert_eq!(reply["proofUrl"], proof);
    assert_eq!(reply["statusHistory"].as_array().unwrap().len(), 5);
    assert_eq!(w.order_status(&w.order1).await, OrderStatus::Delivered);
    assert_eq!(
        w.levels(w.curd, b).await,
        (STOCK - 1, 0),
        "B's curd committed: reserved gone, stock not back"
    );
    assert_eq!(
        w.levels(w.milk, a).await,
        (STOCK - 9, 3 + 4),
        "the order's 2 milk committed; the other orders' still held"
    );
    assert_eq!(
        w.levels(w.paneer, a).await,
        (STOCK, 0),
        "unfulfilled: never held"
    );

    // Each move wrote one audit entry and one event, in its write.
    assert_eq!(w.audit_count(da).await, 4);
    let events = w.delivery_events(da).await;
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["ASSIGNED", "PICKED_UP", "IN_TRANSIT", "DELIVERED"]
    );
    let stores = w.stores();
    let trail = stores
        .audit
        .for_entity(&da.to_string(), &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(trail[0].action, "DELIVERY_UPDATED");
    assert_eq!(trail[0].entity, "DELIVERY");
    assert_eq!(
        trail[0].changes,
        json!({"status": {"before": "IN_TRANSIT", "after": "DELIVERED"}})
    );
    assert_eq!(
        trail[3].changes["driverId"],
        json!({"before": null, "after": driver})
    );

    // Final: no move out of DELIVERED.
    let (code, reply) = w.patch(&w.seller_a, da, json!({"status": "FAILED"})).await;
    assert_eq!(code, StatusCode::CONFLICT, "{reply}");
    assert_eq!(reply["errorCode"], "INVALID_TRANSITION");
}

#[tokio::test]
async fn a_failed_delivery_cancels_the_order_releases_its_stock_and_refunds_it() {
    let w = World::new().await;
    let (a, b) = (w.vendor_a, w.vendor_b);
    w.walk(&w.seller_a, id_of(&w.order1, a), &["ASSIGNED"])
        .await;
    w.walk(&w.seller_b, id_of(&w.order1, b), &["FAILED"]).await;
    assert_eq!(w.order_status(&w.order1).await, OrderStatus::Refunded);
    let stores = w.stores();
    let payment = stores
        .payments
        .for_order(w.order1.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(w.levels(w.curd, b).await, (STOCK, 0), "released");
    assert_eq!(
        w.levels(w.milk, a).await,
        (STOCK - 7, 7),
        "only order 1's milk back"
    );
    assert_eq!(
        w.order_status(&w.order2).await,
        OrderStatus::Preparing,
        "other orders untouched"
    );
    let settled = w.stock_audit(&w.order1).await;
    let actions: Vec<&str> = settled.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["STOCK_RELEASED"],
        "the release has its audit entry"
    );
    assert_eq!(
        settled[0].changes["status"],
        json!({"before": "RESERVED", "after": "RELEASED"})
    );
}

#[tokio::test]
async fn a_failure_after_another_vendor_delivered_keeps_the_delivered_stock_out() {
    let w = World::new().await;
    let (a, b) = (w.vendor_a, w.vendor_b);
    let delivered = ["ASSIGNED", "PICKED_UP", "IN_TRANSIT", "DELIVERED"];
    w.walk(&w.seller_a, id_of(&w.order1, a), &delivered).await;
    w.walk(&w.seller_b, id_of(&w.order1, b), &["FAILED"]).await;
    assert_eq!(w.order_status(&w.order1).await, OrderStatus::Refunded);
    assert_eq!(
        w.levels(w.milk, a).await,
        (STOCK - 9, 7),
        "A delivered order 1's 2 milk: gone for good, not back on the shelf"
    );
    assert_eq!(w.levels(w.curd, b).await, (STOCK, 0), "B's curd back");
    let stores = w.stores();
    let a_delivery = stores.deliveries.get(id_of(&w.order1, a)).await.unwrap();
    assert_eq!(a_delivery.unwrap().status, DeliveryStatus::Delivered);
    let settled = w.stock_audit(&w.order1).await;
    assert_eq!(settled.len(), 1, "one settlement, one entry: {settled:?}");
    let entry = &settled[0];
    assert_eq!(
        (entry.action.as_str(), entry.entity.as_str()),
        ("STOCK_COMMITTED", "RESERVATION")
    );
    assert_eq!(
        entry.changes["status"],
        json!({"before": "RESERVED", "after": "COMMITTED"})
    );
    assert_eq!(entry.changes["delivered"][0]["key"]["vendorId"], json!(a));
    assert_eq!(entry.changes["delivered"][0]["quantity"], 2);
    assert_eq!(entry.changes["returned"][0]["key"]["vendorId"], json!(b));
    assert_eq!(entry.changes["returned"][0]["quantity"], 1);
}

#[tokio::test]
async fn a_cancel_after_one_vendor_delivered_refunds_only_the_other_vendors_lines() {
    let w = World::new().await;
    let (a, b) = (w.vendor_a, w.vendor_b);
    let stores = w.stores();
    // Order 1 paid from the wallet: milk ×2 (A) 12,000 + curd ×1 (B) 4,000 = 16,000.
    let order_id = w.order1.order_id;
    let mut paid = stores.payments.for_order(order_id).await.unwrap().unwrap();
    paid.method = PaymentMethod::Wallet;
    stores
        .payments
        .update(paid, &Effects::none())
        .await
        .unwrap();
    let delivered = ["ASSIGNED", "PICKED_UP", "IN_TRANSIT", "DELIVERED"];
    w.walk(&w.seller_a, id_of(&w.order1, a), &delivered).await;
    w.walk(&w.seller_b, id_of(&w.order1, b), &["FAILED"]).await;

    assert_eq!(w.order_status(&w.order1).await, OrderStatus::Refunded);
    let payment = stores.payments.for_order(order_id).await.unwrap().unwrap();
    assert_eq!(
        (payment.status, payment.amount, payment.refunded_amount),
        (
            PaymentStatus::Succeeded,
            Money::inr(16_000),
            Money::inr(4_000)
        ),
        "B's curd went back, A's delivered milk was kept"
    );
    let refunds: Vec<(Money, &str)> = payment
        .refunds
        .iter()
        .map(|r| (r.amount, r.reason.as_str()))
        .collect();
    assert_eq!(refunds, [(Money::inr(4_000), "UNDELIVERED_LINES")]);
    let wallet = stores.wallets.get(w.customer_id).await.unwrap().unwrap();
    assert_eq!(
        wallet.balance,
        Money::inr(4_000),
        "credited exactly the refund"
    );
    let news: Vec<Value> = stores
        .outbox
        .pending(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == EventType::PaymentRefunded)
        .map(|e| e.data)
        .collect();
    assert_eq!(news.len(), 1, "{news:?}");
    assert_eq!(news[0]["refunded"]["amount"], 4_000);
    assert_eq!(news[0]["status"], "SUCCEEDED");
    let trail = stores
        .audit
        .for_entity(&payment.payment_id.to_string(), &PageRequest::first(100))
        .await
        .unwrap();
    let refunded: Vec<_> = trail
        .items
        .iter()
        .filter(|e| e.action == "PAYMENT_REFUNDED")
        .collect();
    assert_eq!(refunded.len(), 1);
    assert_eq!(refunded[0].changes["refunded"]["amount"], 4_000);

    // A repeat of the failure's settlement refunds nothing more.
    w.walk(&w.seller_b, id_of(&w.order1, b), &["FAILED"]).await;
    let again = stores.payments.for_order(order_id).await.unwrap().unwrap();
    assert_eq!(again.refunds.len(), 1);
    let wallet = stores.wallets.get(w.customer_id).await.unwrap().unwrap();
    assert_eq!(wallet.balance, Money::inr(4_000));
}

#[tokio::test]
async fn a_cancel_cut_short_after_its_move_is_finished_by_the_vendor_repeating_failed() {
    let w = World::new().await;
    let (a, b) = (w.vendor_a, w.vendor_b);
    let (stores, none, now) = (w.stores(), Effects::none(), Utc::now());
    // B's FAILED and the order's CANCELLED were written; the process died before the
    // call-off, the stock and the refund.
    let mut failed = stores
        .deliveries
        .get(id_of(&w.order1, b))
        .await
        .unwrap()
        .unwrap();
    failed
        .move_to(DeliveryStatus::Failed, "test", None, now)
        .unwrap();
    stores.deliveries.update(failed, &none).await.unwrap();
    let mut order = stores.orders.get(w.order1.order_id).await.unwrap().unwrap();
    order
        .move_to(OrderStatus::Cancelled, "test", None, now)
        .unwrap();
    stores.orders.update(order, &none).await.unwrap();

    w.walk(&w.seller_b, id_of(&w.order1, b), &["FAILED"]).await;
    assert_eq!(w.order_status(&w.order1).await, OrderStatus::Refunded);
    assert_eq!(w.levels(w.curd, b).await, (STOCK, 0), "B's curd back");
    assert_eq!(
        w.levels(w.milk, a).await,
        (STOCK - 7, 7),
        "order 1's milk back"
    );
    let called_off = stores.deliveries.get(id_of(&w.order1, a)).await.unwrap();
    assert_eq!(called_off.unwrap().status, DeliveryStatus::Failed);
}

#[tokio::test]
async fn illegal_moves_bad_bodies_and_other_vendors_are_refused_changing_nothing() {
    let w = World::new().await;
    let da = id_of(&w.order1, w.vendor_a);

    let (code, reply) = w
        .patch(&w.seller_a, da, json!({"status": "DELIVERED"}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{reply}");
    assert_eq!(reply["errorCode"], "INVALID_TRANSITION");

    let (code, reply) = w
        .patch(&w.seller_b, da, json!({"status": "ASSIGNED"}))
        .await;
    assert_eq!(
        (code, &reply["errorCode"]),
        (StatusCode::NOT_FOUND, &json!("NOT_FOUND")),
        "another vendor's delivery is as unknown: {reply}"
    );
    for token in [&w.customer, &w.manager, &w.unlinked_seller] {
        let (code, reply) = w.patch(token, da, json!({"status": "ASSIGNED"})).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{reply}");
    }
    let (code, _) = w
        .patch(&w.admin, Uuid::now_v7(), json!({"status": "ASSIGNED"}))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = w
        .send(
            "PATCH",
            "/deliveries/not-a-uuid",
            &w.admin,
            Some(json!({"status": "ASSIGNED"})),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    let long = format!("https://proof.example/{}", "a".repeat(2048));
    for (body, field) in [
        (json!({}), "status"),
        (json!({"status": "LOST"}), "status"),
        (json!({"status": 3}), "status"),
        (
            json!({"status": "ASSIGNED", "driverId": "driver-7"}),
            "driverId",
        ),
        (
            json!({"status": "ASSIGNED", "proofUrl": "ftp://proof.example/x"}),
            "proofUrl",
        ),
        (json!({"status": "ASSIGNED", "proofUrl": long}), "proofUrl"),
    ] {
        let (code, reply) = w.patch(&w.seller_a, da, body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert!(
            reply["details"]["fields"].get(field).is_some(),
            "{body} names {field}: {reply}"
        );
    }
    let (code, reply) = w
        .send("PATCH", &format!("/deliveries/{da}"), &w.seller_a, None)
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{reply}");

    let stores = w.stores();
    let delivery = stores.deliveries.get(da).await.unwrap().unwrap();
    assert_eq!(delivery.status_history.len(), 1, "still only SCHEDULED");
    assert_eq!(w.audit_count(da).await, 0);
    assert!(w.delivery_events(da).await.is_empty());
    assert_eq!(w.order_status(&w.order1).await, OrderStatus::Preparing);
}

//! The payment service through HTTP: its router finished as every host finishes it, over
//! SQLite in memory, with a checkout runner that records the executions it is asked to start
//! (no checkout runs: what a start does is the checkout's own suite).

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use chrono::{Days, TimeDelta, Utc};
use http::{Request, StatusCode};
use milkrun_auth::KeyRing;
use milkrun_checkout::SimulatedGateway;
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::events::EventType;
use milkrun_domain::money::Money;
use milkrun_domain::order::{NewOrder, Order, OrderItem, OrderStatus, OrderTotals};
use milkrun_domain::page::PageRequest;
use milkrun_domain::payment::{Payment, PaymentStatus};
use milkrun_domain::ports::{
    AuditLog, CheckoutRun, CheckoutStart, Mail, Mailer, OrderReads, OrderWrites, PaymentReads,
    PaymentWrites, PendingEvents, ProductWrites, UserRegistry, VendorWrites,
};
use milkrun_domain::values::{DeliverySlot, PaymentMethod, Role};
use milkrun_domain::{Effects, StoreError};
use milkrun_local::{Database, SqliteItemStore};
use milkrun_payment::signature;
use milkrun_platform::{Adapters, Settings, WebhookSecret};
use milkrun_store::Stores;
use milkrun_testkit::dairy::{DairySpec, dairy};
use milkrun_testkit::{StartsSeen, address, user};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &str = "whsec_test_secret_0123456789";

const DAIRY: DairySpec<'static> = DairySpec {
    pincode: "560001",
    cutoff: None,
    daily_order_limit: 50,
    stock: 10,
    variants: &[("1L", 6_000)],
};

struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send(&self, _mail: &Mail) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl milkrun_domain::ports::SmsSender for NoMail {
    async fn send(&self, _sms: &milkrun_domain::ports::Sms) -> Result<(), StoreError> {
        Ok(())
    }
}

struct World {
    app: Router,
    adapters: Adapters,
    stores: Stores,
    starts: Arc<StartsSeen>,
    keys: Arc<KeyRing>,
    /// A customer who owns the orders below.
    owner: Uuid,
    /// Another customer.
    stranger: Uuid,
    manager: Uuid,
    vendor: Uuid,
    /// What the orders below are of: a dairy serving 560001 and its product.
    dairy: (
        milkrun_domain::vendor::Vendor,
        milkrun_domain::product::Product,
    ),
}

fn adapters(stores: &Stores, starts: Arc<StartsSeen>, secret: Option<&str>) -> Adapters {
    let keys = Arc::new(KeyRing::derived(b"payment-tests-master-secret-0123456789", 3600).unwrap());
    Adapters {
        stores: stores.clone(),
        mailer: Arc::new(NoMail),
        sms: Arc::new(NoMail),
        keys,
        access: stores.users.clone(),
        checkout: starts,
        gateway: Arc::new(SimulatedGateway::new()),
        settings: Settings {
            webhook_secret: secret.map(|s| WebhookSecret::new(s).unwrap()),
            ..Settings::default()
        },
    }
}

impl World {
    async fn new() -> Self {
        let stores = Stores::over(Arc::new(SqliteItemStore::new(
            Database::in_memory().unwrap(),
        )));
        let starts = Arc::new(StartsSeen::default());
        let stores_of_dairy = stores.clone();
        let adapters = adapters(&stores, starts.clone(), Some(SECRET));
        let auth = milkrun_http::Auth {
            keys: adapters.keys.clone(),
            access: adapters.access.clone(),
        };
        let app = milkrun_http::finish((milkrun_payment::HTTP.api)(&adapters), auth);
        let mut world = Self {
            app,
            keys: adapters.keys.clone(),
            adapters,
            stores,
            starts,
            owner: Uuid::nil(),
            stranger: Uuid::nil(),
            manager: Uuid::nil(),
            vendor: Uuid::nil(),
            dairy: dairy(&stores_of_dairy, &DAIRY).await,
        };
        world.owner = world.user("owner@example.com", Role::Customer).await;
        world.stranger = world.user("stranger@example.com", Role::Customer).await;
        world.manager = world.user("manager@example.com", Role::Manager).await;
        world.vendor = world.user("vendor@example.com", Role::Vendor).await;
        world
    }

    async fn user(&self, email: &str, role: Role) -> Uuid {
        let user = user(email, role, Utc::now());
        self.stores
            .users
            .create(&user, &Effects::none())
            .await
            .unwrap();
        user.user_id
    }

    fn token(&self, user_id: Uuid, role: Role) -> String {
        self.keys
            .signer()
            .unwrap()
            .issue_access(user_id, role, None)
            .unwrap()
    }

    /// An order of the owner's, written straight into the store after moving through
    /// `path` (from PENDING).
    async fn order(&self, path: &[OrderStatus], token: Option<&str>) -> Order {
        let now = Utc::now();
        let (vendor, product) = &self.dairy;
        let item = OrderItem {
            product_id: product.product_id,
            variant_id: product.variants[0].variant_id,
            name: product.name.clone(),
            variant_name: "1L".into(),
            quantity: 2,
            unit_price: Money::inr(6_000),
            vendor_id: Some(vendor.vendor_id),
            fulfilled: true,
        };
        let new = NewOrder {
            order_id: Uuid::now_v7(),
            user_id: self.owner,
            items: vec![item],
            totals: OrderTotals {
                subtotal: Money::inr(12_000),
                discount: Money::inr(0),
                total: Money::inr(12_000),
            },
            // After today in the platform's time zone, whatever the hour in UTC.
            delivery_date: milkrun_domain::checkout::platform_today(now) + Days::new(2),
            delivery_slot: DeliverySlot::Morning,
            delivery_address: address("560001"),
            payment_method: PaymentMethod::Card,
            subscription_id: None,
            idempotency_key: None,
        };
        let mut order = Order::place(new, self.owner.to_string(), now);
        order.payment_token = token.map(str::to_owned);
        for &status in path {
            order.move_to(status, "checkout", None, now).unwrap();
        }
        self.stores
            .orders
            .create(&order, &Effects::none())
            .await
            .unwrap();
        order
    }

    /// A PAYMENT_FAILED order of the owner's, with its declined payment record.
    async fn declined_order(&self) -> (Order, Payment) {
        let order = self
            .order(
                &[OrderStatus::PaymentPending, OrderStatus::PaymentFailed],
                Some("tok_decline"),
            )
            .await;
        let now = Utc::now();
        let payment = Payment {
            payment_id: Payment::id_for(order.order_id),
            order_id: order.order_id,
            user_id: order.user_id,
            amount: order.total,
            method: PaymentMethod::Card,
            status: PaymentStatus::Failed,
            attempts: 1,
            gateway_reference: None,
            failure_reason: Some("card declined".into()),
            fraud_score: 0,
            refunded_amount: milkrun_domain::money::Money::inr(0),
            refunds: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        self.stores
            .payments
            .create(&payment, &Effects::none())
            .await
            .unwrap();
        (order, payment)
    }

    /// The order's payment record as stored.
    async fn stored_payment(&self, order_id: Uuid) -> Option<Payment> {
        self.stores.payments.for_order(order_id).await.unwrap()
    }

    /// The retry's execution declined again: PAYMENT_PENDING, then PAYMENT_FAILED.
    async fn declined_again(&self, order_id: Uuid) {
        let mut again = self.stored_order(order_id).await;
        let now = Utc::now();
        again
            .move_to(OrderStatus::PaymentPending, "checkout", None, now)
            .unwrap();
        again
            .move_to(OrderStatus::PaymentFailed, "checkout", None, now)
            .unwrap();
        let orders = &self.stores.orders;
        orders.update(again, &Effects::none()).await.unwrap();
    }

    async fn stored_order(&self, order_id: Uuid) -> Order {
        self.stores.orders.get(order_id).await.unwrap().unwrap()
    }

    fn starts(&self) -> Vec<CheckoutStart> {
        self.starts.starts()
    }

    /// Which runs were started, in order.
    fn runs(&self) -> Vec<CheckoutRun> {
        self.starts().iter().map(|s| s.run).collect()
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = match bytes.is_empty() {
            true => Value::Null,
            false => serde_json::from_slice(&bytes).unwrap(),
        };
        (status, body)
    }

    async fn pay(
        &self,
        caller: (Uuid, Role),
        key: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut request = Request::post("/payments")
            .header("content-type", "application/json")
            .header(
                "authorization",
                format!("Bearer {}", self.token(caller.0, caller.1)),
            );
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        self.call(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    async fn get_payment(&self, caller: (Uuid, Role), id: &str) -> (StatusCode, Value) {
        let request = Request::get(format!("/payments/{id}"))
            .header(
                "authorization",
                format!("Bearer {}", self.token(caller.0, caller.1)),
            )
            .body(Body::empty())
            .unwrap();
        self.call(request).await
    }

    /// Delivers `body` to the webhook with `signature` as its `X-Signature` (none if `None`).
    async fn webhook_raw(&self, body: &str, signature: Option<String>) -> (StatusCode, Value) {
        let mut request =
            Request::post("/payments/webhook").header("content-type", "application/json");
        if let Some(signature) = signature {
            request = request.header("x-signature", signature);
        }
        self.call(request.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    /// Delivers `body` signed with the webhook secret.
    async fn webhook(&self, body: &Value) -> (StatusCode, Value) {
        let raw = body.to_string();
        let signed = signature::sign(SECRET.as_bytes(), raw.as_bytes());
        self.webhook_raw(&raw, Some(signed)).await
    }

    /// Delivers `body` signed, and expects it refused as 409 CONFLICT (a payment id that is
    /// not the order's).
    async fn webhook_conflicts(&self, body: &Value) {
        let (status, answer) = self.webhook(body).await;
        assert_eq!(
            (status, answer["errorCode"].clone()),
            (StatusCode::CONFLICT, json!("CONFLICT")),
            "{answer}"
        );
    }

    /// The events of `event_type` committed for `order_id`.
    async fn events(&self, event_type: EventType, order_id: Uuid) -> usize {
        self.stores
            .outbox
            .pending(1_000)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.event_type == event_type)
            .filter(|e| e.data["orderId"] == json!(order_id))
            .count()
    }

    async fn audit(&self, entity_id: Uuid) -> Vec<AuditEntry> {
        self.stores
            .audit
            .for_entity(&entity_id.to_string(), &PageRequest::first(100))
            .await
            .unwrap()
            .items
    }
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339()
}

// --- POST /payments ----------------------------------------------------------------------

#[tokio::test]
async fn a_retry_of_a_payment_failed_order_stores_the_new_token_and_starts_one_retry() {
    let world = World::new().await;
    let (order, payment) = world.declined_order().await;

    let (status, body) = world
        .pay(
            (world.owner, Role::Customer),
            None,
            json!({"orderId": order.order_id, "method": "UPI", "paymentToken": "tok_ok"}),
        )
        .await;

    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"orderId": order.order_id, "status": "PAYMENT_FAILED", "paymentId": payment.payment_id})
    );
    assert_eq!(
        world.starts(),
        [CheckoutStart {
            order_id: order.order_id,
            payment_method: PaymentMethod::Upi,
            run: CheckoutRun::PaymentRetry { attempt: 1 },
        }]
    );
    let stored = world.stored_order(order.order_id).await;
    assert_eq!(stored.payment_token.as_deref(), Some("tok_ok"));
    assert_eq!(stored.payment_method, PaymentMethod::Upi);
    assert_eq!(
        stored.status,
        OrderStatus::PaymentFailed,
        "the checkout moves it, not the call"
    );
    let audit = world.audit(order.order_id).await;
    assert!(
        audit
            .iter()
            .any(|e| e.action == "ORDER_UPDATED" && e.user_id == Some(world.owner)),
        "{audit:?}"
    );
    assert_eq!(
        world.stored_payment(order.order_id).await,
        Some(payment),
        "nothing is charged or recorded by the call itself"
    );
}

#[tokio::test]
async fn a_second_decline_names_a_new_retry_and_no_token_means_the_default() {
    let world = World::new().await;
    let (order, _) = world.declined_order().await;
    let body = json!({"orderId": order.order_id, "method": "CARD"});
    world
        .pay((world.owner, Role::Customer), None, body.clone())
        .await;
    world.declined_again(order.order_id).await;

    let (status, _) = world.pay((world.owner, Role::Customer), None, body).await;

    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        world.runs(),
        [
            CheckoutRun::PaymentRetry { attempt: 1 },
            CheckoutRun::PaymentRetry { attempt: 2 }
        ]
    );
    let stored = world.stored_order(order.order_id).await;
    assert_eq!(
        stored.payment_token, None,
        "no token: the gateway's default"
    );
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_answers_the_same_without_a_second_start() {
    let world = World::new().await;
    let (order, _) = world.declined_order().await;
    let body = json!({"orderId": order.order_id, "method": "CARD", "paymentToken": "tok_ok"});
    let owner = (world.owner, Role::Customer);

    let first = world.pay(owner, Some("pay-1"), body.clone()).await;
    // Meanwhile the checkout moved on: a replay still answers what the first call answered.
    let mut moved = world.stored_order(order.order_id).await;
    moved
        .move_to(OrderStatus::PaymentPending, "checkout", None, Utc::now())
        .unwrap();
    world
        .stores
        .orders
        .update(moved, &Effects::none())
        .await
        .unwrap();
    let second = world.pay(owner, Some("pay-1"), body.clone()).await;

    assert_eq!(first.0, StatusCode::ACCEPTED);
    assert_eq!(second, first);
    assert_eq!(world.starts().len(), 1);

    let mut other = body.clone();
    other["paymentToken"] = json!("tok_flaky");
    let (status, refused) = world.pay(owner, Some("pay-1"), other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["errorCode"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(world.starts().len(), 1);
    assert_eq!(
        world
            .stored_order(order.order_id)
            .await
            .payment_token
            .as_deref(),
        Some("tok_ok")
    );
}

#[tokio::test]
async fn requests_racing_with_different_keys_start_one_retry() {
    let world = World::new().await;
    let (order, _) = world.declined_order().await;
    let owner = (world.owner, Role::Customer);
    let token = |i: usize| {
        if i.is_multiple_of(2) {
            "tok_ok"
        } else {
            "tok_flaky"
        }
    };
    let answers = futures::future::join_all((0..10).map(|i| {
        let body = json!({"orderId": order.order_id, "method": "CARD", "paymentToken": token(i)});
        let key = format!("race-{i}");
        let world = &world;
        async move { world.pay(owner, Some(&key), body).await }
    }))
    .await;

    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == StatusCode::ACCEPTED),
        "{answers:?}"
    );
    let starts = world.starts();
    assert_eq!(starts.len(), 1, "one retry started: {starts:?}");
    assert_eq!(starts[0].run, CheckoutRun::PaymentRetry { attempt: 1 });
    let stored = world.stored_order(order.order_id).await;
    assert!(stored.retry_started_at.is_some());
    assert!(
        ["tok_ok", "tok_flaky"].contains(&stored.payment_token.as_deref().unwrap()),
        "the winner's token"
    );

    // Once the retry declined again, the next request starts the next one at once.
    world.declined_again(order.order_id).await;
    let body = json!({"orderId": order.order_id, "method": "CARD"});
    let (status, _) = world.pay(owner, Some("race-next"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        world.runs(),
        [
            CheckoutRun::PaymentRetry { attempt: 1 },
            CheckoutRun::PaymentRetry { attempt: 2 }
        ]
    );
}

#[tokio::test]
async fn a_payment_pending_order_is_answered_as_it_is_and_nothing_starts() {
    let world = World::new().await;
    let order = world
        .order(&[OrderStatus::PaymentPending], Some("tok_flaky"))
        .await;
    let before = world.stored_order(order.order_id).await;

    let (status, body) = world
        .pay(
            (world.owner, Role::Customer),
            None,
            json!({"orderId": order.order_id, "method": "UPI", "paymentToken": "tok_ok"}),
        )
        .await;

    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        body,
        json!({"orderId": order.order_id, "status": "PAYMENT_PENDING"})
    );
    assert!(world.starts().is_empty());
    assert_eq!(
        world.stored_order(order.order_id).await,
        before,
        "left exactly as it was: the running checkout charges with what it has"
    );
}

#[tokio::test]
async fn an_order_in_any_other_status_is_an_invalid_transition() {
    let world = World::new().await;
    for path in [
        vec![],
        vec![OrderStatus::PaymentPending, OrderStatus::Confirmed],
        vec![OrderStatus::Cancelled],
    ] {
        let order = world.order(&path, None).await;
        let (status, body) = world
            .pay(
                (world.owner, Role::Customer),
                None,
                json!({"orderId": order.order_id, "method": "CARD"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{path:?}: {body}");
        assert_eq!(body["errorCode"], "INVALID_TRANSITION");
    }
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn only_the_owning_customer_may_pay() {
    let world = World::new().await;
    let (order, _) = world.declined_order().await;
    let body = json!({"orderId": order.order_id, "method": "CARD"});

    let (status, refused) = world
        .pay((world.stranger, Role::Customer), None, body.clone())
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not yours is not found: {refused}"
    );
    let unknown = json!({"orderId": Uuid::now_v7(), "method": "CARD"});
    let (status, _) = world
        .pay((world.owner, Role::Customer), None, unknown)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = world
        .pay((world.manager, Role::Manager), None, body.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let request = Request::post("/payments")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(world.call(request).await.0, StatusCode::UNAUTHORIZED);
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn bad_fields_are_named() {
    let world = World::new().await;
    let (order, _) = world.declined_order().await;
    let owner = (world.owner, Role::Customer);
    let cases = [
        (json!({"method": "CARD"}), "orderId"),
        (json!({"orderId": "42", "method": "CARD"}), "orderId"),
        (json!({"orderId": order.order_id}), "method"),
        (
            json!({"orderId": order.order_id, "method": "CASH"}),
            "method",
        ),
        (
            json!({"orderId": order.order_id, "method": "CARD", "paymentToken": ""}),
            "paymentToken",
        ),
        (
            json!({"orderId": order.order_id, "method": "CARD", "paymentToken": "t".repeat(65)}),
            "paymentToken",
        ),
        (
            json!({"orderId": order.order_id, "method": "CARD", "paymentToken": "tok ok"}),
            "paymentToken",
        ),
        (
            json!({"orderId": order.order_id, "method": "CARD", "paymentToken": 7}),
            "paymentToken",
        ),
    ];
    for (body, field) in cases {
        let (status, refused) = world.pay(owner, None, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            refused["details"]["fields"].get(field).is_some(),
            "{body}: {refused}"
        );
    }
    let ok = json!({"orderId": order.order_id, "method": "CARD", "paymentToken": "t".repeat(64)});
    assert_eq!(world.pay(owner, None, ok).await.0, StatusCode::ACCEPTED);
    let bad_key = world
        .pay(
            owner,
            Some(" padded "),
            json!({"orderId": order.order_id, "method": "CARD"}),
        )
        .await;
    assert_eq!(bad_key.0, StatusCode::BAD_REQUEST);
}

// --- POST /payments/webhook ----------------------------------------------------------------

#[tokio::test]
async fn a_succeeded_webhook_delivered_twice_records_once_and_never_confirms() {
    let world = World::new().await;
    let order = world
        .order(&[OrderStatus::PaymentPending], Some("tok_ok"))
        .await;
    let notice = json!({
        "orderId": order.order_id,
        "status": "SUCCEEDED",
        "gatewayReference": "gw_123",
        "timestamp": now_rfc3339(),
    });

    let first = world.webhook(&notice).await;
    let second = world.webhook(&notice).await;

    assert_eq!(first, (StatusCode::OK, json!({"received": true})));
    assert_eq!(second, first, "a duplicate is acknowledged the same");
    let payment = world.stored_payment(order.order_id).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(payment.gateway_reference.as_deref(), Some("gw_123"));
    assert_eq!(
        (payment.amount, payment.user_id),
        (order.total, world.owner)
    );
    let audit = world.audit(payment.payment_id).await;
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["PAYMENT_SUCCEEDED"], "written once");
    assert_eq!(
        world
            .events(EventType::PaymentSucceeded, order.order_id)
            .await,
        1
    );
    let stored = world.stored_order(order.order_id).await;
    assert_eq!(
        stored.payment_id,
        Some(payment.payment_id),
        "ProcessPayment will skip"
    );
    assert_eq!(stored.payment_token, None);
    assert_eq!(
        stored.status,
        OrderStatus::PaymentPending,
        "only the checkout confirms"
    );
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn a_webhook_updates_the_orders_payment_and_never_moves_it_back() {
    let world = World::new().await;
    let (order, payment) = world.declined_order().await;
    let at = now_rfc3339();
    let succeeded = json!({"paymentId": payment.payment_id, "orderId": order.order_id,
                           "status": "SUCCEEDED", "timestamp": at});
    assert_eq!(world.webhook(&succeeded).await.0, StatusCode::OK);
    let late_failure = json!({"orderId": order.order_id, "status": "FAILED", "timestamp": at});
    assert_eq!(world.webhook(&late_failure).await.0, StatusCode::OK);

    let stored = world.stored_payment(order.order_id).await.unwrap();
    assert_eq!(
        (stored.payment_id, stored.status),
        (payment.payment_id, PaymentStatus::Succeeded)
    );
    assert_eq!(stored.failure_reason, None);
    assert_eq!(
        world
            .events(EventType::PaymentSucceeded, order.order_id)
            .await,
        1
    );
    assert_eq!(
        world.events(EventType::PaymentFailed, order.order_id).await,
        0
    );
    let order_now = world.stored_order(order.order_id).await;
    assert_eq!(
        (order_now.status, order_now.payment_id),
        (OrderStatus::PaymentFailed, Some(payment.payment_id)),
        "an order awaiting a retry takes the payment's id, so the retry does not charge again"
    );

    let other_payment = json!({"paymentId": Uuid::now_v7(), "orderId": order.order_id,
                               "status": "REFUNDED", "timestamp": at});
    world.webhook_conflicts(&other_payment).await;
}

#[tokio::test]
async fn a_webhook_before_any_payment_names_the_orders_own_payment_id_or_is_refused() {
    let world = World::new().await;
    let order = world.order(&[OrderStatus::PaymentPending], None).await;
    let at = now_rfc3339();
    let stranger = json!({"paymentId": Uuid::now_v7(), "orderId": order.order_id,
                          "status": "SUCCEEDED", "timestamp": at});
    world.webhook_conflicts(&stranger).await;
    assert_eq!(
        world.stored_payment(order.order_id).await,
        None,
        "nothing recorded"
    );

    let own = Payment::id_for(order.order_id);
    let named = json!({"paymentId": own, "orderId": order.order_id,
                       "status": "SUCCEEDED", "timestamp": at});
    assert_eq!(world.webhook(&named).await.0, StatusCode::OK);
    let payment = world.stored_payment(order.order_id).await.unwrap();
    assert_eq!(
        (payment.payment_id, payment.status),
        (own, PaymentStatus::Succeeded)
    );
}

#[tokio::test]
async fn a_refund_reported_by_webhook_is_kept_as_a_refund_of_what_was_left() {
    let world = World::new().await;
    let order = world.order(&[OrderStatus::PaymentPending], None).await;
    let at = now_rfc3339();
    let succeeded = json!({"orderId": order.order_id, "status": "SUCCEEDED", "timestamp": at});
    assert_eq!(world.webhook(&succeeded).await.0, StatusCode::OK);
    let refunded = json!({"orderId": order.order_id, "status": "REFUNDED", "timestamp": at});
    assert_eq!(world.webhook(&refunded).await.0, StatusCode::OK);
    assert_eq!(
        world.webhook(&refunded).await.0,
        StatusCode::OK,
        "a duplicate"
    );

    let payment = world.stored_payment(order.order_id).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(payment.refunded_amount, order.total, "all of it went back");
    let refunds: Vec<_> = payment
        .refunds
        .iter()
        .map(|r| (r.amount, r.reason.as_str()))
        .collect();
    assert_eq!(refunds, [(order.total, "REFUNDED_AT_GATEWAY")], "kept once");
    assert_eq!(
        world
            .events(EventType::PaymentRefunded, order.order_id)
            .await,
        1
    );

    let unknown = world.order(&[OrderStatus::PaymentPending], None).await;
    let first_news = json!({"orderId": unknown.order_id, "status": "REFUNDED", "timestamp": at});
    assert_eq!(world.webhook(&first_news).await.0, StatusCode::OK);
    let payment = world.stored_payment(unknown.order_id).await.unwrap();
    assert_eq!(
        (
            payment.status,
            payment.refunded_amount,
            payment.refunds.len()
        ),
        (PaymentStatus::Refunded, unknown.total, 1),
        "a refund heard of first was a payment taken and given back"
    );

    let (declined, _) = world.declined_order().await;
    let after_all = json!({"orderId": declined.order_id, "status": "REFUNDED", "timestamp": at});
    assert_eq!(world.webhook(&after_all).await.0, StatusCode::OK);
    let payment = world.stored_payment(declined.order_id).await.unwrap();
    assert_eq!(
        (
            payment.status,
            payment.refunded_amount,
            payment.failure_reason
        ),
        (PaymentStatus::Refunded, payment.amount, None),
        "recorded declined, yet the gateway took it and gave it back"
    );
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_refused_before_the_body_is_read() {
    let world = World::new().await;
    let order = world.order(&[OrderStatus::PaymentPending], None).await;
    let body =
        json!({"orderId": order.order_id, "status": "SUCCEEDED", "timestamp": now_rfc3339()})
            .to_string();
    let signed = signature::sign(SECRET.as_bytes(), body.as_bytes());
    let other_secret = signature::sign(b"not-the-webhook-secret!!", body.as_bytes());
    let tampered = body.replace("SUCCEEDED", "REFUNDED");
    let bare_hex = signed.trim_start_matches("sha256=").to_owned();

    for (raw, header) in [
        (body.as_str(), None),
        (body.as_str(), Some(other_secret)),
        (body.as_str(), Some(bare_hex)),
        (body.as_str(), Some("sha256=".to_owned())),
        (tampered.as_str(), Some(signed.clone())),
        ("not json at all", Some(signed.clone())),
    ] {
        let (status, refused) = world.webhook_raw(raw, header.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{raw} {header:?}");
        assert_eq!(refused["errorCode"], "UNAUTHORIZED");
    }
    assert!(world.stored_payment(order.order_id).await.is_none());

    let signed_garbage = "not json at all";
    let header = signature::sign(SECRET.as_bytes(), signed_garbage.as_bytes());
    let (status, refused) = world.webhook_raw(signed_garbage, Some(header)).await;
    assert_eq!(
        (status, refused["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("MALFORMED_JSON"))
    );
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_a_replay() {
    let world = World::new().await;
    let order = world.order(&[OrderStatus::PaymentPending], None).await;
    for at in [
        Utc::now() - TimeDelta::minutes(6),
        Utc::now() + TimeDelta::minutes(6),
    ] {
        let notice = json!({"orderId": order.order_id, "status": "SUCCEEDED",
                            "timestamp": at.to_rfc3339()});
        let (status, refused) = world.webhook(&notice).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{at}");
        assert_eq!(refused["errorCode"], "UNAUTHORIZED");
    }
    assert!(world.stored_payment(order.order_id).await.is_none());
    let within = json!({"orderId": order.order_id, "status": "FAILED",
                        "timestamp": (Utc::now() - TimeDelta::minutes(4)).to_rfc3339()});
    assert_eq!(world.webhook(&within).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_signed_webhook_with_bad_fields_or_an_unknown_order_is_refused() {
    let world = World::new().await;
    let order = world.order(&[OrderStatus::PaymentPending], None).await;
    let at = now_rfc3339();
    let cases = [
        (json!({"status": "SUCCEEDED", "timestamp": at}), "orderId"),
        (
            json!({"orderId": order.order_id, "status": "PENDING", "timestamp": at}),
            "status",
        ),
        (
            json!({"orderId": order.order_id, "status": "SUCCEEDED"}),
            "timestamp",
        ),
        (
            json!({"orderId": order.order_id, "status": "SUCCEEDED", "timestamp": 1_700_000_000}),
            "timestamp",
        ),
        (
            json!({"orderId": order.order_id, "status": "SUCCEEDED", "timestamp": "yesterday"}),
            "timestamp",
        ),
        (
            json!({"orderId": order.order_id, "paymentId": "p-1", "status": "SUCCEEDED", "timestamp": at}),
            "paymentId",
        ),
    ];
    for (body, field) in cases {
        let (status, refused) = world.webhook(&body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            refused["details"]["fields"].get(field).is_some(),
            "{body}: {refused}"
        );
    }
    let unknown = json!({"orderId": Uuid::now_v7(), "status": "SUCCEEDED", "timestamp": at});
    assert_eq!(world.webhook(&unknown).await.0, StatusCode::NOT_FOUND);
}

// --- GET /payments/{paymentId} ---------------------------------------------------------------

#[tokio::test]
async fn a_payment_is_shown_to_its_owner_and_staff_only_and_never_with_a_token() {
    let world = World::new().await;
    let (order, payment) = world.declined_order().await;
    let id = payment.payment_id.to_string();

    let (status, body) = world.get_payment((world.owner, Role::Customer), &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["paymentId"], json!(payment.payment_id));
    assert_eq!(body["orderId"], json!(order.order_id));
    assert_eq!(body["status"], "FAILED");
    assert_eq!(body["amount"], json!({"amount": 12_000, "currency": "INR"}));
    let text = body.to_string();
    assert!(
        !text.to_lowercase().contains("token") && !text.contains("tok_"),
        "{text}"
    );
    assert!(body.get("version").is_none(), "{text}");

    let (status, _) = world.get_payment((world.manager, Role::Manager), &id).await;
    assert_eq!(status, StatusCode::OK);
    for (caller, what) in [
        ((world.stranger, Role::Customer), "another customer"),
        ((world.vendor, Role::Vendor), "a vendor"),
    ] {
        let (status, refused) = world.get_payment(caller, &id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(refused["errorCode"], "NOT_FOUND");
    }
    for id in ["not-a-uuid".to_owned(), Uuid::now_v7().to_string()] {
        let (status, _) = world.get_payment((world.owner, Role::Customer), &id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
    let request = Request::get(format!("/payments/{id}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(world.call(request).await.0, StatusCode::UNAUTHORIZED);
}

// --- Start -------------------------------------------------------------------------------

#[tokio::test]
async fn the_service_does_not_start_without_a_webhook_secret() {
    let world = World::new().await;
    let start = milkrun_payment::HTTP.start.expect("a start hook");
    assert!(start(world.adapters.clone()).await.is_ok());
    let without = adapters(&world.stores, world.starts.clone(), None);
    assert!(start(without).await.is_err());
}

// --- Documentation -------------------------------------------------------------------------

#[test]
fn the_three_routes_are_documented_and_the_webhook_takes_no_bearer_token() {
    let document = serde_json::to_value(milkrun_payment::documented().into_openapi()).unwrap();
    let paths = &document["paths"];
    assert!(paths["/payments"]["post"].is_object(), "{paths}");
    assert!(paths["/payments/{paymentId}"]["get"].is_object(), "{paths}");
    let webhook = &paths["/payments/webhook"]["post"];
    assert!(webhook.is_object(), "{paths}");
    assert!(webhook.get("security").is_none(), "{webhook}");
    let params: Vec<&str> = webhook["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["X-Signature"]);
    let view = &document["components"]["schemas"]["PaymentView"]["properties"];
    assert!(
        view["paymentId"].is_object() && view.get("version").is_none(),
        "{view}"
    );
}

#[tokio::test]
async fn a_payment_the_gateway_reports_after_checkout_gave_up_is_refunded() {
    let world = World::new().await;
    let order = world
        .order(&[OrderStatus::PaymentPending, OrderStatus::Cancelled], None)
        .await;
    let late = json!({"orderId": order.order_id, "status": "SUCCEEDED",
                      "timestamp": now_rfc3339()});
    for _ in 0..2 {
        assert_eq!(world.webhook(&late).await.0, StatusCode::OK);
    }
    let stored = world.stored_payment(order.order_id).await.unwrap();
    assert_eq!(
        stored.status,
        PaymentStatus::Refunded,
        "the money went back"
    );
    let refunded = world.stored_order(order.order_id).await;
    assert_eq!(refunded.status, OrderStatus::Refunded);
    let why = refunded.status_history.last().unwrap().reason.as_deref();
    assert_eq!(why, Some("LATE_PAYMENT_REFUNDED"), "why, in the timeline");
    assert_eq!(
        world
            .events(EventType::PaymentRefunded, order.order_id)
            .await,
        1
    );
}

#[tokio::test]
async fn a_retry_for_a_delivery_date_gone_by_is_refused_and_starts_nothing() {
    let world = World::new().await;
    let (order, _) = world.declined_order().await;
    let mut stale = world.stored_order(order.order_id).await;
    stale.delivery_date = milkrun_domain::checkout::platform_today(Utc::now());
    world
        .stores
        .orders
        .update(stale, &Effects::none())
        .await
        .unwrap();
    let body = json!({"orderId": order.order_id, "method": "CARD", "paymentToken": "tok_ok"});
    let (status, answer) = world.pay((world.owner, Role::Customer), None, body).await;
    assert_eq!(
        (status, answer["errorCode"].clone()),
        (StatusCode::CONFLICT, json!("CONFLICT")),
        "{answer}"
    );
    assert!(world.starts().is_empty(), "no retry for a morning gone by");
}

/// A wallet top-up's charge as POST /wallet/topups records it before asking the gateway:
/// PENDING, under the id derived from its charge (which stands where an order's id would).
async fn pending_topup(world: &World, paise: u64) -> Payment {
    let charge_id = Uuid::now_v7();
    let now = Utc::now();
    let pending = Payment {
        payment_id: milkrun_domain::payment::Payment::id_for(charge_id),
        order_id: charge_id,
        user_id: world.owner,
        amount: Money::inr(paise),
        method: PaymentMethod::Upi,
        status: PaymentStatus::Pending,
        attempts: 0,
        gateway_reference: None,
        failure_reason: None,
        fraud_score: 0,
        refunded_amount: milkrun_domain::money::Money::inr(0),
        refunds: Vec::new(),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let actor = milkrun_domain::audit::AuditContext::system("topup", "test");
    milkrun_checkout::records::record_payment(&payment_store(world), &pending, &actor)
        .await
        .unwrap()
}

fn payment_store(world: &World) -> Arc<dyn milkrun_domain::ports::PaymentStore> {
    world.stores.payments.clone()
}

async fn balance(world: &World) -> u64 {
    use milkrun_domain::ports::WalletStore;
    let wallet = world.stores.wallets.get(world.owner).await.unwrap();
    wallet.map_or(0, |w| w.balance.amount)
}

#[tokio::test]
async fn a_top_up_is_credited_once_whether_its_webhook_or_its_answer_comes_first() {
    let world = World::new().await;
    let actor = milkrun_domain::audit::AuditContext::system("topup", "test");
    for webhook_first in [true, false] {
        let before = balance(&world).await;
        let pending = pending_topup(&world, 50_000).await;
        let succeeded = Payment {
            status: PaymentStatus::Succeeded,
            attempts: 1,
            ..pending.clone()
        };
        let payments = payment_store(&world);
        let answer = || async {
            let recorded = milkrun_checkout::records::record_payment(&payments, &succeeded, &actor);
            let recorded = recorded.await.unwrap();
            let wallets = world.stores.wallets.as_ref();
            milkrun_checkout::wallet::credit_topup(wallets, &recorded, &actor)
                .await
                .unwrap();
        };
        let notice = json!({"orderId": pending.order_id, "paymentId": pending.payment_id,
                            "status": "SUCCEEDED", "timestamp": now_rfc3339()});
        if !webhook_first {
            answer().await;
        }
        for _ in 0..2 {
            let (status, body) = world.webhook(&notice).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        if webhook_first {
            answer().await;
        }
        assert_eq!(
            balance(&world).await,
            before + 50_000,
            "credited once (webhook first: {webhook_first})"
        );
        let payment = world.stored_payment(pending.order_id).await.unwrap();
        assert_eq!(payment.status, PaymentStatus::Succeeded);
    }
    let other =
        json!({"orderId": Uuid::now_v7(), "status": "SUCCEEDED", "timestamp": now_rfc3339()});
    assert_eq!(
        world.webhook(&other).await.0,
        StatusCode::NOT_FOUND,
        "a charge nobody recorded"
    );
}

/// A retry after the order's product was withdrawn, or after its vendor stopped serving the
/// address, is refused before anything starts: nothing is charged, the order waits as it was.
#[tokio::test]
async fn a_retry_of_an_order_no_longer_sold_is_refused_and_charges_nothing() {
    let withdrawn = |world: &World| {
        let mut product = world.dairy.1.clone();
        product.is_active = false;
        product
    };
    let stopped = |world: &World| {
        let mut vendor = world.dairy.0.clone();
        vendor.service_areas = vec![milkrun_domain::values::Pincode::parse("560002").unwrap()];
        vendor
    };
    for case in ["product withdrawn", "vendor stopped serving"] {
        let world = World::new().await;
        let (order, _) = world.declined_order().await;
        let body = json!({"orderId": order.order_id, "method": "CARD", "paymentToken": "tok_ok"});
        match case {
            "product withdrawn" => {
                let after = withdrawn(&world);
                world
                    .stores
                    .products
                    .update(after, &Effects::none())
                    .await
                    .unwrap();
            }
            _ => {
                let (before, after) = (&world.dairy.0, stopped(&world));
                world
                    .stores
                    .vendors
                    .update(before, after, &Effects::none())
                    .await
                    .unwrap();
            }
        }
        let (status, answer) = world.pay((world.owner, Role::Customer), None, body).await;
        assert_eq!(
            (status, answer["errorCode"].clone()),
            (StatusCode::CONFLICT, json!("CONFLICT")),
            "{case}: {answer}"
        );
        let message = answer["errorMessage"].as_str().unwrap();
        assert!(
            message.contains("Toned milk 1L"),
            "names the line: {answer}"
        );
        assert!(world.starts().is_empty(), "{case}: no retry, no charge");
        let stored = world.stored_order(order.order_id).await;
        assert_eq!(stored.status, OrderStatus::PaymentFailed, "{case}");
        assert_eq!(
            stored.payment_token.as_deref(),
            Some("tok_decline"),
            "{case}: unchanged"
        );
        let payment = world.stored_payment(order.order_id).await.unwrap();
        assert_eq!(payment.status, PaymentStatus::Failed, "{case}");
    }
}

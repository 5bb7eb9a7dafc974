//! The real `statemachine/checkout.asl.json`, run by the local ASL interpreter against the
//! checkout task handler over SQLite in memory: each SPEC §5 path, end to end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{Days, TimeDelta, Utc};
use milkrun_checkout::{CheckoutPorts, CheckoutTasks, OrderActions, SimulatedGateway};
use milkrun_domain::Effects;
use milkrun_domain::StoreError;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::checkout::{self, FraudRules};
use milkrun_domain::delivery::{Delivery, DeliveryStatus};
use milkrun_domain::events::{EventEnvelope, EventType, Topic};
use milkrun_domain::inventory::{InventoryRow, StockKey};
use milkrun_domain::money::Money;
use milkrun_domain::order::{NewOrder, Order, OrderItem, OrderStatus};
use milkrun_domain::page::PageRequest;
use milkrun_domain::payment::{
    ChargeRequest, GatewayError, Payment, PaymentGateway, PaymentStatus,
};
use milkrun_domain::ports::{
    AuditLog, DeliveryReads, DeliveryWrites, OrderReads, OrderWrites, PaymentReads, PaymentStore,
    PendingEvents, ProductWrites, StockLevels, StockReservations, UserLookup, UserRegistry,
    VendorReads, VendorWrites,
};
use milkrun_domain::ports::{CheckoutRun, CheckoutRunner, CheckoutStart};
use milkrun_domain::product::{Product, Variant};
use milkrun_domain::user::{Address, ClientOrigin, NewUser, User};
use milkrun_domain::values::{
    Category, DeliverySlot, Email, PasswordHash, PaymentMethod, PersonName, Phone, Pincode, Role,
};
use milkrun_domain::vendor::{Capacity, Vendor};
use milkrun_local::CheckoutTaskInvoker;
use milkrun_local::asl::{self, Definition, ExecutionOutcome, ExecutionStatus};
use milkrun_local::{Database, Sleeper, SqliteItemStore, TaskFailure, TaskInvoker};
use milkrun_store::Stores;
use serde_json::{Value, json};
use uuid::Uuid;

const DEFINITION: &str = include_str!("../../../statemachine/checkout.asl.json");
const PINCODE: &str = "560001";
/// ₹60.00 and ₹32.00.
const PRICE_1L: u64 = 6_000;
const PRICE_500ML: u64 = 3_200;

/// The continuations an action started, for the test to run.
#[derive(Default)]
struct StartsSeen(Mutex<Vec<CheckoutStart>>);

#[async_trait]
impl CheckoutRunner for StartsSeen {
    async fn start(&self, start: &CheckoutStart) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(start.clone());
        Ok(())
    }
}

/// Retries go by without waiting.
struct NoWait;

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _duration: Duration) {}
}

/// The handler's invoker, recording each step called and optionally calling another step
/// name instead of one (to stand for a handler that fails unexpectedly).
#[derive(Clone)]
struct Recording {
    inner: CheckoutTaskInvoker,
    calls: Arc<Mutex<Vec<String>>>,
    rename: Option<(&'static str, &'static str)>,
}

#[async_trait]
impl TaskInvoker for Recording {
    async fn invoke(&self, resource: &str, mut input: Value) -> Result<Value, TaskFailure> {
        let step = input["step"].as_str().unwrap_or_default().to_owned();
        self.calls.lock().unwrap().push(step.clone());
        if let Some((from, to)) = self.rename
            && step == from
        {
            input["step"] = json!(to);
        }
        self.inner.invoke(resource, input).await
    }
}

impl Recording {
    fn count(&self, step: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|s| *s == step)
            .count()
    }
}

struct World {
    stores: Stores,
    gateway: Arc<SimulatedGateway>,
    tasks: Arc<CheckoutTasks>,
    definition: Definition,
    product: Product,
    /// Rated 4.5, stocked.
    vendor_a: Uuid,
    /// Rated 4.8, sells the product, has no stock rows.
    vendor_b: Uuid,
    user_id: Uuid,
}

fn pincode() -> Pincode {
    Pincode::parse(PINCODE).unwrap()
}

fn address() -> Address {
    milkrun_testkit::address(PINCODE)
}

fn vendor(name: &str, rating: f64, daily_order_limit: u32) -> Vendor {
    let now = Utc::now();
    Vendor {
        vendor_id: Uuid::now_v7(),
        name: PersonName::parse(name).unwrap(),
        email: Email::parse(&format!("{}@dairy.example", name.replace(' ', ""))).unwrap(),
        phone: Phone::parse("+919800000001").unwrap(),
        address: "1 Dairy Lane".into(),
        service_areas: vec![pincode()],
        rating,
        is_active: true,
        capacity: Capacity { daily_order_limit },
        cutoff_time: Default::default(),
        created_at: now,
        updated_at: now,
        version: 0,
    }
}

impl World {
    async fn new(fraud: FraudRules) -> Self {
        let db = Database::in_memory().unwrap();
        let stores = Stores::over(Arc::new(SqliteItemStore::new(db)));
        let gateway = Arc::new(SimulatedGateway::new());
        let ports = CheckoutPorts::from_stores(&stores, gateway.clone());
        let tasks = Arc::new(CheckoutTasks::new(ports, fraud));
        let definition =
            Definition::parse(DEFINITION, [("CheckoutTaskFunctionArn", "checkout-task")]).unwrap();

        let a = vendor("Dairy A", 4.5, 50);
        let b = vendor("Dairy B", 4.8, 50);
        for v in [&a, &b] {
            stores.vendors.create(v, &Effects::none()).await.unwrap();
        }
        let now = Utc::now();
        let admin = Uuid::now_v7();
        let product = Product {
            product_id: Uuid::now_v7(),
            name: "Toned milk".into(),
            category: Category::Milk,
            description: "Fresh toned milk".into(),
            variants: vec![
                Variant {
                    variant_id: Uuid::now_v7(),
                    name: "1L".into(),
                    price: Money::inr(PRICE_1L),
                    unit: "packet".into(),
                },
                Variant {
                    variant_id: Uuid::now_v7(),
                    name: "500ml".into(),
                    price: Money::inr(PRICE_500ML),
                    unit: "packet".into(),
                },
            ],
            vendor_ids: vec![a.vendor_id, b.vendor_id],
            image_url: None,
            is_active: true,
            created_at: now,
            updated_at: now,
            created_by: admin,
            updated_by: admin,
            version: 0,
        };
        stores
            .products
            .create(&product, &Effects::none())
            .await
            .unwrap();
        let world = Self {
            stores,
            gateway,
            tasks,
            definition,
            product,
            vendor_a: a.vendor_id,
            vendor_b: b.vendor_id,
            user_id: Uuid::nil(),
        };
        world.set_stock(world.vendor_a, world.litre(), 10).await;
        let user_id = world.user("buyer@example.com", true).await;
        Self { user_id, ..world }
    }

    fn litre(&self) -> Uuid {
        self.product.variants[0].variant_id
    }

    fn half_litre(&self) -> Uuid {
        self.product.variants[1].variant_id
    }

    fn key(&self, vendor_id: Uuid, variant_id: Uuid) -> StockKey {
        StockKey {
            vendor_id,
            product_id: self.product.product_id,
            variant_id,
        }
    }

    async fn set_stock(&self, vendor_id: Uuid, variant_id: Uuid, units: u32) {
        let key = self.key(vendor_id, variant_id);
        let before = self.stores.stock.get(&key).await.unwrap();
        let after = InventoryRow {
            stock: units,
            ..before
                .clone()
                .unwrap_or_else(|| InventoryRow::empty(key, Utc::now()))
        };
        self.stores
            .stock
            .save(before.as_ref(), &after, &Effects::none())
            .await
            .unwrap();
    }

    /// Sets each of `order`'s deliveries to the status `of` its vendor, straight in the
    /// store, as its vendors' updates would leave them.
    async fn set_deliveries(&self, order: &Order, of: impl Fn(Uuid) -> DeliveryStatus) {
        let deliveries = &self.stores.deliveries;
        for mut delivery in deliveries.for_order(order).await.unwrap() {
            delivery.status = of(delivery.vendor_id);
            deliveries.update(delivery, &Effects::none()).await.unwrap();
        }
    }

    /// (stock, reserved) of a row.
    async fn stock(&self, vendor_id: Uuid, variant_id: Uuid) -> (u32, u32) {
        let row = self
            .stores
            .stock
            .get(&self.key(vendor_id, variant_id))
            .await
            .unwrap();
        row.map_or((0, 0), |r| (r.stock, r.reserved))
    }

    /// A customer known for a month; with a complete profile (phone and address) or not.
    async fn user(&self, email: &str, complete: bool) -> Uuid {
        let now = Utc::now();
        let origin = ClientOrigin {
            ip: "203.0.113.7".into(),
            user_agent: "test".into(),
            region: None,
        };
        let new = NewUser {
            email: Email::parse(email).unwrap(),
            name: PersonName::parse("Asha Rao").unwrap(),
            phone: complete.then(|| Phone::parse("+919876543210").unwrap()),
            role: Role::Customer,
        };
        let mut user = User::register(new, PasswordHash::new("$argon2id$x".into()), &origin, now);
        user.put_address(address()).unwrap();
        user.refresh_profile_completeness();
        for device in &mut user.devices {
            device.first_seen_at = now - TimeDelta::days(30);
        }
        self.stores
            .users
            .create(&user, &Effects::none())
            .await
            .unwrap();
        user.user_id
    }

    /// A PENDING order for tomorrow, written straight into the store.
    async fn place(
        &self,
        user_id: Uuid,
        lines: &[(Uuid, u32)],
        method: PaymentMethod,
        token: Option<&str>,
        allow_partial: bool,
    ) -> Uuid {
        let items: Vec<OrderItem> = lines
            .iter()
            .map(|&(variant_id, quantity)| {
                let variant = self
                    .product
                    .variants
                    .iter()
                    .find(|v| v.variant_id == variant_id)
                    .unwrap();
                OrderItem {
                    product_id: self.product.product_id,
                    variant_id,
                    name: self.product.name.clone(),
                    variant_name: variant.name.clone(),
                    quantity,
                    unit_price: variant.price,
                    vendor_id: None,
                    fulfilled: true,
                }
            })
            .collect();
        let now = Utc::now();
        let new = NewOrder {
            order_id: Uuid::now_v7(),
            user_id,
            totals: checkout::totals(&items, checkout::NO_DISCOUNT).unwrap(),
            items,
            delivery_date: checkout::platform_today(now) + Days::new(1),
            delivery_slot: DeliverySlot::Morning,
            delivery_address: address(),
            payment_method: method,
            subscription_id: None,
            idempotency_key: None,
        };
        let mut order = Order::place(new, user_id.to_string(), now);
        order.allow_partial = allow_partial;
        order.payment_token = token.map(str::to_owned);
        self.stores
            .orders
            .create(&order, &Effects::none())
            .await
            .unwrap();
        order.order_id
    }

    /// A card order of `quantity` litres by the world's customer, PENDING.
    async fn place_litres(&self, quantity: u32) -> Uuid {
        let lines = [(self.litre(), quantity)];
        self.place(self.user_id, &lines, PaymentMethod::Card, None, false)
            .await
    }

    /// The checkout's steps up to ReserveStock, so the order is PAYMENT_PENDING with its
    /// stock held, as an execution that died before charging leaves it.
    async fn reserve(&self, order_id: Uuid) {
        for step in [
            "ValidateProfile",
            "ValidateOrder",
            "AssignVendors",
            "ReserveStock",
        ] {
            self.tasks.run(step, order_id).await.unwrap();
        }
    }

    fn ports(&self) -> CheckoutPorts {
        CheckoutPorts::from_stores(&self.stores, self.gateway.clone())
    }

    fn invoker(&self) -> Recording {
        Recording {
            inner: CheckoutTaskInvoker::new(self.tasks.clone()),
            calls: Arc::default(),
            rename: None,
        }
    }

    async fn execute(&self, invoker: &Recording, input: Value) -> ExecutionOutcome {
        asl::run_with_sleeper(&self.definition, input, invoker, &NoWait).await
    }

    async fn checkout(&self, order_id: Uuid, invoker: &Recording) -> ExecutionOutcome {
        let order = self.order(order_id).await;
        let input = json!({"orderId": order_id, "paymentMethod": order.payment_method});
        self.execute(invoker, input).await
    }

    /// The checkout's tasks as another Lambda instance runs them: over the same stores,
    /// with a gateway that knows nothing of earlier charges (the simulated one keeps them in
    /// memory).
    fn tasks_elsewhere(&self) -> (CheckoutTasks, Arc<SimulatedGateway>) {
        let gateway = Arc::new(SimulatedGateway::new());
        let ports = CheckoutPorts::from_stores(&self.stores, gateway.clone());
        (CheckoutTasks::new(ports, FraudRules::default()), gateway)
    }

    async fn order(&self, order_id: Uuid) -> Order {
        self.stores.orders.get(order_id).await.unwrap().unwrap()
    }
}

fn statuses(order: &Order) -> Vec<OrderStatus> {
    order.status_history.iter().map(|c| c.status).collect()
}

fn failed_with(outcome: &ExecutionOutcome, error: &str) {
    match &outcome.status {
        ExecutionStatus::Failed { error: e, .. } => assert_eq!(e, error, "{outcome:?}"),
        other => panic!("expected {error}, got {other:?} ({:?})", outcome.history),
    }
}

/// No task after ScheduleDelivery: SPEC §5 step 9 rides on the events its changes committed.
const SUCCESS_TAIL: [&str; 3] = ["ConfirmOrder", "ScheduleDelivery", "CheckoutSucceeded"];

fn history(head: &[&str], tail: &[&str]) -> Vec<String> {
    head.iter().chain(tail).map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_card_order_is_charged_confirmed_and_scheduled() {
    let world = World::new(FraudRules::default()).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 2)],
            PaymentMethod::Card,
            Some("tok_ok"),
            false,
        )
        .await;
    let invoker = world.invoker();
    let outcome = world.checkout(id, &invoker).await;

    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let head = [
        "StartOrResume",
        "ValidateProfile",
        "ValidateOrder",
        "AssignVendors",
        "ReserveStock",
        "PaymentRoute",
        "ProcessPayment",
        "FraudCheck",
        "FraudDecision",
    ];
    assert_eq!(outcome.history, history(&head, &SUCCESS_TAIL));
    let order = world.order(id).await;
    assert_eq!(order.status, OrderStatus::Preparing);
    use OrderStatus::*;
    assert_eq!(
        statuses(&order),
        [Pending, PaymentPending, Confirmed, Preparing]
    );
    assert_eq!(
        order.items[0].vendor_id,
        Some(world.vendor_a),
        "the better-rated vendor has no stock"
    );
    assert_eq!(
        order.delivery_ids,
        [Delivery::id_for(id, world.vendor_a)],
        "one delivery per vendor"
    );
    let payment = world.gateway.payment_for(id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(payment.amount, Money::inr(2 * PRICE_1L));
    assert_eq!(order.payment_id, Some(payment.payment_id));
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (8, 2));
    assert_eq!(
        world
            .stores
            .stock
            .orders_taken(world.vendor_a, order.delivery_date)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn assign_vendors_writes_nothing_and_reserve_stock_keeps_the_vendors_it_is_handed() {
    let world = World::new(FraudRules::default()).await;
    let id = world.place_litres(2).await;
    for step in ["ValidateProfile", "ValidateOrder"] {
        world.tasks.run(step, id).await.unwrap();
    }
    let placed = world.order(id).await;
    let answered = world.tasks.run("AssignVendors", id).await.unwrap();
    let chosen = serde_json::json!([{"line": 0, "vendorId": world.vendor_a}]);
    assert_eq!(
        answered["vendors"], chosen,
        "the better-rated vendor has no stock"
    );
    assert_eq!(world.order(id).await, placed, "no write of the order");
    // Stocked now, the better-rated vendor is the one ReserveStock would choose itself.
    world.set_stock(world.vendor_b, world.litre(), 100).await;
    let input = serde_json::json!({"step": "ReserveStock", "orderId": id, "vendors": chosen});
    world
        .tasks
        .run_input(&serde_json::from_value(input).unwrap())
        .await
        .unwrap();
    let reserved = world.order(id).await;
    assert_eq!(
        reserved.items[0].vendor_id,
        Some(world.vendor_a),
        "the one handed over"
    );
    assert_eq!(world.stock(world.vendor_b, world.litre()).await, (100, 0));
    assert_eq!(reserved.status, OrderStatus::PaymentPending);
    assert_eq!(
        reserved.version,
        placed.version + 1,
        "one write: vendors and status"
    );
}

#[tokio::test]
async fn an_order_names_the_vendor_its_earlier_runs_reservation_holds() {
    let world = World::new(FraudRules::default()).await;
    let id = world.place_litres(2).await;
    for step in ["ValidateProfile", "ValidateOrder"] {
        world.tasks.run(step, id).await.unwrap();
    }
    // A run that reserved from vendor A and died before writing the order.
    let key = StockKey {
        vendor_id: world.vendor_a,
        product_id: world.order(id).await.items[0].product_id,
        variant_id: world.litre(),
    };
    let line = milkrun_domain::inventory::StockLine { key, quantity: 2 };
    let stock = &world.stores.stock;
    let none = Effects::none();
    stock
        .reserve_for_date(id, &[line], &[], &none)
        .await
        .unwrap()
        .unwrap();
    // Started again, it chooses vendor B (stocked now, better rated) and is handed it.
    world.set_stock(world.vendor_b, world.litre(), 100).await;
    let chosen = serde_json::json!([{"line": 0, "vendorId": world.vendor_b}]);
    let input = serde_json::json!({"step": "ReserveStock", "orderId": id, "vendors": chosen});
    let input = serde_json::from_value(input).unwrap();
    world.tasks.run_input(&input).await.unwrap();
    let order = world.order(id).await;
    assert_eq!(
        order.items[0].vendor_id,
        Some(world.vendor_a),
        "what holds its stock"
    );
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (8, 2));
    assert_eq!(world.stock(world.vendor_b, world.litre()).await, (100, 0));
}

#[tokio::test]
async fn the_payment_confirmation_and_deliveries_reach_the_order_in_one_write() {
    let world = World::new(FraudRules::default()).await;
    let id = world.place_litres(2).await;
    world.reserve(id).await;
    let reserved = world.order(id).await;
    let answered = world.tasks.run("ProcessPayment", id).await.unwrap();
    let payment = world.gateway.payment_for(id).await.unwrap().unwrap();
    assert_eq!(answered["paymentId"], serde_json::json!(payment.payment_id));
    assert_eq!(world.order(id).await, reserved, "no write of the order");
    // Run again where the gateway knows nothing of it (another Lambda instance): the
    // payment kept for the order is what stops a second charge.
    let (tasks, elsewhere) = world.tasks_elsewhere();
    tasks.run("ProcessPayment", id).await.unwrap();
    assert_eq!(elsewhere.attempts(id), 0, "paid already: not charged again");
    for step in ["FraudCheck", "ConfirmOrder"] {
        world.tasks.run(step, id).await.unwrap();
    }
    assert_eq!(
        world.order(id).await,
        reserved,
        "ConfirmOrder checks, writes nothing"
    );
    world.tasks.run("ScheduleDelivery", id).await.unwrap();
    let prepared = world.order(id).await;
    assert_eq!(prepared.status, OrderStatus::Preparing);
    assert_eq!(prepared.payment_id, Some(payment.payment_id));
    assert_eq!(prepared.payment_token, None, "the token is spent");
    let moves: Vec<OrderStatus> = prepared.status_history.iter().map(|c| c.status).collect();
    assert!(
        moves.ends_with(&[OrderStatus::Confirmed, OrderStatus::Preparing]),
        "{moves:?}"
    );
    assert_eq!(
        prepared.version,
        reserved.version + 1,
        "one write: paid, confirmed and prepared"
    );
    // Both moves told: ORDER_CONFIRMED of the order as confirmed, beside the deliveries'.
    let confirmed = events_of(&world, EventType::OrderConfirmed, id).await;
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].data["status"], "CONFIRMED");
    assert_eq!(confirmed[0].data["vendorIds"], json!(prepared.vendor_ids()));
    let scheduled = events_of(&world, EventType::DeliveryScheduled, id).await;
    assert_eq!(scheduled.len(), prepared.delivery_ids.len());
    // One audit entry for both moves.
    let actions = audit_actions(&world, id).await;
    let count = |action: &str| actions.iter().filter(|a| *a == action).count();
    assert_eq!(
        (count("ORDER_PREPARING"), count("ORDER_CONFIRMED")),
        (1, 0),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_run_started_again_after_its_refund_charges_nothing_and_fails_again() {
    let world = World::new(FraudRules::default()).await;
    let id = world.place_litres(2).await;
    world.reserve(id).await;
    world.tasks.run("ProcessPayment", id).await.unwrap();
    // ConfirmOrder failed, RefundPayment gave the money back, MarkFailed never ran.
    world.tasks.run("RefundPayment", id).await.unwrap();
    assert_eq!(world.order(id).await.status, OrderStatus::PaymentPending);
    let (tasks, elsewhere) = world.tasks_elsewhere();
    tasks.run("ProcessPayment", id).await.unwrap();
    assert_eq!(
        elsewhere.attempts(id),
        0,
        "a refunded payment is not taken again"
    );
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    let refused = tasks.run("ConfirmOrder", id).await.unwrap_err();
    assert!(refused.message.contains("REFUNDED"), "{refused:?}");
}

#[tokio::test]
async fn every_step_repeated_after_success_changes_nothing() {
    let world = World::new(FraudRules::default()).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 2)],
            PaymentMethod::Upi,
            None,
            false,
        )
        .await;
    let outcome = world.checkout(id, &world.invoker()).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let before = world.order(id).await;
    for step in [
        "ValidateProfile",
        "ValidateOrder",
        "AssignVendors",
        "ReserveStock",
        "ProcessPayment",
        "FraudCheck",
        "ConfirmOrder",
        "ScheduleDelivery",
    ] {
        world.tasks.run(step, id).await.unwrap();
    }
    let fraud = world.tasks.run("FraudCheck", id).await.unwrap();
    assert_eq!(fraud["onHold"], false);
    assert_eq!(world.order(id).await, before, "same order, same version");
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (8, 2));
    assert_eq!(world.gateway.attempts(id), 1, "charged once");
    let user = world
        .stores
        .users
        .by_id(world.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (user.order_count, user.preferred_payment_method),
        (1, Some(PaymentMethod::Upi)),
        "counted once, with its method"
    );
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(
        (payment.status, payment.attempts),
        (PaymentStatus::Succeeded, 1)
    );
    let unknown = world.tasks.run("Teleport", id).await.unwrap_err();
    assert_eq!(unknown.name, "UnknownStep");
}

#[tokio::test]
async fn cash_on_delivery_skips_the_charge() {
    let world = World::new(FraudRules::default()).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 1)],
            PaymentMethod::Cod,
            None,
            false,
        )
        .await;
    let invoker = world.invoker();
    let outcome = world.checkout(id, &invoker).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert!(!outcome.history.iter().any(|s| s == "ProcessPayment"));
    assert_eq!(invoker.count("ProcessPayment"), 0);
    let order = world.order(id).await;
    assert_eq!(order.status, OrderStatus::Preparing);
    assert_eq!(order.payment_id, None);
    assert_eq!(world.gateway.payment_for(id).await.unwrap(), None);
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (9, 1));
}

#[tokio::test]
async fn a_declined_card_fails_the_payment_and_releases_the_stock() {
    let world = World::new(FraudRules::default()).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 3)],
            PaymentMethod::Card,
            Some("tok_decline"),
            false,
        )
        .await;
    let invoker = world.invoker();
    let outcome = world.checkout(id, &invoker).await;
    failed_with(&outcome, "PaymentFailed");
    assert_eq!(
        outcome.history[6..],
        [
            "ProcessPayment",
            "ReleaseStock",
            "FailureKind",
            "MarkPaymentFailed",
            "PaymentFailed"
        ]
    );
    assert_eq!(
        invoker.count("ProcessPayment"),
        1,
        "a decline is not retried"
    );
    let order = world.order(id).await;
    assert_eq!(order.status, OrderStatus::PaymentFailed);
    assert_eq!(
        order.status_history.last().unwrap().reason.as_deref(),
        Some("PAYMENT_DECLINED")
    );
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (10, 0));
    assert_eq!(
        world
            .stores
            .stock
            .orders_taken(world.vendor_a, order.delivery_date)
            .await
            .unwrap(),
        0,
        "the vendor day is given back"
    );
}

#[tokio::test]
async fn a_flaky_gateway_is_retried_until_it_answers() {
    let world = World::new(FraudRules::default()).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 1)],
            PaymentMethod::Card,
            Some("tok_flaky"),
            false,
        )
        .await;
    let invoker = world.invoker();
    let outcome = world.checkout(id, &invoker).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(invoker.count("ProcessPayment"), 3);
    assert_eq!(
        outcome
            .history
            .iter()
            .filter(|s| *s == "ProcessPayment")
            .count(),
        1,
        "a retried state is entered once"
    );
    assert_eq!(world.gateway.attempts(id), 3);
    assert_eq!(world.order(id).await.status, OrderStatus::Preparing);
}

#[tokio::test]
async fn a_total_above_the_fraud_limit_holds_the_order_until_a_resume_confirms_it() {
    let world = World::new(FraudRules {
        limit_paise: 10_000,
    })
    .await;
    let metrics = milkrun_metrics::testing::capture();
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 2)],
            PaymentMethod::Card,
            None,
            false,
        )
        .await;
    let invoker = world.invoker();
    let outcome = world.checkout(id, &invoker).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.history[outcome.history.len() - 3..],
        ["FraudCheck", "FraudDecision", "OnHold"]
    );
    let held = world.order(id).await;
    assert_eq!(held.status, OrderStatus::OnHold);
    assert!(held.flags.fraud_flag);
    let payment = world.gateway.payment_for(id).await.unwrap().unwrap();
    assert_eq!(
        held.payment_id,
        Some(payment.payment_id),
        "the hold names the payment"
    );
    assert!(
        held.status_history
            .last()
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .contains("ABOVE_LIMIT")
    );
    assert_eq!(
        world.stock(world.vendor_a, world.litre()).await,
        (8, 2),
        "still held"
    );
    assert_eq!(outcomes(&metrics), [("ON_HOLD", 1)]);

    let starts = Arc::new(StartsSeen::default());
    let ports = CheckoutPorts::from_stores(&world.stores, world.gateway.clone());
    let actions = OrderActions::new(ports, starts.clone());
    let manager = AuditContext::system("approval", "test");
    let approved = actions.approve(id, &manager).await.unwrap();
    assert_eq!(
        approved.status,
        OrderStatus::Confirmed,
        "the approval is recorded"
    );
    let start = starts
        .0
        .lock()
        .unwrap()
        .pop()
        .expect("a continuation started");
    assert_eq!(start.run, CheckoutRun::Approved);
    let resumed = world.execute(&invoker, start.input()).await;
    assert_eq!(resumed.status, ExecutionStatus::Succeeded, "{resumed:?}");
    assert_eq!(resumed.history, history(&["StartOrResume"], &SUCCESS_TAIL));
    let order = world.order(id).await;
    use OrderStatus::*;
    assert_eq!(
        statuses(&order),
        [Pending, PaymentPending, OnHold, Confirmed, Preparing]
    );
    assert_eq!(invoker.count("ProcessPayment"), 1, "not charged again");
    assert_eq!(
        outcomes(&metrics),
        [("PREPARING", 1), ("ON_HOLD", 1)],
        "the hold, then the approved order's end"
    );
}

/// The checkout ends counted so far, by status (those counted at all).
fn outcomes(metrics: &milkrun_metrics::testing::Counts) -> Vec<(&'static str, u64)> {
    [
        "PREPARING",
        "ON_HOLD",
        "PAYMENT_FAILED",
        "FAILED",
        "CANCELLED",
    ]
    .into_iter()
    .map(|status| {
        let count = metrics.count("CheckoutOutcome", &[("status", status)]);
        (status, count)
    })
    .filter(|(_, count)| *count > 0)
    .collect()
}

#[tokio::test]
async fn each_checkout_end_is_counted_once_under_its_status() {
    let world = World::new(FraudRules::default()).await;
    let metrics = milkrun_metrics::testing::capture();
    let paid = world.place_litres(2).await;
    world.checkout(paid, &world.invoker()).await;
    let declined = world
        .place(
            world.user_id,
            &[(world.litre(), 1)],
            PaymentMethod::Card,
            Some("tok_decline"),
            false,
        )
        .await;
    world.checkout(declined, &world.invoker()).await;
    let short = world.place_litres(50).await;
    world.checkout(short, &world.invoker()).await;
    let expected = [("PREPARING", 1), ("PAYMENT_FAILED", 1), ("FAILED", 1)];
    assert_eq!(outcomes(&metrics), expected);
    assert_eq!(metrics.count("PaymentDeclined", &[]), 1);

    // Steps repeated (a retried task, a second execution) end nothing a second time.
    world.tasks.run("ScheduleDelivery", paid).await.unwrap();
    world
        .tasks
        .run("MarkPaymentFailed", declined)
        .await
        .unwrap();
    world.tasks.run("MarkFailed", short).await.unwrap();
    assert_eq!(outcomes(&metrics), expected);

    // A failure after ScheduleDelivery: the execution compensates and cancels.
    for step in ["RefundPayment", "ReleaseStock", "MarkFailed"] {
        world.tasks.run(step, paid).await.unwrap();
    }
    assert_eq!(
        outcomes(&metrics),
        [
            ("PREPARING", 1),
            ("PAYMENT_FAILED", 1),
            ("FAILED", 1),
            ("CANCELLED", 1)
        ]
    );
}

#[tokio::test]
async fn short_stock_without_allow_partial_fails_the_order_holding_nothing() {
    let world = World::new(FraudRules::default()).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 11)],
            PaymentMethod::Card,
            None,
            false,
        )
        .await;
    let outcome = world.checkout(id, &world.invoker()).await;
    failed_with(&outcome, "CheckoutFailed");
    assert_eq!(
        outcome.history[4..],
        [
            "ReserveStock",
            "ReleaseStock",
            "FailureKind",
            "MarkFailed",
            "CheckoutFailed"
        ]
    );
    let order = world.order(id).await;
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(
        order.status_history.last().unwrap().reason.as_deref(),
        Some("OUT_OF_STOCK")
    );
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (10, 0));
    assert_eq!(world.gateway.payment_for(id).await.unwrap(), None);
}

#[tokio::test]
async fn short_stock_with_allow_partial_goes_ahead_without_the_short_item() {
    let world = World::new(FraudRules::default()).await;
    world.set_stock(world.vendor_a, world.half_litre(), 3).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 2), (world.half_litre(), 5)],
            PaymentMethod::Card,
            None,
            true,
        )
        .await;
    let outcome = world.checkout(id, &world.invoker()).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let order = world.order(id).await;
    assert_eq!(order.status, OrderStatus::Preparing);
    assert!(order.flags.partial_fulfillment);
    assert!(order.items[0].fulfilled);
    assert!(!order.items[1].fulfilled, "the 500ml line was short");
    assert_eq!(order.subtotal, Money::inr(2 * PRICE_1L));
    assert_eq!(order.total, Money::inr(2 * PRICE_1L));
    let payment = world.gateway.payment_for(id).await.unwrap().unwrap();
    assert_eq!(
        payment.amount,
        Money::inr(2 * PRICE_1L),
        "charged the recomputed total"
    );
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (8, 2));
    assert_eq!(
        world.stock(world.vendor_a, world.half_litre()).await,
        (3, 0)
    );
}

#[tokio::test]
async fn an_incomplete_profile_fails_the_order_before_anything_is_reserved() {
    let world = World::new(FraudRules::default()).await;
    let user = world.user("nophone@example.com", false).await;
    let id = world
        .place(
            user,
            &[(world.litre(), 1)],
            PaymentMethod::Card,
            None,
            false,
        )
        .await;
    let outcome = world.checkout(id, &world.invoker()).await;
    failed_with(&outcome, "CheckoutFailed");
    assert_eq!(
        outcome.history,
        [
            "StartOrResume",
            "ValidateProfile",
            "MarkFailed",
            "CheckoutFailed"
        ]
    );
    let order = world.order(id).await;
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(
        order.status_history.last().unwrap().reason.as_deref(),
        Some("PROFILE_INCOMPLETE")
    );
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (10, 0));
}

#[tokio::test]
async fn an_unexpected_failure_after_payment_refunds_and_releases() {
    let world = World::new(FraudRules::default()).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 4)],
            PaymentMethod::Card,
            None,
            false,
        )
        .await;
    let invoker = Recording {
        rename: Some(("ConfirmOrder", "NoSuchStep")),
        ..world.invoker()
    };
    let outcome = world.checkout(id, &invoker).await;
    failed_with(&outcome, "CheckoutFailed");
    assert_eq!(
        outcome.history[outcome.history.len() - 6..],
        [
            "ConfirmOrder",
            "RefundPayment",
            "ReleaseStock",
            "FailureKind",
            "MarkFailed",
            "CheckoutFailed"
        ]
    );
    let order = world.order(id).await;
    use OrderStatus::*;
    assert_eq!(
        statuses(&order),
        [Pending, PaymentPending, Cancelled, Refunded],
        "FAILED is no move from PAYMENT_PENDING: cancelled, then refunded"
    );
    assert_eq!(
        order.status_history[2].reason.as_deref(),
        Some("UNKNOWN_STEP")
    );
    let payment = world.gateway.payment_for(id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (10, 0));
}

/// The gateway charged, but its answer never reached the payment record (a timeout after
/// the charge, or the record's write failing): the compensation asks the gateway and gives
/// the money back. Found by the fault suite (`milkrun-bench faults`, seed 17).
#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_refunded_when_checkout_fails() {
    let world = World::new(FraudRules::default()).await;
    let id = world
        .place(
            world.user_id,
            &[(world.litre(), 2)],
            PaymentMethod::Card,
            None,
            false,
        )
        .await;
    let order = world.order(id).await;
    let charged = world
        .gateway
        .charge(&ChargeRequest {
            order_id: id,
            user_id: order.user_id,
            amount: order.total,
            method: PaymentMethod::Card,
            token: None,
        })
        .await
        .unwrap();
    assert_eq!(charged.status, PaymentStatus::Succeeded);
    let invoker = Recording {
        rename: Some(("ProcessPayment", "NoSuchStep")),
        ..world.invoker()
    };
    let outcome = world.checkout(id, &invoker).await;
    failed_with(&outcome, "CheckoutFailed");
    assert!(outcome.history.iter().any(|s| s == "RefundPayment"));
    let at_gateway = world.gateway.payment_for(id).await.unwrap().unwrap();
    assert_eq!(
        at_gateway.status,
        PaymentStatus::Refunded,
        "the money taken is given back"
    );
    let recorded = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(recorded.status, PaymentStatus::Refunded, "and recorded");
    assert_eq!(world.order(id).await.status, OrderStatus::Refunded);
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (10, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_checkouts_of_five_units_sell_exactly_five() {
    let world = Arc::new(World::new(FraudRules::default()).await);
    world.set_stock(world.vendor_a, world.litre(), 5).await;
    let ids = checkouts_at_once(&world, 20).await;
    let mut by_status: HashMap<OrderStatus, usize> = HashMap::new();
    for &id in &ids {
        let order = world.order(id).await;
        *by_status.entry(order.status).or_default() += 1;
        if order.status == OrderStatus::Failed {
            assert_eq!(
                order.status_history.last().unwrap().reason.as_deref(),
                Some("OUT_OF_STOCK")
            );
            assert!(
                world
                    .stores
                    .stock
                    .release(id, &|_: &_| Effects::none())
                    .await
                    .unwrap()
                    .is_none(),
                "a loser holds no reservation"
            );
            assert_eq!(world.gateway.payment_for(id).await.unwrap(), None);
        }
    }
    assert_eq!(
        by_status.get(&OrderStatus::Preparing),
        Some(&5),
        "{by_status:?}"
    );
    assert_eq!(
        by_status.get(&OrderStatus::Failed),
        Some(&15),
        "{by_status:?}"
    );
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (0, 5));
    assert_eq!(world.stock(world.vendor_b, world.litre()).await, (0, 0));
}

/// `count` customers each order one litre, and their checkouts all run at once.
async fn checkouts_at_once(world: &Arc<World>, count: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for n in 0..count {
        let user = world.user(&format!("buyer{n}@example.com"), true).await;
        let line = [(world.litre(), 1)];
        ids.push(
            world
                .place(user, &line, PaymentMethod::Card, None, false)
                .await,
        );
    }
    let runs: Vec<_> = ids
        .iter()
        .map(|&id| {
            let world = world.clone();
            tokio::spawn(async move {
                let invoker = world.invoker();
                world.checkout(id, &invoker).await
            })
        })
        .collect();
    for run in runs {
        run.await.unwrap();
    }
    ids
}

/// How many of `ids` each vendor delivers, and how many orders did not go ahead.
async fn outcome(world: &World, ids: &[Uuid]) -> (usize, usize, usize) {
    let (mut a, mut b, mut failed) = (0, 0, 0);
    for &id in ids {
        let order = world.order(id).await;
        match order.items[0].vendor_id {
            _ if order.status != OrderStatus::Preparing => failed += 1,
            Some(v) if v == world.vendor_a => a += 1,
            _ => b += 1,
        }
    }
    (a, b, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_vendor_day_sends_the_rest_to_the_next_vendor() {
    let world = Arc::new(World::new(FraudRules::default()).await);
    world.set_stock(world.vendor_a, world.litre(), 100).await;
    world.set_stock(world.vendor_b, world.litre(), 100).await;
    // B is rated higher, so every checkout prefers it, and takes 5 orders a day.
    let vendors = &world.stores.vendors;
    let before = VendorReads::get(vendors.as_ref(), world.vendor_b)
        .await
        .unwrap()
        .unwrap();
    let mut after = before.clone();
    after.capacity.daily_order_limit = 5;
    vendors
        .update(&before, after, &Effects::none())
        .await
        .unwrap();
    let ids = checkouts_at_once(&world, 20).await;
    assert_eq!(outcome(&world, &ids).await, (15, 5, 0), "(A, B, failed)");
    assert_eq!(world.stock(world.vendor_b, world.litre()).await, (95, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_vendor_sold_out_by_a_race_sends_the_rest_to_the_next_vendor() {
    let world = Arc::new(World::new(FraudRules::default()).await);
    world.set_stock(world.vendor_a, world.litre(), 100).await;
    world.set_stock(world.vendor_b, world.litre(), 3).await;
    let ids = checkouts_at_once(&world, 20).await;
    assert_eq!(outcome(&world, &ids).await, (17, 3, 0), "(A, B, failed)");
    assert_eq!(world.stock(world.vendor_b, world.litre()).await, (0, 3));
}

#[tokio::test]
async fn an_admins_forced_moves_bring_what_the_workflow_would() {
    let world = World::new(FraudRules {
        limit_paise: 10_000,
    })
    .await;
    let starts = Arc::new(StartsSeen::default());
    let ports = CheckoutPorts::from_stores(&world.stores, world.gateway.clone());
    let actions = OrderActions::new(ports, starts.clone());
    let admin = AuditContext::system("forced", "test");
    let (litre, vendor) = (world.litre(), world.vendor_a);
    use OrderStatus::*;

    // Held for fraud: CONFIRMED is an approval, and the checkout continues.
    let held = world.place_litres(2).await;
    world.checkout(held, &world.invoker()).await;
    assert_eq!(world.order(held).await.status, OnHold);
    let confirmed = actions.force(held, Confirmed, &admin, None).await.unwrap();
    assert_eq!(confirmed.status, Confirmed);
    let start = starts.0.lock().unwrap().pop().expect("a continuation");
    assert_eq!((start.order_id, start.run), (held, CheckoutRun::Approved));

    // PREPARING comes with the deliveries, as ScheduleDelivery makes it.
    let prepared = actions.force(held, Preparing, &admin, None).await.unwrap();
    assert_eq!(prepared.status, Preparing);
    let deliveries = world.stores.deliveries.for_order(&prepared).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(prepared.delivery_ids, [deliveries[0].delivery_id]);

    // DELIVERED commits the reserved stock.
    assert_eq!(world.stock(vendor, litre).await, (8, 2));
    actions
        .force(held, OutForDelivery, &admin, None)
        .await
        .unwrap();
    let delivered = actions.force(held, Delivered, &admin, None).await.unwrap();
    assert_eq!(delivered.status, Delivered);
    assert_eq!(world.stock(vendor, litre).await, (8, 0), "committed");

    // PAYMENT_FAILED releases what was reserved.
    let waiting = world.place_litres(3).await;
    world.reserve(waiting).await;
    assert_eq!(world.order(waiting).await.status, PaymentPending);
    assert_eq!(world.stock(vendor, litre).await, (5, 3));
    let failed = actions
        .force(waiting, PaymentFailed, &admin, None)
        .await
        .unwrap();
    assert_eq!(failed.status, PaymentFailed);
    assert_eq!(world.stock(vendor, litre).await, (8, 0), "released");

    // The moves only the checkout makes are refused, and nothing changes.
    let pending = world.place_litres(1).await;
    for (order_id, to) in [(waiting, PaymentPending), (pending, PaymentPending)] {
        let refused = actions.force(order_id, to, &admin, None).await.unwrap_err();
        assert_eq!(
            refused.code(),
            milkrun_domain::ErrorCode::InvalidTransition,
            "{refused:?}"
        );
    }
    assert_eq!(world.order(pending).await.status, Pending);
    assert_eq!(world.order(waiting).await.status, PaymentFailed);
    assert!(starts.0.lock().unwrap().is_empty(), "no checkout started");
}

#[tokio::test]
async fn stalled_checkouts_start_again_where_they_stopped_and_no_others() {
    let world = World::new(FraudRules {
        limit_paise: 10_000,
    })
    .await;
    // Never started, stopped after ReserveStock, held for fraud, and held then approved.
    let never = world.place_litres(1).await;
    let reserved = world.place_litres(1).await;
    world.reserve(reserved).await;
    let held = world.place_litres(2).await;
    world.checkout(held, &world.invoker()).await;
    let approved = world.place_litres(2).await;
    world.checkout(approved, &world.invoker()).await;
    let starts = Arc::new(StartsSeen::default());
    let ports = CheckoutPorts::from_stores(&world.stores, world.gateway.clone());
    let manager = AuditContext::system("approval", "test");
    OrderActions::new(ports, starts.clone())
        .approve(approved, &manager)
        .await
        .unwrap();
    starts.0.lock().unwrap().clear();

    let recent = Utc::now() - milkrun_checkout::STALLED_AFTER;
    let none = milkrun_checkout::resume_stalled(&world.ports(), starts.as_ref(), recent)
        .await
        .unwrap();
    assert_eq!(
        (none.resumed, none.failed),
        (0, 0),
        "nothing idle long enough"
    );

    let report = milkrun_checkout::resume_stalled(&world.ports(), starts.as_ref(), Utc::now())
        .await
        .unwrap();
    assert_eq!((report.resumed, report.failed), (3, 0));
    let mut runs: Vec<(Uuid, bool)> = starts
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|start| match start.run {
            CheckoutRun::Resumed { at_confirm, .. } => (start.order_id, at_confirm),
            other => panic!("not a resumed run: {other:?}"),
        })
        .collect();
    runs.sort();
    let mut expected = vec![(never, false), (reserved, false), (approved, true)];
    expected.sort();
    assert_eq!(runs, expected, "ON_HOLD waits for a manager");

    // Each goes on from where it stopped, and is charged once.
    let invoker = world.invoker();
    let resumed = starts.0.lock().unwrap().clone();
    for start in resumed {
        let outcome = world.execute(&invoker, start.input()).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    }
    use OrderStatus::*;
    assert_eq!(
        statuses(&world.order(never).await),
        [Pending, PaymentPending, Confirmed, Preparing]
    );
    assert_eq!(world.order(reserved).await.status, Preparing);
    assert_eq!(world.order(approved).await.status, Preparing);
    assert_eq!(world.order(held).await.status, OnHold);
    assert_eq!(
        world.gateway.attempts(reserved),
        1,
        "charged once, by the resumed run"
    );
}

#[tokio::test]
async fn a_run_started_again_after_a_half_done_compensation_finishes_it() {
    let world = World::new(FraudRules::default()).await;
    let (litre, vendor) = (world.litre(), world.vendor_a);
    let id = world.place_litres(2).await;
    world.reserve(id).await;
    world.tasks.run("ProcessPayment", id).await.unwrap();
    // A step after the charge failed; its compensation refunded and released, then died
    // before MarkFailed: the order still says PAYMENT_PENDING.
    world.tasks.run("RefundPayment", id).await.unwrap();
    world.tasks.run("ReleaseStock", id).await.unwrap();
    assert_eq!(world.order(id).await.status, OrderStatus::PaymentPending);
    assert_eq!(world.stock(vendor, litre).await, (10, 0));

    let starts = StartsSeen::default();
    let report = milkrun_checkout::resume_stalled(&world.ports(), &starts, Utc::now())
        .await
        .unwrap();
    assert_eq!(report.resumed, 1);
    let start = starts.0.lock().unwrap().pop().unwrap();
    let outcome = world.execute(&world.invoker(), start.input()).await;

    let order = world.order(id).await;
    assert!(
        !matches!(
            order.status,
            OrderStatus::Confirmed | OrderStatus::Preparing
        ),
        "a refunded order never goes ahead: {:?} {outcome:?}",
        statuses(&order)
    );
    assert!(
        order.status.is_terminal() || order.status == OrderStatus::Cancelled,
        "{:?}",
        order.status
    );
    assert_eq!(world.stock(vendor, litre).await, (10, 0), "nothing held");
    assert_eq!(world.gateway.attempts(id), 1, "not charged again");
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
}

#[tokio::test]
async fn a_compensation_after_schedule_delivery_calls_the_deliveries_off() {
    let world = World::new(FraudRules::default()).await;
    let id = world.place_litres(2).await;
    world.checkout(id, &world.invoker()).await;
    assert_eq!(world.order(id).await.status, OrderStatus::Preparing);
    // ScheduleDelivery's move was written, then the step died until its retries ran out:
    // the execution compensates a PREPARING order.
    for step in ["RefundPayment", "ReleaseStock", "MarkFailed"] {
        world.tasks.run(step, id).await.unwrap();
    }
    let order = world.order(id).await;
    assert_eq!(order.status, OrderStatus::Refunded);
    let deliveries = world.stores.deliveries.for_order(&order).await.unwrap();
    assert!(!deliveries.is_empty());
    for delivery in deliveries {
        let last = delivery.status_history.last().unwrap();
        assert_eq!(
            (delivery.status, last.reason.as_deref()),
            (DeliveryStatus::Failed, Some("ORDER_CANCELLED")),
            "off every vendor's round"
        );
    }
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (10, 0));
}

#[tokio::test]
async fn mark_failed_alone_gives_back_the_stock_and_money_the_order_still_holds() {
    let world = World::new(FraudRules::default()).await;
    let (litre, vendor) = (world.litre(), world.vendor_a);
    let id = world.place_litres(2).await;
    world.reserve(id).await;
    world.tasks.run("ProcessPayment", id).await.unwrap();
    assert_eq!(world.stock(vendor, litre).await, (8, 2));
    // A path into MarkFailed that skipped RefundPayment and ReleaseStock (a resumed run
    // whose first steps failed): the one settlement gives back what the order holds.
    world.tasks.run("MarkFailed", id).await.unwrap();
    assert_eq!(world.stock(vendor, litre).await, (10, 0), "released");
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(world.order(id).await.status, OrderStatus::Refunded);
    // and the definition's own compensation after it finds nothing left to do
    world.tasks.run("RefundPayment", id).await.unwrap();
    world.tasks.run("ReleaseStock", id).await.unwrap();
    assert_eq!(world.gateway.attempts(id), 1, "charged once, refunded once");
    assert_eq!(world.stock(vendor, litre).await, (10, 0));
}

/// The largest order the API takes, each line sold by a vendor of its own: every
/// transaction of its checkout (the reservation, then the deliveries with their audit
/// entries and events) fits the 100 writes the item store takes, and it reaches PREPARING.
#[tokio::test]
async fn the_largest_order_from_as_many_vendors_checks_out() {
    let world = World::new(FraudRules::default()).await;
    let mut items = Vec::new();
    for n in 0..milkrun_domain::cart::MAX_LINES {
        let letters: String = [n / 26, n % 26]
            .iter()
            .map(|&i| (b'A' + i as u8) as char)
            .collect();
        let seller = vendor(&format!("Dairy {letters}"), 4.0, 50);
        world
            .stores
            .vendors
            .create(&seller, &Effects::none())
            .await
            .unwrap();
        let mut product = world.product.clone();
        product.product_id = Uuid::now_v7();
        product.vendor_ids = vec![seller.vendor_id];
        product.variants[0].variant_id = Uuid::now_v7();
        let variant = product.variants[0].clone();
        world
            .stores
            .products
            .create(&product, &Effects::none())
            .await
            .unwrap();
        let key = StockKey {
            vendor_id: seller.vendor_id,
            product_id: product.product_id,
            variant_id: variant.variant_id,
        };
        let row = InventoryRow {
            stock: 3,
            ..InventoryRow::empty(key, Utc::now())
        };
        world
            .stores
            .stock
            .save(None, &row, &Effects::none())
            .await
            .unwrap();
        items.push(OrderItem {
            product_id: product.product_id,
            variant_id: variant.variant_id,
            name: product.name.clone(),
            variant_name: variant.name.clone(),
            quantity: 2,
            unit_price: variant.price,
            vendor_id: None,
            fulfilled: true,
        });
    }
    let now = Utc::now();
    let new = NewOrder {
        order_id: Uuid::now_v7(),
        user_id: world.user_id,
        totals: checkout::totals(&items, checkout::NO_DISCOUNT).unwrap(),
        items,
        delivery_date: checkout::platform_today(now) + Days::new(1),
        delivery_slot: DeliverySlot::Morning,
        delivery_address: address(),
        payment_method: PaymentMethod::Card,
        subscription_id: None,
        idempotency_key: None,
    };
    let order = Order::place(new, world.user_id.to_string(), now);
    let id = order.order_id;
    world
        .stores
        .orders
        .create(&order, &Effects::none())
        .await
        .unwrap();

    let outcome = world.checkout(id, &world.invoker()).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let order = world.order(id).await;
    assert_eq!(order.status, OrderStatus::Preparing);
    let deliveries = world.stores.deliveries.for_order(&order).await.unwrap();
    assert_eq!(
        deliveries.len(),
        milkrun_domain::cart::MAX_LINES,
        "one per vendor"
    );
    for item in &order.items {
        let key = StockKey {
            vendor_id: item.vendor_id.expect("assigned"),
            product_id: item.product_id,
            variant_id: item.variant_id,
        };
        let row = world.stores.stock.get(&key).await.unwrap().unwrap();
        assert_eq!((row.stock, row.reserved), (1, 2));
    }
}

/// A checkout runner whose executions always die: each start is recorded, nothing runs.
type DyingRunner = StartsSeen;

/// The events of `event_type` committed for `order_id`, and the topic they go to.
async fn events_of(world: &World, event_type: EventType, order_id: Uuid) -> Vec<EventEnvelope> {
    let pending = world.stores.outbox.pending(1_000).await.unwrap();
    pending
        .into_iter()
        .filter(|e| e.event_type == event_type && e.data["orderId"] == json!(order_id))
        .collect()
}

/// The audit actions written about `order_id`.
async fn audit_actions(world: &World, order_id: Uuid) -> Vec<String> {
    let page = PageRequest::first(100);
    let entries = world
        .stores
        .audit
        .for_entity(&order_id.to_string(), &page)
        .await;
    entries
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn an_order_whose_resumed_runs_keep_dying_is_ended_given_back_and_flagged() {
    use milkrun_checkout::stalled::MAX_RESUMES;
    let world = World::new(FraudRules::default()).await;
    let (litre, vendor) = (world.litre(), world.vendor_a);
    let id = world.place_litres(2).await;
    world.reserve(id).await;
    world.tasks.run("ProcessPayment", id).await.unwrap();
    assert_eq!(world.order(id).await.status, OrderStatus::PaymentPending);
    let (ports, dying) = (world.ports(), DyingRunner::default());
    // Each sweep comes after the last resume's run had its time (and died).
    let sweep =
        || milkrun_checkout::resume_stalled(&ports, &dying, Utc::now() + TimeDelta::seconds(1));
    for round in 1..=MAX_RESUMES {
        let report = sweep().await.unwrap();
        assert_eq!((report.resumed, report.given_up), (1, 0), "round {round}");
        assert_eq!(world.order(id).await.resumes, round, "counted on the order");
    }
    assert_eq!(dying.0.lock().unwrap().len(), MAX_RESUMES as usize);

    let report = sweep().await.unwrap();
    assert_eq!((report.resumed, report.given_up, report.failed), (0, 1, 0));
    assert_eq!(
        dying.0.lock().unwrap().len(),
        MAX_RESUMES as usize,
        "not started again"
    );
    let order = world.order(id).await;
    use OrderStatus::*;
    assert_eq!(
        statuses(&order),
        [Pending, PaymentPending, Cancelled, Refunded],
        "ended the way a failed checkout ends"
    );
    let ended = &order.status_history[2];
    assert_eq!(ended.reason.as_deref(), Some("CHECKOUT_STALLED"));
    assert_eq!(world.stock(vendor, litre).await, (10, 0), "released");
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    let alerts = events_of(&world, EventType::OrderNeedsAttention, id).await;
    assert_eq!(alerts.len(), 1, "admins alerted once");
    assert_eq!(alerts[0].topic(), Topic::AdminAlerts);
    assert_eq!(alerts[0].data["reason"], json!("CHECKOUT_STALLED"));
    assert_eq!(
        events_of(&world, EventType::OrderCancelled, id).await.len(),
        1
    );
    let actions = audit_actions(&world, id).await;
    assert!(
        actions.contains(&"ORDER_CANCELLED".to_owned()),
        "{actions:?}"
    );

    let report = sweep().await.unwrap();
    assert_eq!(
        (report.resumed, report.given_up, report.failed),
        (0, 0, 0),
        "ended for good"
    );
    assert_eq!(world.gateway.attempts(id), 1, "charged once, refunded once");
}

#[tokio::test]
async fn two_sweepers_at_once_count_and_start_a_stalled_order_once() {
    let world = World::new(FraudRules::default()).await;
    let id = world.place_litres(1).await;
    let ports = world.ports();
    let (a, b) = (DyingRunner::default(), DyingRunner::default());
    let idle_since = Utc::now();
    let (first, second) = tokio::join!(
        milkrun_checkout::resume_stalled(&ports, &a, idle_since),
        milkrun_checkout::resume_stalled(&ports, &b, idle_since),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.resumed + second.resumed, 1, "{first:?} {second:?}");
    let started = a.0.lock().unwrap().len() + b.0.lock().unwrap().len();
    assert_eq!(started, 1, "one execution");
    assert_eq!(world.order(id).await.resumes, 1, "one resume counted");
}

/// A gateway that charges but whose refunds keep failing.
struct NoRefunds(Arc<SimulatedGateway>);

#[async_trait]
impl PaymentGateway for NoRefunds {
    async fn charge(&self, request: &ChargeRequest) -> Result<Payment, GatewayError> {
        self.0.charge(request).await
    }

    async fn refund(
        &self,
        _payment: &Payment,
        _amount: Money,
        _reason: &str,
    ) -> Result<Payment, GatewayError> {
        Err(GatewayError::Unavailable("refunds are down".into()))
    }

    async fn payment_for(&self, order_id: Uuid) -> Result<Option<Payment>, GatewayError> {
        self.0.payment_for(order_id).await
    }
}

#[tokio::test]
async fn a_refund_that_keeps_failing_leaves_the_order_cancelled_flagged_and_released() {
    let world = World::new(FraudRules::default()).await;
    let (litre, vendor) = (world.litre(), world.vendor_a);
    let gateway = Arc::new(NoRefunds(world.gateway.clone()));
    let ports = CheckoutPorts::from_stores(&world.stores, gateway);
    let tasks = Arc::new(CheckoutTasks::new(ports, FraudRules::default()));
    // ConfirmOrder fails unexpectedly after the charge: the compensation's refund fails too.
    let invoker = Recording {
        inner: CheckoutTaskInvoker::new(tasks),
        calls: Arc::default(),
        rename: Some(("ConfirmOrder", "NoSuchStep")),
    };
    let id = world.place_litres(2).await;
    let outcome = world.checkout(id, &invoker).await;

    failed_with(&outcome, "RefundFailed");
    let tail: Vec<&str> = outcome
        .history
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "ConfirmOrder",
            "RefundPayment",
            "MarkRefundFailed",
            "RefundFailed"
        ]
    );
    assert_eq!(
        invoker.count("RefundPayment"),
        4,
        "retried before it was caught"
    );
    let order = world.order(id).await;
    assert_eq!(
        order.status,
        OrderStatus::Cancelled,
        "someone can act on it"
    );
    let last = order.status_history.last().unwrap();
    assert_eq!(last.reason.as_deref(), Some("REFUND_FAILED"));
    assert_eq!(
        world.stock(vendor, litre).await,
        (10, 0),
        "the stock went back"
    );
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(
        payment.status,
        PaymentStatus::Succeeded,
        "the money is still taken"
    );
    let alerts = events_of(&world, EventType::OrderNeedsAttention, id).await;
    assert_eq!(alerts.len(), 1, "admins alerted");
    assert_eq!(alerts[0].data["reason"], json!("REFUND_FAILED"));
    assert!(
        audit_actions(&world, id)
            .await
            .contains(&"ORDER_CANCELLED".to_owned())
    );

    // An admin's move to REFUNDED, once the gateway refunds again, gives the money back.
    let actions = OrderActions::new(world.ports(), Arc::new(StartsSeen::default()));
    let admin = AuditContext::system("refund", "test");
    let refunded = actions
        .force(id, OrderStatus::Refunded, &admin, None)
        .await
        .unwrap();
    assert_eq!(refunded.status, OrderStatus::Refunded);
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
}

/// A gateway whose charge succeeds while a webhook records an earlier decline of the same
/// order: ProcessPayment found no payment before charging, and finds one when it records.
struct RecordedWhileCharging {
    gateway: Arc<SimulatedGateway>,
    payments: Arc<dyn PaymentStore>,
}

#[async_trait]
impl PaymentGateway for RecordedWhileCharging {
    async fn charge(&self, request: &ChargeRequest) -> Result<Payment, GatewayError> {
        let paid = self.gateway.charge(request).await?;
        let declined = Payment {
            status: PaymentStatus::Failed,
            failure_reason: Some("declined before".into()),
            ..paid.clone()
        };
        let webhook = AuditContext::system("payment-webhook", "test");
        milkrun_checkout::records::record_payment(&self.payments, &declined, &webhook)
            .await
            .unwrap();
        Ok(paid)
    }

    async fn refund(
        &self,
        payment: &Payment,
        amount: Money,
        reason: &str,
    ) -> Result<Payment, GatewayError> {
        self.gateway.refund(payment, amount, reason).await
    }

    async fn payment_for(&self, order_id: Uuid) -> Result<Option<Payment>, GatewayError> {
        self.gateway.payment_for(order_id).await
    }
}

#[tokio::test]
async fn a_payment_recorded_while_the_charge_ran_is_brought_up_to_date_not_doubled() {
    let world = World::new(FraudRules::default()).await;
    let id = world.place_litres(2).await;
    world.reserve(id).await;
    let gateway = Arc::new(RecordedWhileCharging {
        gateway: world.gateway.clone(),
        payments: world.stores.payments.clone(),
    });
    let tasks = CheckoutTasks::new(
        CheckoutPorts::from_stores(&world.stores, gateway),
        FraudRules::default(),
    );
    let answered = tasks.run("ProcessPayment", id).await.unwrap();

    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(answered["paymentId"], json!(payment.payment_id));
    assert_eq!(
        payment.payment_id,
        Payment::id_for(id),
        "the order's one payment"
    );
    assert_eq!(payment.status, PaymentStatus::Succeeded, "{payment:?}");
    assert_eq!(
        payment.version, 1,
        "created by the webhook, updated by the step"
    );
    let succeeded = events_of(&world, EventType::PaymentSucceeded, id).await;
    assert_eq!(succeeded.len(), 1);
}

/// The order store, except that its `armed`-th read of an order hands the order back as it
/// was and then moves the stored one on through `ahead`, as another vendor's follower would
/// between that read and the write after it.
struct OvertakenAfterRead {
    inner: Arc<dyn milkrun_domain::ports::OrderStore>,
    reads: std::sync::atomic::AtomicUsize,
    armed: usize,
    ahead: &'static [OrderStatus],
}

#[async_trait]
impl OrderWrites for OvertakenAfterRead {
    async fn create(&self, order: &Order, effects: &Effects) -> Result<(), StoreError> {
        self.inner.create(order, effects).await
    }
    async fn update(&self, order: Order, effects: &Effects) -> Result<Order, StoreError> {
        self.inner.update(order, effects).await
    }
    async fn update_with_deliveries(
        &self,
        order: Order,
        deliveries: &[Delivery],
        effects: &Effects,
    ) -> Result<Order, StoreError> {
        let inner = &self.inner;
        inner
            .update_with_deliveries(order, deliveries, effects)
            .await
    }
}

#[async_trait]
impl OrderReads for OvertakenAfterRead {
    async fn get(&self, order_id: Uuid) -> Result<Option<Order>, StoreError> {
        let read = self.inner.get(order_id).await?;
        let nth = self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if let (true, Some(as_read)) = (nth == self.armed, &read) {
            let mut ahead = as_read.clone();
            for &to in self.ahead {
                ahead.move_to(to, "other-vendor", None, Utc::now()).unwrap();
            }
            self.inner.update(ahead, &Effects::none()).await?;
        }
        Ok(read)
    }
    async fn for_user(
        &self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> Result<milkrun_domain::page::Page<Order>, StoreError> {
        self.inner.for_user(user_id, page).await
    }
    async fn by_status(
        &self,
        status: Option<OrderStatus>,
        page: &PageRequest,
    ) -> Result<milkrun_domain::page::Page<Order>, StoreError> {
        self.inner.by_status(status, page).await
    }
    async fn in_checkout(
        &self,
        page: &PageRequest,
    ) -> Result<milkrun_domain::page::Page<Order>, StoreError> {
        self.inner.in_checkout(page).await
    }
}

/// A one-litre order taken to PREPARING, its one delivery then set to `delivery`, followed
/// by a follower whose second read of the order (after the deliveries) is overtaken through
/// `ahead` (none: not overtaken): the order's id, and what the follower answers.
async fn follow_overtaken(
    world: &World,
    delivery: DeliveryStatus,
    ahead: &'static [OrderStatus],
) -> (Uuid, Result<Order, milkrun_domain::DomainError>) {
    let order_id = world.place_litres(1).await;
    world.checkout(order_id, &world.invoker()).await;
    let order = world.order(order_id).await;
    assert_eq!(order.status, OrderStatus::Preparing);
    world.set_deliveries(&order, |_| delivery).await;
    let overtaken = OvertakenAfterRead {
        inner: world.stores.orders.clone(),
        reads: Default::default(),
        armed: if ahead.is_empty() { 0 } else { 2 },
        ahead,
    };
    let ports = CheckoutPorts {
        orders: Arc::new(overtaken),
        ..world.ports()
    };
    let actions = OrderActions::new(ports, Arc::new(StartsSeen::default()));
    let vendor = AuditContext::system("delivery", "test");
    (order_id, actions.follow_deliveries(order_id, &vendor).await)
}

#[tokio::test]
async fn a_follower_overtaken_between_its_read_and_its_write_still_follows() {
    let world = World::new(FraudRules {
        limit_paise: 1_000_000,
    })
    .await;
    use OrderStatus::*;
    let (_, followed) = follow_overtaken(
        &world,
        DeliveryStatus::Delivered,
        &[OutForDelivery, Delivered],
    )
    .await;
    let followed = followed.expect("no move worked out from the stale read is refused");
    assert_eq!(followed.status, Delivered);
    assert_eq!(
        world.stock(world.vendor_a, world.litre()).await,
        (9, 0),
        "its stock committed by the follower all the same"
    );

    // A failed delivery's follower, overtaken by a cancel that was refunded already.
    let (_, followed) =
        follow_overtaken(&world, DeliveryStatus::Failed, &[Cancelled, Refunded]).await;
    let followed = followed.expect("the cancel is not made twice, nor refused");
    assert_eq!(followed.status, Refunded);
}

#[tokio::test]
async fn a_failed_delivery_cancels_once_and_gives_back_once_however_its_followers_meet() {
    let limit = FraudRules {
        limit_paise: 1_000_000,
    };
    use OrderStatus::*;
    // Alone: the cancel's audit entry, event and reason, then the stock and money back.
    let world = World::new(limit).await;
    let (id, followed) = follow_overtaken(&world, DeliveryStatus::Failed, &[]).await;
    assert_eq!(followed.unwrap().status, Refunded);
    let order = world.order(id).await;
    let cancel = order.status_history.iter().find(|c| c.status == Cancelled);
    let reason = cancel.and_then(|c| c.reason.as_deref());
    assert_eq!(reason, Some(milkrun_domain::delivery::DELIVERY_FAILED));
    assert!(
        audit_actions(&world, id)
            .await
            .contains(&"ORDER_CANCELLED".to_owned())
    );
    assert_eq!(
        events_of(&world, EventType::OrderCancelled, id).await.len(),
        1
    );
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (10, 0));
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(payment.refunds.len(), 1);

    // Overtaken by another follower's cancel not yet settled: this one settles it, once.
    let world = World::new(limit).await;
    let (id, followed) = follow_overtaken(&world, DeliveryStatus::Failed, &[Cancelled]).await;
    assert_eq!(followed.unwrap().status, Refunded);
    assert_eq!(world.stock(world.vendor_a, world.litre()).await, (10, 0));
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    assert_eq!(payment.refunds.len(), 1, "{payment:?}");
}

#[tokio::test]
async fn an_admins_late_refund_of_a_cancel_gives_back_only_what_was_not_delivered() {
    let world = World::new(FraudRules {
        limit_paise: 1_000_000,
    })
    .await;
    use OrderStatus::*;
    let half = world.half_litre();
    world.set_stock(world.vendor_b, half, 10).await;
    let lines = [(world.litre(), 1), (half, 2)];
    let id = world
        .place(world.user_id, &lines, PaymentMethod::Card, None, false)
        .await;
    world.checkout(id, &world.invoker()).await;
    let order = world.order(id).await;
    assert_eq!(order.status, Preparing);
    let deliveries = world.stores.deliveries.for_order(&order).await.unwrap();
    assert_eq!(deliveries.len(), 2, "A's litre, B's half litres");
    let a_delivered = |vendor| match vendor == world.vendor_a {
        true => DeliveryStatus::Delivered,
        false => DeliveryStatus::Failed,
    };
    world.set_deliveries(&order, a_delivered).await;
    // B's delivery failed: the order is cancelled, but its refund fails.
    let no_refunds = Arc::new(NoRefunds(world.gateway.clone()));
    let ports = CheckoutPorts::from_stores(&world.stores, no_refunds);
    let follower = OrderActions::new(ports, Arc::new(StartsSeen::default()));
    let vendor = AuditContext::system("delivery", "test");
    assert!(follower.follow_deliveries(id, &vendor).await.is_err());
    assert_eq!(world.order(id).await.status, Cancelled);

    let actions = OrderActions::new(world.ports(), Arc::new(StartsSeen::default()));
    let admin = AuditContext::system("refund", "test");
    let why = Some("REFUND_RETRIED".to_owned());
    let refunded = actions.force(id, Refunded, &admin, why).await.unwrap();
    assert_eq!(refunded.status, Refunded);
    let last = refunded.status_history.last().unwrap();
    assert_eq!(
        last.reason.as_deref(),
        Some("REFUND_RETRIED"),
        "the admin's reason kept"
    );
    let payment = world.stores.payments.for_order(id).await.unwrap().unwrap();
    let refunds: Vec<u64> = payment.refunds.iter().map(|r| r.amount.amount).collect();
    assert_eq!(
        (payment.status, refunds),
        (PaymentStatus::Succeeded, vec![2 * PRICE_500ML]),
        "A's delivered litre is kept: {payment:?}"
    );
}

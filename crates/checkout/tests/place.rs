//! Placing an order (`milkrun_checkout::place`) over SQLite in memory: a customer's
//! placement as `POST /orders` makes it, and a job's with a derived order id, which places
//! one order however often it runs.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use milkrun_checkout::place::subscription_order_id;
use milkrun_checkout::{AddressChoice, OrderPlacement, PlaceOrder, PlacedBy};
use milkrun_domain::Effects;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::cart::{Cart, CartLine};
use milkrun_domain::checkout::OrderLine;
use milkrun_domain::idempotency::{
    Claim, ClaimKey, Completion, Fingerprint, IdempotencyKey, StoredResponse,
};
use milkrun_domain::money::Money;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{
    CartStore, CheckoutRun, CheckoutStart, IdempotencyStore, OrderReads, ProductWrites,
    UserRegistry,
};
use milkrun_domain::product::{Product, Variant};
use milkrun_domain::user::{Address, ClientOrigin, NewUser, User};
use milkrun_domain::values::{
    Category, DeliverySlot, Email, PasswordHash, PaymentMethod, PersonName, Phone, Role,
};
use milkrun_local::{Database, SqliteItemStore};
use milkrun_store::Stores;
use milkrun_testkit::StartsSeen;
use serde_json::json;
use uuid::Uuid;

/// ₹60.00 a litre.
const PRICE: u64 = 6_000;

struct World {
    stores: Stores,
    /// The executions a placement started.
    starts: Arc<StartsSeen>,
    placement: OrderPlacement,
    product: Product,
    user_id: Uuid,
}

fn address() -> Address {
    milkrun_testkit::address("560001")
}

fn origin() -> ClientOrigin {
    ClientOrigin {
        ip: "203.0.113.7".into(),
        user_agent: "test".into(),
        region: None,
    }
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2030, 1, 15).unwrap()
}

impl World {
    async fn new() -> Self {
        let db = Database::in_memory().unwrap();
        let stores = Stores::over(Arc::new(SqliteItemStore::new(db)));
        let starts = Arc::new(StartsSeen::default());
        let placement = OrderPlacement::new(stores.clone(), starts.clone());
        let now = Utc::now();
        let admin = Uuid::now_v7();
        let product = Product {
            product_id: Uuid::now_v7(),
            name: "Toned milk".into(),
            category: Category::Milk,
            description: "Fresh toned milk".into(),
            variants: vec![Variant {
                variant_id: Uuid::now_v7(),
                name: "1L".into(),
                price: Money::inr(PRICE),
                unit: "packet".into(),
            }],
            vendor_ids: vec![Uuid::now_v7()],
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
        let new = NewUser {
            email: Email::parse("buyer@example.com").unwrap(),
            name: PersonName::parse("Asha Rao").unwrap(),
            phone: Some(Phone::parse("+919876543210").unwrap()),
            role: Role::Customer,
        };
        let mut user = User::register(new, PasswordHash::new("$argon2id$x".into()), &origin(), now);
        user.put_address(address()).unwrap();
        stores.users.create(&user, &Effects::none()).await.unwrap();
        Self {
            stores,
            starts,
            placement,
            product,
            user_id: user.user_id,
        }
    }

    fn line(&self, quantity: u32) -> OrderLine {
        OrderLine {
            product_id: self.product.product_id,
            variant_id: self.product.variants[0].variant_id,
            quantity,
        }
    }

    fn request(&self, by: PlacedBy, lines: Option<Vec<OrderLine>>) -> PlaceOrder {
        PlaceOrder {
            by,
            lines,
            address: AddressChoice::Default,
            delivery_date: date(),
            delivery_slot: DeliverySlot::Morning,
            payment_method: PaymentMethod::Card,
            allow_partial: false,
            payment_token: None,
            order_id: None,
            subscription_id: None,
        }
    }

    fn customer(&self) -> PlacedBy {
        PlacedBy::Customer {
            user_id: self.user_id,
        }
    }

    fn customer_audit(&self) -> AuditContext {
        AuditContext {
            user_id: Some(self.user_id),
            role: Some(Role::Customer),
            origin: origin(),
            correlation_id: "req-1".into(),
        }
    }

    /// A subscription's order for `date()`, as the nightly job places it.
    fn subscription_request(&self, subscription_id: Uuid) -> PlaceOrder {
        let by = PlacedBy::Job {
            user_id: self.user_id,
            actor: "subscriptions".into(),
        };
        PlaceOrder {
            order_id: Some(subscription_order_id(subscription_id, date())),
            subscription_id: Some(subscription_id),
            ..self.request(by, Some(vec![self.line(2)]))
        }
    }

    async fn orders(&self) -> Vec<Order> {
        let page = PageRequest::first(50);
        let listed = self.stores.orders.for_user(self.user_id, &page).await;
        listed.unwrap().items
    }

    fn started(&self) -> Vec<CheckoutStart> {
        self.starts.starts()
    }

    /// A claimed `Idempotency-Key`, as the HTTP layer hands it over.
    async fn claimed(&self, key: &str) -> Completion {
        let key = ClaimKey::new("orders", self.user_id, IdempotencyKey::parse(key).unwrap());
        let fingerprint = Fingerprint::of(&json!({ "key": key.key.as_str() }));
        let claim = self.stores.idempotency.claim(&key, &fingerprint).await;
        assert_eq!(claim.unwrap(), Claim::Claimed);
        Completion { key, fingerprint }
    }

    /// What a retry with the completion's key and body is answered.
    async fn replayed(&self, completion: &Completion) -> Claim {
        let idempotency = self.stores.idempotency.as_ref();
        let claim = idempotency.claim(&completion.key, &completion.fingerprint);
        claim.await.unwrap()
    }
}

#[tokio::test]
async fn a_customer_places_a_pending_priced_order_and_its_checkout_starts() {
    let world = World::new().await;
    let request = world.request(world.customer(), Some(vec![world.line(3)]));
    let completion = world.claimed("order-1").await;
    let placed = world
        .placement
        .place(&world.customer_audit(), request, Some(completion.clone()))
        .await
        .unwrap();

    assert!(placed.created);
    let order = &placed.order;
    assert_eq!(order.order_id.get_version_num(), 7, "a fresh id");
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(
        order.total,
        Money::inr(3 * PRICE),
        "priced from the catalog"
    );
    assert_eq!(order.delivery_address, address(), "the default address");
    assert_eq!(order.idempotency_key.as_deref(), Some("order-1"));
    assert_eq!(order.subscription_id, None);
    let first = &order.status_history[0];
    assert_eq!(first.by, world.user_id.to_string());
    assert_eq!(world.orders().await, std::slice::from_ref(order));

    let expected = StoredResponse {
        status: 201,
        body: json!({"orderId": order.order_id, "status": "PENDING"}),
    };
    assert_eq!(placed.answer(), expected);
    assert_eq!(
        world.replayed(&completion).await,
        Claim::Replay(expected),
        "the answer committed with the order"
    );
    let start = CheckoutStart {
        order_id: order.order_id,
        payment_method: PaymentMethod::Card,
        run: CheckoutRun::Placed,
    };
    assert_eq!(world.started(), [start]);
}

#[tokio::test]
async fn an_order_from_the_cart_empties_the_cart() {
    let world = World::new().await;
    let mut cart = Cart::empty(world.user_id, Utc::now());
    cart.items.push(CartLine {
        product_id: world.product.product_id,
        variant_id: world.product.variants[0].variant_id,
        quantity: 2,
    });
    world
        .stores
        .carts
        .save(cart, &Effects::none())
        .await
        .unwrap();
    let request = world.request(world.customer(), None);
    let placed = world
        .placement
        .place(&world.customer_audit(), request, None)
        .await
        .unwrap();
    assert_eq!(placed.order.items[0].quantity, 2);
    let cart = world.stores.carts.get(world.user_id).await.unwrap();
    assert!(cart.as_ref().is_none_or(|c| c.items.is_empty()), "{cart:?}");

    let again = world.request(world.customer(), None);
    let refused = world
        .placement
        .place(&world.customer_audit(), again, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), milkrun_domain::ErrorCode::ValidationError);
}

#[tokio::test]
async fn a_derived_id_placed_twice_is_one_order() {
    let world = World::new().await;
    let metrics = milkrun_metrics::testing::capture();
    let subscription_id = Uuid::now_v7();
    let audit = AuditContext::system("nightly-1", "subscriptions");
    let first = world
        .placement
        .place(&audit, world.subscription_request(subscription_id), None)
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(
        first.order.order_id,
        subscription_order_id(subscription_id, date())
    );
    assert_eq!(first.order.subscription_id, Some(subscription_id));
    assert_eq!(first.order.status_history[0].by, "subscriptions");

    let again = world
        .placement
        .place(&audit, world.subscription_request(subscription_id), None)
        .await
        .unwrap();
    assert!(!again.created, "answers the order there is");
    assert_eq!(again.order, first.order);
    assert_eq!(again.answer(), first.answer());
    assert_eq!(world.orders().await.len(), 1);
    assert_eq!(world.started().len(), 1, "a repeat starts nothing");
    assert_eq!(
        metrics.count("OrdersPlaced", &[]),
        1,
        "a repeat counts nothing"
    );

    let other_day = world.subscription_request(subscription_id);
    let other_day = PlaceOrder {
        order_id: Some(subscription_order_id(
            subscription_id,
            date().succ_opt().unwrap(),
        )),
        ..other_day
    };
    let next = world.placement.place(&audit, other_day, None).await;
    assert!(next.unwrap().created, "another date is another order");
    assert_eq!(world.orders().await.len(), 2);
    assert_eq!(metrics.count("OrdersPlaced", &[]), 2);
}

#[tokio::test]
async fn a_repeat_records_its_answer_for_the_key_it_was_given() {
    let world = World::new().await;
    let subscription_id = Uuid::now_v7();
    let audit = AuditContext::system("nightly-1", "subscriptions");
    let first = world
        .placement
        .place(&audit, world.subscription_request(subscription_id), None)
        .await
        .unwrap();
    let completion = world.claimed("repeat").await;
    let again = world
        .placement
        .place(
            &audit,
            world.subscription_request(subscription_id),
            Some(completion.clone()),
        )
        .await
        .unwrap();
    assert_eq!(again.order.order_id, first.order.order_id);
    assert_eq!(
        world.replayed(&completion).await,
        Claim::Replay(first.answer())
    );
}

#[test]
fn a_subscriptions_order_id_is_fixed_by_its_subscription_and_date() {
    let subscription = Uuid::from_u128(1);
    let id = subscription_order_id(subscription, date());
    assert_eq!(id.get_version_num(), 5);
    assert_eq!(id, subscription_order_id(subscription, date()));
    assert_ne!(id, subscription_order_id(Uuid::from_u128(2), date()));
}

#[tokio::test]
async fn two_runs_at_once_place_one_order() {
    let world = World::new().await;
    let subscription_id = Uuid::now_v7();
    let audit = AuditContext::system("nightly-1", "subscriptions");
    let (a, b) = tokio::join!(
        world
            .placement
            .place(&audit, world.subscription_request(subscription_id), None),
        world
            .placement
            .place(&audit, world.subscription_request(subscription_id), None),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.order.order_id, b.order.order_id);
    assert!(a.created != b.created, "one wrote it, the other found it");
    assert_eq!(world.orders().await.len(), 1);
    assert_eq!(world.started().len(), 1);
}

//! The shop: catalog, stock and customers, and placing one order.

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;

use super::{DATES, LINES, PINCODE, STOCK, VENDOR};
use axum::body::Body;
use chrono::{Days, NaiveDate, Utc};
use http::Request;
use milkrun_domain::Effects;
use milkrun_domain::inventory::{StockKey, StockOperation};
use milkrun_domain::order::OrderStatus;
use milkrun_domain::ports::{StockAdjustments, UserRegistry};
use milkrun_domain::user::{Address, ClientOrigin, NewUser, User};
use milkrun_domain::values::{
    AddressLabel, Email, Password, PasswordHash, PersonName, Phone, Pincode, Role,
};
use milkrun_platform::Adapters;
use milkrun_store::Stores;
use milkrun_tool::demo::{self, demo_id};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;

pub(crate) struct Shop {
    pub(crate) app: axum::Router,
    pub(crate) stores: Stores,
    pub(crate) tokens: Vec<String>,
    pub(crate) lines: Vec<(Uuid, Uuid)>,
    pub(crate) today: NaiveDate,
    pub(crate) next: AtomicUsize,
    pub(crate) run: Uuid,
}

/// A temporary data folder, removed when dropped.
pub(crate) struct TempData(pub(crate) PathBuf);

impl TempData {
    pub(crate) fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("milkrun-bench-checkout-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempData {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo catalog, the lines' stock at the vendor, and `customers` complete customers
/// (written through `stores`), with an access token each.
pub(crate) async fn stock_the_shop(
    stores: &Stores,
    adapters: &Adapters,
    customers: usize,
    lines: usize,
) -> (Vec<String>, Vec<(Uuid, Uuid)>) {
    demo::load(stores).await.unwrap();
    let vendor_id = demo_id("vendor", VENDOR);
    let lines: Vec<(Uuid, Uuid)> = LINES[..lines]
        .iter()
        .map(|(product, variant)| {
            (
                demo_id("product", product),
                demo_id("variant", &format!("{product}/{variant}")),
            )
        })
        .collect();
    for &(product_id, variant_id) in &lines {
        let key = StockKey {
            vendor_id,
            product_id,
            variant_id,
        };
        stores
            .stock
            .adjust(&key, StockOperation::Set(STOCK), None, &|_, _| {
                Effects::none()
            })
            .await
            .unwrap();
    }
    let hash = bench_password_hash();
    let signer = adapters.keys.signer().unwrap();
    let run = Uuid::now_v7().simple().to_string();
    let mut tokens = Vec::with_capacity(customers);
    for n in 0..customers {
        let user = bench_user(
            &format!("bench-{n}-{}", &run[20..]),
            n,
            Role::Customer,
            &hash,
        );
        stores.users.create(&user, &Effects::none()).await.unwrap();
        tokens.push(
            signer
                .issue_access(user.user_id, Role::Customer, None)
                .unwrap(),
        );
    }
    (tokens, lines)
}

/// An admin account, written through `stores`, and its access token.
pub(crate) async fn admin_token(stores: &Stores, adapters: &Adapters) -> String {
    let run = Uuid::now_v7().simple().to_string();
    let user = bench_user(
        &format!("bench-admin-{}", &run[20..]),
        0,
        Role::Admin,
        &bench_password_hash(),
    );
    stores.users.create(&user, &Effects::none()).await.unwrap();
    let signer = adapters.keys.signer().unwrap();
    signer
        .issue_access(user.user_id, Role::Admin, None)
        .unwrap()
}

fn bench_password_hash() -> PasswordHash {
    milkrun_auth::PasswordHasher::new()
        .hash(&Password::parse("bench customer password").unwrap())
        .unwrap()
}

/// A complete account of `role` (`local`@milkrun.test, with a home address in the
/// bench's pincode), not yet written.
fn bench_user(local: &str, n: usize, role: Role, hash: &PasswordHash) -> User {
    let new = NewUser {
        email: Email::parse(&format!("{local}@milkrun.test")).unwrap(),
        name: PersonName::parse(&format!("Bench User {n}")).unwrap(),
        phone: Some(Phone::parse(&format!("+9198450{:05}", n % 100_000)).unwrap()),
        role,
    };
    let mut user = User::register(new, hash.clone(), &ClientOrigin::default(), Utc::now());
    user.put_address(Address {
        label: AddressLabel::parse("home").unwrap(),
        line1: format!("{n} Bench Road, Koramangala"),
        line2: None,
        city: "Bengaluru".into(),
        state: "Karnataka".into(),
        pincode: Pincode::parse(PINCODE).unwrap(),
        country: "IN".into(),
        is_default: true,
    })
    .unwrap();
    user.refresh_profile_completeness();
    assert!(user.is_profile_complete);
    user
}

/// Today in the platform's time zone (Asia/Kolkata, UTC+5:30).
pub(crate) fn today_in_kolkata() -> NaiveDate {
    (Utc::now() + chrono::TimeDelta::minutes(330)).date_naive()
}

impl Shop {
    /// The shop over `adapters`' whole router, reading its orders from `stores`, with the
    /// customers' `tokens` and the `lines` on sale; dates counted from today in Kolkata.
    pub(crate) fn open(
        adapters: &Adapters,
        stores: Stores,
        tokens: Vec<String>,
        lines: Vec<(Uuid, Uuid)>,
    ) -> Self {
        Shop {
            app: milkrun_registry::app(adapters),
            stores,
            tokens,
            lines,
            today: today_in_kolkata(),
            next: AtomicUsize::new(0),
            run: Uuid::now_v7(),
        }
    }

    /// The `n`th order's request: its customer (round robin, each at most
    /// [`ORDERS_PER_CUSTOMER`] orders in the run), date and slot spread out.
    ///
    /// [`ORDERS_PER_CUSTOMER`]: super::ORDERS_PER_CUSTOMER
    pub(crate) fn request(&self, n: usize) -> Request<Body> {
        let token = &self.tokens[n % self.tokens.len()];
        let date = self.today + Days::new(2 + (n as u64 % DATES));
        let items: Vec<Value> = self
            .lines
            .iter()
            .map(|(p, v)| json!({"productId": p, "variantId": v, "quantity": 1}))
            .collect();
        let body = json!({
            "items": items,
            "deliveryDate": date.to_string(),
            "deliverySlot": if n.is_multiple_of(2) { "MORNING" } else { "EVENING" },
            "paymentMethod": "UPI",
        });
        Request::builder()
            .method("POST")
            .uri("/orders")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                format!("bench-{}-{n}", self.run.simple()),
            )
            .body(Body::from(body.to_string()))
            .unwrap()
    }
}

/// POSTs the request; answers the order id, or what went wrong.
pub(crate) async fn place(app: &axum::Router, request: Request<Body>) -> Result<Uuid, String> {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    if status != http::StatusCode::CREATED {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    let answer: Value = serde_json::from_slice(&body).unwrap();
    answer["orderId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| format!("no orderId in {answer}"))
}

pub(crate) fn confirmed(status: OrderStatus) -> Option<bool> {
    use OrderStatus::*;
    match status {
        Confirmed | Preparing | OutForDelivery | Delivered => Some(true),
        Failed | PaymentFailed | OnHold | Cancelled | Refunded => Some(false),
        Pending | PaymentPending => None,
    }
}

//! DynamoDB calls per request for each catalog route: the real product, vendor and
//! inventory routers over the real DynamoDB adapters (on moto, tables from template.yaml),
//! with an SDK interceptor counting every call that goes on the wire, retries included.
//! Run through `scripts/emulated/run.py bench-calls`, which provides the tables.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use axum::body::Body;
use http::Request;
use milkrun_auth::KeyRing;
use milkrun_aws::DynamoDbItemStore;
use milkrun_domain::ports::UserLookup;
use milkrun_domain::values::Email;
use milkrun_local::OutboxMailer;
use milkrun_platform::{Adapters, Settings};
use milkrun_store::Stores;
use milkrun_store::table::{ALL, DEAD_LETTERS};
use milkrun_tool::demo::{self, demo_id};
use serde_json::json;
use tower::ServiceExt as _;

type Calls = Arc<Mutex<BTreeMap<String, usize>>>;

/// Counts DynamoDB operations by their `X-Amz-Target` (one per HTTP call to DynamoDB).
#[derive(Debug, Clone, Default)]
struct CountCalls(Calls);

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown")
            .trim_start_matches("DynamoDB_20120810.")
            .to_owned();
        *self.0.lock().unwrap().entry(target).or_default() += 1;
        Ok(())
    }
}

pub async fn run() {
    let counter = CountCalls::default();
    let sdk = milkrun_aws::sdk_config().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    // Every table the template declares (dead letters are local only), named by the
    // variables run.py bench-calls sets.
    let tables: Vec<_> = ALL
        .into_iter()
        .filter(|t| t.name != DEAD_LETTERS.name)
        .collect();
    let items = DynamoDbItemStore::from_env(client, &tables)
        .expect("tables: run via scripts/emulated/run.py bench-calls");
    let keys = Arc::new(KeyRing::derived(b"bench-secret-bench-secret-bench-secret", 3600).unwrap());
    let outbox = std::env::temp_dir().join(format!("milkrun-bench-{}", uuid::Uuid::now_v7()));
    let stores = Stores::over(Arc::new(items));
    let gateway = Arc::new(milkrun_checkout::SimulatedGateway::new());
    let ports = milkrun_checkout::CheckoutPorts::from_stores(&stores, gateway.clone());
    let tasks = milkrun_checkout::CheckoutTasks::new(ports, Default::default());
    let adapters = Adapters {
        checkout: Arc::new(milkrun_local::LocalCheckoutRunner::new(Arc::new(tasks))),
        gateway,
        access: stores.users.clone(),
        stores,
        mailer: Arc::new(OutboxMailer::new(outbox.clone()).unwrap()),
        sms: Arc::new(milkrun_local::SmsOutbox::new(outbox.join("sms"))),
        keys: keys.clone(),
        settings: Settings::default(),
    };
    demo::load(&adapters.stores).await.unwrap();
    let admin = bench_admin(&adapters).await;
    let app = milkrun_registry::app(&adapters);
    let customer = bench_customer(&app, &adapters).await;
    let vendor = demo_id("vendor", "Nandi Dairy Farms");
    let product = demo_id("product", "Toned Milk");
    let variant = demo_id("variant", "Toned Milk/1L");
    let routes: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", "/products".into(), None),
        ("GET", "/products?category=GHEE".into(), None),
        ("GET", "/products?pincode=560034".into(), None),
        (
            "GET",
            "/products?q=milk&pincode=560066&maxPrice=6000".into(),
            None,
        ),
        ("GET", format!("/products/{product}"), None),
        (
            "POST",
            "/products".into(),
            Some(json!({"name": "Bench Lassi", "category": "OTHER",
            "variants": [{"name": "200ml", "price": {"amount": 2500}}], "vendorIds": [vendor]})),
        ),
        (
            "PATCH",
            format!("/products/{product}"),
            Some(json!({"description": "Toned milk, 3% fat."})),
        ),
        ("GET", "/vendors".into(), None),
        ("GET", "/vendors?pincode=560076".into(), None),
        ("GET", format!("/vendors/{vendor}"), None),
        (
            "PATCH",
            format!("/vendors/{vendor}"),
            Some(json!({"rating": 4.7})),
        ),
        ("GET", format!("/inventory?vendorId={vendor}"), None),
        (
            "PUT",
            format!("/inventory/{vendor}/{product}/{variant}"),
            Some(json!({"operation": "ADD", "quantity": 5})),
        ),
        (
            "PUT",
            format!("/inventory/{vendor}/{product}/{variant}"),
            Some(json!({"operation": "SUBTRACT", "quantity": 1000000})),
        ),
    ];
    let line = format!("/cart/items/{product}/{variant}");
    let cart_routes: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", "/cart".into(), None),
        (
            "POST",
            "/cart/items".into(),
            Some(json!({"productId": product, "variantId": variant, "quantity": 2})),
        ),
        ("PATCH", line.clone(), Some(json!({"quantity": 3}))),
        ("GET", "/cart".into(), None),
        ("DELETE", line, None),
        ("DELETE", "/cart".into(), None),
    ];
    let routes = routes.into_iter().map(|(m, p, b)| (m, p, b, &admin)).chain(
        cart_routes
            .into_iter()
            .map(|(m, p, b)| (m, p, b, &customer)),
    );
    println!("| route | status | DynamoDB calls | by operation |\n|---|---|---|---|");
    for (method, path, body, token) in routes {
        counter.0.lock().unwrap().clear();
        let request = Request::builder()
            .method(method)
            .uri(&path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_default())
            .unwrap();
        let status = app.clone().oneshot(request).await.unwrap().status();
        let calls = counter.0.lock().unwrap().clone();
        let total: usize = calls.values().sum();
        let detail: Vec<String> = calls.iter().map(|(op, n)| format!("{op} × {n}")).collect();
        println!(
            "| {method} {path} | {} | {total} | {} |",
            status.as_u16(),
            detail.join(", ")
        );
    }
}

/// A customer registered through the API, and a token for them (carts are customers' own).
async fn bench_customer(app: &axum::Router, adapters: &Adapters) -> String {
    let email = "bench-customer@milkrun.test";
    let body =
        json!({"name": "Bench Customer", "email": email, "password": "bench-customer-password"});
    let request = Request::builder()
        .method("POST")
        .uri("/users/register")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let status = app.clone().oneshot(request).await.unwrap().status();
    assert!(
        status.is_success(),
        "registering the bench customer: {status}"
    );
    token_for(adapters, email).await
}

/// An administrator account and a token for it (authorization reads the account, so the
/// token must name one that exists).
async fn bench_admin(adapters: &Adapters) -> String {
    let email = "bench-admin@milkrun.test";
    milkrun_user::UserService::from_adapters(adapters)
        .ensure_admin(email, "bench-admin-password")
        .await
        .unwrap();
    token_for(adapters, email).await
}

/// An access token for the account registered under `email` (the user service's key).
async fn token_for(adapters: &Adapters, email: &str) -> String {
    let user = adapters
        .stores
        .users
        .by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    let signer = adapters.keys.signer().unwrap();
    signer.issue_access(user.user_id, user.role, None).unwrap()
}

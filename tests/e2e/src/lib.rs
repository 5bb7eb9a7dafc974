//! The HTTP end-to-end suite's client helpers. The suite knows only a base URL:
//! `scripts/e2e-local.sh` runs it against `milkrun serve`, `scripts/emulated/run.py e2e`
//! against the real function binaries on emulated AWS.

use std::sync::OnceLock;

pub use reqwest::{Client, Method, StatusCode};
pub use serde_json::{Value, json};
pub use uuid::Uuid;

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the suite through scripts/test.sh"))
}

pub fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| env("MILKRUN_E2E_BASE_URL").trim_end_matches('/').to_owned())
}

pub fn client() -> Client {
    Client::builder().user_agent("milkrun-e2e").build().unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn call(method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let mut request = client().request(method, format!("{}{path}", base()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    reply(request).await
}

pub async fn reply(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.body["errorCode"], code, "{}", reply.text);
    for field in ["errorMessage", "timestamp", "requestId"] {
        assert!(
            reply.body[field].is_string(),
            "{field} missing: {}",
            reply.text
        );
    }
}

/// A 400 `VALIDATION_ERROR` whose details name each of `fields`.
pub fn assert_fields(reply: &Reply, fields: &[&str]) {
    assert_error(reply, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    for field in fields {
        assert!(
            reply.body["details"]["fields"][field].is_string(),
            "{field} not named: {}",
            reply.text
        );
    }
}

/// A cursor the listing did not issue names no page: 404, naming `cursor`.
pub fn assert_unknown_cursor(reply: &Reply) {
    assert_error(reply, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert!(
        reply.body["details"]["fields"]["cursor"].is_string(),
        "cursor not named: {}",
        reply.text
    );
}

pub fn unique_email() -> String {
    format!("user-{}@E2E.milkrun.test", Uuid::new_v4().simple())
}

pub async fn register(email: &str) -> Reply {
    let body = json!({"name": "Asha Rao", "email": email, "password": "correct horse battery", "role": "ADMIN", "orderCount": 99});
    call(Method::POST, "/users/register", None, Some(body)).await
}

pub async fn login(email: &str, password: &str) -> Reply {
    call(
        Method::POST,
        "/users/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

pub async fn new_customer() -> (String, String) {
    let email = unique_email();
    assert_eq!(register(&email).await.status, StatusCode::CREATED);
    let reply = login(&email, "correct horse battery").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    (
        reply.body["userId"].as_str().unwrap().to_owned(),
        reply.body["token"].as_str().unwrap().to_owned(),
    )
}

pub async fn admin_token() -> String {
    let reply = login(
        &env("MILKRUN_E2E_ADMIN_EMAIL"),
        &env("MILKRUN_E2E_ADMIN_PASSWORD"),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "admin bootstrap: {}",
        reply.text
    );
    assert_eq!(reply.body["role"], "ADMIN");
    reply.body["token"].as_str().unwrap().to_owned()
}

pub fn assert_no_secrets(text: &str) {
    for leak in [
        "passwordHash",
        "password_hash",
        "$argon2",
        "correct horse battery",
    ] {
        assert!(!text.contains(leak), "response leaks {leak}: {text}");
    }
}

/// A pincode no other test uses.
pub fn fresh_pincode() -> String {
    (100_000 + Uuid::new_v4().as_u128() % 900_000).to_string()
}

pub fn vendor_body(areas: &[&str]) -> Value {
    json!({"name": "Nandi Dairy", "email": "orders@nandi.example", "phone": "+91 80 4000 1234",
           "address": "4 Dairy Circle, Bengaluru", "serviceAreas": areas, "rating": 4.5,
           "capacity": {"dailyOrderLimit": 300}})
}

pub async fn create_vendor(admin: &str, areas: &[&str]) -> Value {
    let created = call(
        Method::POST,
        "/vendors",
        Some(admin),
        Some(vendor_body(areas)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body
}

/// A fresh user given `role` by the admin; logs in again so the token carries it.
pub async fn user_with_role(admin: &str, role: &str, vendor_id: Option<&str>) -> String {
    let email = unique_email();
    let user_id = register(&email).await.body["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = call(
        Method::PATCH,
        &format!("/users/{user_id}"),
        Some(admin),
        Some(json!({"role": role, "vendorId": vendor_id})),
    )
    .await;
    assert_eq!(change.status, StatusCode::OK, "{}", change.text);
    login(&email, "correct horse battery").await.body["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

//! The user router in process (`oneshot`) over the embedded adapters: what a black-box
//! client cannot see, such as the events published and the mail sent.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, StatusCode};
use milkrun_auth::JwtKeys;
use milkrun_domain::audit::AuditTrail;
use milkrun_domain::events::EventType;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::AuditLog;
use milkrun_local::{Database, InProcessBus, OutboxMailer, SqliteAuditLog, SqliteUsers};
use milkrun_user::{MailSettings, UserService};
use serde_json::{Value, json};
use tower::ServiceExt as _;

struct Harness {
    app: Router,
    bus: InProcessBus,
    audit: Arc<SqliteAuditLog>,
    outbox: tempfile::TempDir,
    service: UserService,
}

fn harness() -> Harness {
    let keys = Arc::new(JwtKeys::new(b"router-test-secret-router-test-secret", 3600).unwrap());
    let bus = InProcessBus::new();
    let outbox = tempfile::tempdir().unwrap();
    let mailer = Arc::new(OutboxMailer::new(outbox.path().to_path_buf()).unwrap());
    let db = Database::in_memory().unwrap();
    let store = Arc::new(SqliteUsers::new(db.clone()));
    let audit = Arc::new(SqliteAuditLog::new(db));
    let mail = MailSettings {
        verify_email_url: "https://milkrun.test/verify?token=".into(),
    };
    let service = UserService::new(
        store,
        Arc::new(bus.clone()),
        mailer,
        keys.clone(),
        mail,
        AuditTrail::new(audit.clone()),
    );
    let app = milkrun_http::app(milkrun_user::api(service.clone()), keys);
    Harness {
        app,
        bus,
        audit,
        outbox,
        service,
    }
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    ip: [u8; 4],
    body: Value,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("user-agent", "router-test")
        .body(Body::from(body.to_string()))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 4000))));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

const HOME: [u8; 4] = [10, 0, 0, 1];

async fn register(app: &Router, email: &str) -> Value {
    let body = json!({"name": "Asha", "email": email, "password": "correct horse battery"});
    let (status, reply) = send(app, "POST", "/users/register", HOME, body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    reply
}

fn outbox_messages(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

#[tokio::test]
async fn welcome_mail_carries_a_token_that_verifies_the_email() {
    let h = harness();
    let user = register(&h.app, "verify@milkrun.test").await;
    let mail = outbox_messages(h.outbox.path())
        .pop()
        .expect("a welcome mail");
    assert!(mail.starts_with("To: verify@milkrun.test\n"), "{mail}");
    let token = mail
        .split("https://milkrun.test/verify?token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let (status, reply) = send(
        &h.app,
        "POST",
        "/users/verify-email",
        HOME,
        json!({"token": token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply,
        json!({"userId": user["userId"], "emailVerified": true})
    );
}

#[tokio::test]
async fn registration_and_logins_publish_user_events_and_a_new_device_is_suspicious() {
    let h = harness();
    register(&h.app, "events@milkrun.test").await;
    let login = json!({"email": "events@milkrun.test", "password": "correct horse battery"});
    assert_eq!(
        send(&h.app, "POST", "/users/login", HOME, login.clone())
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&h.app, "POST", "/users/login", [192, 168, 7, 7], login)
            .await
            .0,
        StatusCode::OK
    );
    let kinds: Vec<EventType> = h.bus.published().iter().map(|e| e.event_type).collect();
    use EventType::*;
    assert_eq!(
        kinds,
        [UserRegistered, UserLoggedIn, UserLoggedIn, SuspiciousLogin],
        "the first login is from the registering device"
    );
    let user_id = h.bus.published()[0].data["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let trail = h
        .audit
        .for_entity(&user_id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["USER_LOGGED_IN", "USER_LOGGED_IN", "USER_REGISTERED"],
        "newest first"
    );
    assert_eq!(
        (trail[0].ip.as_str(), trail[0].user_agent.as_str()),
        ("192.168.7.7", "router-test")
    );
    assert_eq!(trail[2].user_id.map(|id| id.to_string()), Some(user_id));
    let suspicious = h.bus.published().pop().unwrap();
    assert_eq!(suspicious.data["ip"], "192.168.7.7");
    let everything = serde_json::to_string(&h.bus.published()).unwrap();
    assert!(
        !everything.contains("correct horse") && !everything.contains("$argon2"),
        "events carry no secrets"
    );
}

#[tokio::test]
async fn admin_bootstrap_is_idempotent_and_admins_cannot_demote_themselves() {
    let h = harness();
    assert!(
        h.service
            .ensure_admin("root@milkrun.test", "root-password-1")
            .await
            .unwrap()
    );
    assert!(
        !h.service
            .ensure_admin("ROOT@milkrun.test", "root-password-1")
            .await
            .unwrap()
    );
    let (status, login) = send(
        &h.app,
        "POST",
        "/users/login",
        HOME,
        json!({"email": "root@milkrun.test", "password": "root-password-1"}),
    )
    .await;
    assert_eq!(
        (status, login["role"].as_str()),
        (StatusCode::OK, Some("ADMIN"))
    );
    let request = Request::builder()
        .method("PATCH")
        .uri(format!("/users/{}", login["userId"].as_str().unwrap()))
        .header(
            "authorization",
            format!("Bearer {}", login["token"].as_str().unwrap()),
        )
        .body(Body::from(r#"{"role":"CUSTOMER"}"#))
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

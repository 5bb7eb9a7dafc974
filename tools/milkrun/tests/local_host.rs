//! The whole local host in process (`oneshot` requests into the merged router, the outbox
//! relay and the bus running): what a black-box client cannot see, such as the events
//! delivered, the mail sent, retries and the dead-letter list.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, StatusCode};
use milkrun_domain::events::{EventEnvelope, EventType, Topic};
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{AuditLog, DeadLetters, EventHandler};
use milkrun_domain::{DomainError, StoreError};
use milkrun_local::{Database, LocalHost, RetryPolicy};
use milkrun_platform::Settings;
use milkrun_user::UserService;
use serde_json::{Value, json};
use tower::ServiceExt as _;

struct Harness {
    app: Router,
    host: LocalHost,
    data: tempfile::TempDir,
    service: UserService,
}

const FAST: RetryPolicy = RetryPolicy {
    attempts: 3,
    first_pause: Duration::from_millis(5),
};

/// A host over a fresh data folder, consumers subscribed, and the relay running.
fn settings() -> Settings {
    Settings {
        verify_email_url: "https://milkrun.test/verify?token=".into(),
        ..Settings::default()
    }
}

async fn harness() -> Harness {
    let data = tempfile::tempdir().unwrap();
    let host = LocalHost::over(
        Database::in_memory().unwrap(),
        data.path(),
        settings(),
        FAST,
    )
    .await
    .unwrap();
    host.subscribe(&milkrun_registry::CONSUMERS);
    host.start_relay();
    let app = milkrun_registry::app(&host.adapters);
    let service = UserService::from_adapters(&host.adapters);
    Harness {
        app,
        host,
        data,
        service,
    }
}

/// Waits (up to 10 s) until `ready` holds: deliveries are asynchronous.
async fn eventually<T>(ready: impl AsyncFnMut() -> Option<T>) -> T {
    let (timeout, every) = (Duration::from_secs(10), Duration::from_millis(50));
    milkrun_testkit::eventually("delivered", timeout, every, ready).await
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
    milkrun_testkit::json_answer(app, request).await
}

const HOME: [u8; 4] = [10, 0, 0, 1];

async fn register(app: &Router, email: &str) -> Value {
    let body = json!({"name": "Asha", "email": email, "password": "correct horse battery"});
    let (status, reply) = send(app, "POST", "/users/register", HOME, body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    reply
}

fn outbox_messages(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[tokio::test]
async fn welcome_mail_carries_a_token_that_verifies_the_email() {
    let h = harness().await;
    let user = register(&h.app, "verify@milkrun.test").await;
    let mail = eventually(async || outbox_messages(h.data.path()).pop()).await;
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
    let token = login_token(&h.app, "verify@milkrun.test").await;
    let kept = get(&h.app, "/notifications", &token).await;
    assert_eq!(
        kept["items"][0]["type"], "WELCOME",
        "the mail is kept as a notification"
    );
    assert_eq!(kept["items"][0]["status"], "SENT");
    assert_eq!(
        outbox_messages(h.data.path()).len(),
        1,
        "one mail, however often delivered"
    );
}

async fn login_token(app: &Router, email: &str) -> String {
    let body = json!({"email": email, "password": "correct horse battery"});
    let (status, reply) = send(app, "POST", "/users/login", HOME, body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["token"].as_str().unwrap().to_owned()
}

async fn get(app: &Router, path: &str, token: &str) -> Value {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn registration_and_logins_publish_user_events_and_a_new_device_is_suspicious() {
    let h = harness().await;
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
    let published = eventually(async || {
        let published = h.host.bus.published();
        (published.len() >= 4).then_some(published)
    })
    .await;
    let kinds: Vec<EventType> = published.iter().map(|e| e.event_type).collect();
    use EventType::*;
    assert_eq!(
        kinds,
        [UserRegistered, UserLoggedIn, UserLoggedIn, SuspiciousLogin],
        "the first login is from the registering device"
    );
    let user_id = published[0].data["userId"].as_str().unwrap().to_owned();
    let trail = h
        .host
        .adapters
        .stores
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
    let suspicious = published.last().unwrap();
    assert_eq!(suspicious.data["ip"], "192.168.7.7");
    let everything =
        serde_json::to_string(&published).unwrap() + &serde_json::to_string(&trail).unwrap();
    assert!(
        !everything.contains("correct horse") && !everything.contains("$argon2"),
        "events carry no secrets"
    );
}

#[tokio::test]
async fn admin_bootstrap_is_idempotent_and_admins_cannot_demote_themselves() {
    let h = harness().await;
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

/// A consumer that fails its first `failures` deliveries.
struct Flaky {
    failures: u32,
    calls: AtomicU32,
}

#[async_trait]
impl EventHandler for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }

    fn wants(&self, event_type: EventType) -> bool {
        event_type == EventType::UserRegistered
    }

    async fn handle(&self, _event: &EventEnvelope) -> Result<(), DomainError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(StoreError::backend_message("flaky", "not today").into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_consumer_is_retried_then_dead_lettered_and_replay_delivers_it_once() {
    let h = harness().await;
    let metrics = milkrun_metrics::testing::capture();
    let flaky = Arc::new(Flaky {
        failures: 3,
        calls: AtomicU32::new(0),
    });
    h.host.bus.subscribe(&[Topic::UserEvents], flaky.clone());
    register(&h.app, "flaky@milkrun.test").await;
    let stores = &h.host.adapters.stores;
    let letters = eventually(async || {
        let letters = stores.dead_letters.list(10).await.unwrap();
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3, "tried three times");
    assert_eq!(
        (
            letters.len(),
            letters[0].consumer.as_str(),
            letters[0].attempts
        ),
        (1, "flaky", 3)
    );
    assert_eq!(letters[0].event.event_type, EventType::UserRegistered);
    assert_eq!(
        outbox_messages(h.data.path()).len(),
        1,
        "the other consumer was not held up"
    );
    assert_eq!(metrics.count("DeadLettered", &[("consumer", "flaky")]), 1);
    assert_eq!(
        metrics.count("NotificationsSent", &[("channel", "EMAIL")]),
        1
    );
    let report = milkrun_local::replay(&h.host.bus).await.unwrap();
    assert_eq!((report.replayed, report.failed), (1, 0));
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 4, "delivered on replay");
    assert!(stores.dead_letters.list(10).await.unwrap().is_empty());
    let again = milkrun_local::replay(&h.host.bus).await.unwrap();
    assert_eq!(
        (again.replayed, again.failed),
        (0, 0),
        "nothing left to replay"
    );
}

#[tokio::test]
async fn events_committed_while_no_relay_runs_are_delivered_when_one_starts() {
    let data = tempfile::tempdir().unwrap();
    let db_path = data.path().join("milkrun.db");
    let open = async || {
        let db = Database::open(&db_path).unwrap();
        LocalHost::over(db, data.path(), settings(), FAST)
            .await
            .unwrap()
    };
    {
        // A server that commits registrations and dies before delivering any of them.
        let host = open().await;
        let app = milkrun_registry::app(&host.adapters);
        for i in 0..5 {
            register(&app, &format!("late-{i}@milkrun.test")).await;
        }
        assert!(outbox_messages(data.path()).is_empty(), "no relay ran");
    }
    let host = open().await;
    host.subscribe(&milkrun_registry::CONSUMERS);
    host.start_relay();
    let mails = eventually(async || {
        let mails = outbox_messages(data.path());
        (mails.len() == 5).then_some(mails)
    })
    .await;
    for i in 0..5 {
        assert!(
            mails
                .iter()
                .any(|m| m.starts_with(&format!("To: late-{i}@milkrun.test\n")))
        );
    }
}

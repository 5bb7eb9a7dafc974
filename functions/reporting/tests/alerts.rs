//! Admin alerts as the local host runs them (the in-process bus routing by topic, the SQLite
//! store): what reaches the admin-alerts topic is kept once and listed by `GET /alerts`
//! (every alert or one type's, since an instant, newest first, in pages) to managers and
//! admins only; the same event type on its own topic is no alert.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeDelta, Utc};
use milkrun_domain::events::*;
use milkrun_domain::money::Money;
use milkrun_domain::ports::{AdminAlerts, DeadLetters, EventPublisher};
use milkrun_domain::values::Role;
use milkrun_local::{Database, LocalHost, RetryPolicy};
use milkrun_platform::Settings;
use milkrun_reporting::ALERTS_CONSUMER;
use serde_json::Value;
use uuid::Uuid;

async fn host() -> (LocalHost, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let retry = RetryPolicy {
        attempts: 1,
        first_pause: Duration::from_millis(1),
    };
    let host = LocalHost::over(
        Database::in_memory().unwrap(),
        data.path(),
        Settings::default(),
        retry,
    )
    .await
    .unwrap();
    host.subscribe(&[&ALERTS_CONSUMER]);
    (host, data)
}

async fn publish(host: &LocalHost, event: &EventEnvelope) {
    host.bus.publish(event).await.unwrap();
    let letters = host.adapters.stores.dead_letters.list(10).await.unwrap();
    assert_eq!(letters, vec![], "{:?} failed", event.event_type);
}

fn low_stock() -> LowStock {
    LowStock {
        vendor_id: Uuid::now_v7(),
        product_id: Uuid::now_v7(),
        variant_id: Uuid::now_v7(),
        stock: 1,
        reserved: 0,
        low_stock_threshold: 5,
    }
}

fn fraud() -> FraudSuspected {
    FraudSuspected {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        total: Money::inr(9_000_000),
        reasons: vec!["total above the fraud limit".into()],
    }
}

/// An event that occurred `minutes` ago.
fn aged(mut event: EventEnvelope, minutes: i64) -> EventEnvelope {
    event.occurred_at = Utc::now() - TimeDelta::minutes(minutes);
    event
}

fn app(host: &LocalHost) -> Router {
    let adapters = &host.adapters;
    let auth = milkrun_http::Auth {
        keys: adapters.keys.clone(),
        access: adapters.access.clone(),
    };
    milkrun_http::finish((milkrun_reporting::HTTP.api)(adapters), auth)
}

async fn token(host: &LocalHost, role: Role) -> String {
    let email = format!("{}@milkrun.test", Uuid::now_v7().simple());
    let mut user = milkrun_testkit::user(&email, role, Utc::now());
    if role == Role::Vendor {
        user.vendor_id = Some(Uuid::now_v7());
    }
    let users = &host.adapters.stores.users;
    use milkrun_domain::ports::UserRegistry as _;
    users
        .create(&user, &milkrun_domain::Effects::none())
        .await
        .unwrap();
    let signer = host.adapters.keys.signer().unwrap();
    signer
        .issue_access(user.user_id, role, user.vendor_id)
        .unwrap()
}

async fn get(app: &Router, token: &str, path: &str) -> (StatusCode, Value) {
    let request = Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    milkrun_testkit::json_answer(app, request).await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["eventId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn what_reaches_admin_alerts_is_kept_once_and_listed_newest_first_by_type_and_since() {
    let (host, _data) = host().await;
    // LOW_STOCK on its own topic (a vendor's change) is no alert; the sweep's is.
    let inventory_news = EventEnvelope::new(&low_stock(), "c");
    assert_eq!(inventory_news.topic(), Topic::InventoryEvents);
    publish(&host, &inventory_news).await;
    let swept = aged(EventEnvelope::new(&low_stock(), "c"), 30).on(Topic::AdminAlerts);
    let held = aged(EventEnvelope::new(&fraud(), "c"), 20);
    let older = aged(EventEnvelope::new(&fraud(), "c"), 90);
    for event in [&swept, &held, &older, &held] {
        publish(&host, event).await;
    }
    let alerts = &host.adapters.stores.analytics;
    let again = milkrun_domain::analytics::AnalyticsEvent::of(&held);
    assert!(!alerts.keep(&again).await.unwrap(), "kept once by eventId");

    let app = app(&host);
    let manager = token(&host, Role::Manager).await;
    let (code, all) = get(&app, &manager, "/alerts").await;
    assert_eq!(code, StatusCode::OK, "{all}");
    let want = |events: &[&EventEnvelope]| -> Vec<String> {
        events.iter().map(|e| e.event_id.to_string()).collect()
    };
    assert_eq!(
        ids(&all),
        want(&[&held, &swept, &older]),
        "newest first, once each"
    );
    assert_eq!(all["items"][1]["eventType"], "LOW_STOCK");
    assert_eq!(
        all["items"][0]["data"]["reasons"][0],
        "total above the fraud limit"
    );

    let admin = token(&host, Role::Admin).await;
    let (code, frauds) = get(&app, &admin, "/alerts?type=FRAUD_SUSPECTED").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(ids(&frauds), want(&[&held, &older]));
    let since = (Utc::now() - TimeDelta::minutes(60)).to_rfc3339();
    let since = since.replace('+', "%2B");
    let (_, recent) = get(&app, &admin, &format!("/alerts?since={since}")).await;
    assert_eq!(ids(&recent), want(&[&held, &swept]));
    let path = format!("/alerts?type=FRAUD_SUSPECTED&since={since}");
    assert_eq!(ids(&get(&app, &admin, &path).await.1), want(&[&held]));

    // Pages of one, each resuming where the last ended.
    let (_, first) = get(&app, &admin, "/alerts?limit=1").await;
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let (_, second) = get(&app, &admin, &format!("/alerts?limit=1&cursor={cursor}")).await;
    assert_eq!([ids(&first), ids(&second)].concat(), want(&[&held, &swept]));
    let path = format!("/alerts?type=LOW_STOCK&limit=1&cursor={cursor}");
    let (code, _) = get(&app, &admin, &path).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "a cursor of another listing");
}

#[tokio::test]
async fn customers_and_vendors_are_refused_and_bad_filters_named() {
    let (host, _data) = host().await;
    let app = app(&host);
    for role in [Role::Customer, Role::Vendor] {
        let caller = token(&host, role).await;
        let (code, body) = get(&app, &caller, "/alerts?type=NOPE").await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{role:?}: {body}");
    }
    let admin = token(&host, Role::Admin).await;
    let (code, body) = get(&app, &admin, "/alerts?type=NOPE&since=yesterday").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let named = body.to_string();
    assert!(named.contains("type") && named.contains("since"), "{body}");
}

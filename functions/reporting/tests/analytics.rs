//! The analytics consumer as the local host runs it (the in-process bus, the SQLite store):
//! an event from any topic becomes one AnalyticsEvent under its type and day, however often
//! it is delivered, with no processed-event record beside it.

use std::time::Duration;

use chrono::NaiveDate;
use milkrun_domain::checkout::platform_today;
use milkrun_domain::delivery::DeliveryStatus;
use milkrun_domain::events::*;
use milkrun_domain::money::Money;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{AnalyticsLog, DeadLetters, EventPublisher, ProcessedEvents};
use milkrun_domain::values::DeliverySlot;
use milkrun_local::{Database, LocalHost, RetryPolicy};
use milkrun_platform::Settings;
use milkrun_reporting::ANALYTICS_CONSUMER;
use milkrun_reporting::analytics::CONSUMER_NAME;
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
    host.subscribe(&[&ANALYTICS_CONSUMER]);
    (host, data)
}

async fn publish(host: &LocalHost, event: &EventEnvelope) {
    host.bus.publish(event).await.unwrap();
    let letters = host.adapters.stores.dead_letters.list(10).await.unwrap();
    assert_eq!(letters, vec![], "{:?} failed", event.event_type);
}

/// One event of each topic, with whose it is (LOW_STOCK is no one's).
fn one_per_topic(user_id: Uuid) -> Vec<(EventEnvelope, Option<Uuid>)> {
    let login = LoginSeen {
        user_id,
        ip: "10.0.0.1".into(),
        user_agent: "test".into(),
        region: None,
    };
    let day = NaiveDate::from_ymd_opt(2030, 1, 31).unwrap();
    let delivery = DeliveryNews {
        delivery_id: Uuid::now_v7(),
        order_id: Uuid::now_v7(),
        user_id,
        vendor_id: Uuid::now_v7(),
        status: DeliveryStatus::Scheduled,
        delivery_date: day,
        delivery_slot: DeliverySlot::Morning,
    };
    let low = LowStock {
        vendor_id: Uuid::now_v7(),
        product_id: Uuid::now_v7(),
        variant_id: Uuid::now_v7(),
        stock: 1,
        reserved: 4,
        low_stock_threshold: 5,
    };
    let skipped = SubscriptionDaySkipped {
        subscription_id: Uuid::now_v7(),
        user_id,
        date: day,
        reason: "OUT_OF_STOCK".into(),
        message: "No milk tomorrow.".into(),
    };
    let balance = LowBalance {
        user_id,
        balance: Money::inr(100),
        date: day,
    };
    let fraud = FraudSuspected {
        order_id: Uuid::now_v7(),
        user_id,
        total: Money::inr(9_000_000),
        reasons: vec!["total above the fraud limit".into()],
    };
    vec![
        (EventEnvelope::new(&UserLoggedIn(login), "c"), Some(user_id)),
        (EventEnvelope::new(&skipped, "c"), Some(user_id)),
        (EventEnvelope::new(&balance, "c"), Some(user_id)),
        (
            EventEnvelope::new(&DeliveryScheduled(delivery), "c"),
            Some(user_id),
        ),
        (EventEnvelope::new(&low, "c"), None),
        (EventEnvelope::new(&fraud, "c"), Some(user_id)),
    ]
}

#[tokio::test]
async fn every_topic_reaches_the_log_as_one_entry_per_event() {
    let (host, _data) = host().await;
    let events = one_per_topic(Uuid::now_v7());
    let topics: Vec<Topic> = events.iter().map(|(e, _)| e.topic()).collect();
    assert_eq!(topics, Topic::ALL, "one event on each of the six topics");
    let log = &host.adapters.stores.analytics;
    for (event, user_id) in &events {
        publish(&host, event).await;
        let day = platform_today(event.occurred_at);
        let listed = log
            .of_day(event.event_type, day, &PageRequest::first(10))
            .await
            .unwrap()
            .items;
        assert_eq!(listed.len(), 1, "{:?}", event.event_type);
        let entry = &listed[0];
        assert_eq!(entry.event_id, event.event_id);
        assert_eq!(entry.event_type, event.event_type);
        assert_eq!(entry.user_id, *user_id, "{:?}", event.event_type);
        assert_eq!(entry.data, event.data);
        assert_eq!(entry.occurred_at, event.occurred_at);
    }
}

#[tokio::test]
async fn a_redelivered_event_is_kept_once_with_no_processed_record() {
    let (host, _data) = host().await;
    let (event, _) = one_per_topic(Uuid::now_v7()).remove(1);
    publish(&host, &event).await;
    publish(&host, &event).await;
    let handler = (ANALYTICS_CONSUMER.handler)(&host.adapters);
    handler.handle(&event).await.unwrap();
    let day = platform_today(event.occurred_at);
    let log = &host.adapters.stores.analytics;
    let listed = log
        .of_day(event.event_type, day, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(listed.len(), 1, "three deliveries, one entry");
    let processed = &host.adapters.stores.processed;
    assert!(
        !processed.seen(CONSUMER_NAME, event.event_id).await.unwrap(),
        "the put-if-absent is the dedup: nothing else is written"
    );
}

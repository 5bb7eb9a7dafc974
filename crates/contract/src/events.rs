//! The `EventPublisher` contract. Each adapter supplies a probe that reads back, by its
//! own technology's means, what reached the topic.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use milkrun_domain::events::{EventEnvelope, LoginSeen, SuspiciousLogin, UserLoggedIn};
use milkrun_domain::ports::EventPublisher;
use uuid::Uuid;

/// Reads the envelopes that reached subscribers since the probe was made.
pub trait PublishedProbe: Send + Sync {
    fn received(&self) -> Pin<Box<dyn Future<Output = Vec<EventEnvelope>> + Send + '_>>;
}

fn seen() -> LoginSeen {
    LoginSeen {
        user_id: Uuid::new_v4(),
        ip: "10.0.0.1".into(),
        user_agent: "ünïcode ✓".into(),
        region: Some("IN".into()),
    }
}

/// Waits for `sent` (by their correlation id `marker`) to reach the probe, and holds that
/// each arrived once, unchanged.
async fn arrive_once(probe: &dyn PublishedProbe, marker: &str, sent: &[EventEnvelope]) {
    let mut received = Vec::new();
    for _ in 0..50 {
        received.extend(
            probe
                .received()
                .await
                .into_iter()
                .filter(|e| e.correlation_id == marker),
        );
        if received.len() >= sent.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    received.sort_by_key(|e| e.event_id);
    assert_eq!(received, sent, "every envelope arrives once, unchanged");
}

pub async fn published_events_arrive_whole(
    publisher: Arc<dyn EventPublisher>,
    probe: Arc<dyn PublishedProbe>,
) {
    let marker = Uuid::new_v4().to_string();
    let sent: Vec<EventEnvelope> = vec![
        EventEnvelope::new(&UserLoggedIn(seen()), &marker),
        EventEnvelope::new(&SuspiciousLogin(seen()), &marker),
        EventEnvelope::new(&UserLoggedIn(seen()), &marker),
    ];
    for event in &sent {
        publisher.publish(event).await.unwrap();
    }
    arrive_once(probe.as_ref(), &marker, &sent).await;
}

/// More events than one SNS request takes (ten), published together: each is answered
/// published, in order, and arrives once.
pub async fn events_published_together_arrive_whole(
    publisher: Arc<dyn EventPublisher>,
    probe: Arc<dyn PublishedProbe>,
) {
    let marker = Uuid::new_v4().to_string();
    let sent: Vec<EventEnvelope> = (0..23)
        .map(|_| EventEnvelope::new(&UserLoggedIn(seen()), &marker))
        .collect();
    let outcomes = publisher.publish_all(&sent).await;
    assert_eq!(outcomes.len(), sent.len(), "one outcome an event");
    for outcome in outcomes {
        outcome.unwrap();
    }
    arrive_once(probe.as_ref(), &marker, &sent).await;
}

//! The in-process bus: what SNS topics, SQS queues and Lambda's event source mappings are in
//! AWS, for one local process. A published event is delivered to every consumer subscribed
//! to its topic; a failing delivery is retried with backoff, and after the last attempt the
//! event goes to the dead-letter list (as SQS moves a message to its DLQ after
//! `maxReceiveCount`), from which `milkrun dlq replay` delivers it again.
//! `publish` returns once every delivery has been handled or dead-lettered, so the outbox
//! relay removes an event only when nothing about it can be lost any more.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use milkrun_domain::StoreError;
use milkrun_domain::events::{EventEnvelope, Topic};
use milkrun_domain::notification::DeadLetter;
use milkrun_domain::ports::{DeadLetters, EventHandler, EventPublisher, ProcessedEvents};
use milkrun_platform::delivery::{Delivered, deliver};
use uuid::Uuid;

const KEPT_EVENTS: usize = 10_000;

/// How often a delivery is tried before it is dead-lettered (SQS `maxReceiveCount`), and
/// the first pause between tries (it doubles).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_pause: Duration::from_millis(200),
        }
    }
}

struct Subscription {
    topics: Vec<Topic>,
    handler: Arc<dyn EventHandler>,
}

pub struct InProcessBus {
    subscriptions: Mutex<Vec<Arc<Subscription>>>,
    processed: Arc<dyn ProcessedEvents>,
    dead_letters: Arc<dyn DeadLetters>,
    retry: RetryPolicy,
    published: Mutex<VecDeque<EventEnvelope>>,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl InProcessBus {
    pub fn new(
        processed: Arc<dyn ProcessedEvents>,
        dead_letters: Arc<dyn DeadLetters>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            subscriptions: Mutex::new(Vec::new()),
            processed,
            dead_letters,
            retry,
            published: Mutex::new(VecDeque::new()),
        }
    }

    /// Delivers every later event on `topics` to `handler`.
    pub fn subscribe(&self, topics: &[Topic], handler: Arc<dyn EventHandler>) {
        locked(&self.subscriptions).push(Arc::new(Subscription {
            topics: topics.to_vec(),
            handler,
        }));
    }

    /// The events published so far, oldest first (the last 10,000).
    pub fn published(&self) -> Vec<EventEnvelope> {
        locked(&self.published).iter().cloned().collect()
    }

    /// The consumer named `name`, for a replay.
    pub fn consumer(&self, name: &str) -> Option<Arc<dyn EventHandler>> {
        locked(&self.subscriptions)
            .iter()
            .find(|s| s.handler.name() == name)
            .map(|s| s.handler.clone())
    }

    fn keep(&self, event: &EventEnvelope) {
        let mut published = locked(&self.published);
        if published.len() == KEPT_EVENTS {
            published.pop_front();
        }
        published.push_back(event.clone());
    }

    /// One consumer's delivery: tried `attempts` times, then dead-lettered.
    async fn deliver_to(
        &self,
        handler: &dyn EventHandler,
        event: &EventEnvelope,
    ) -> Result<(), StoreError> {
        let mut pause = self.retry.first_pause;
        let mut last_error = String::new();
        for attempt in 1..=self.retry.attempts {
            match deliver(handler, self.processed.as_ref(), event).await {
                Ok(Delivered::Handled | Delivered::Duplicate | Delivered::NotWanted) => {
                    return Ok(());
                }
                Err(error) => {
                    tracing::warn!(consumer = handler.name(), event_id = %event.event_id, attempt, %error, "delivery failed");
                    last_error = error.to_string();
                }
            }
            if attempt < self.retry.attempts {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        let letter = DeadLetter {
            dead_letter_id: Uuid::now_v7(),
            consumer: handler.name().to_owned(),
            topic: event.topic(),
            event: event.clone(),
            error: last_error,
            attempts: self.retry.attempts,
            failed_at: Utc::now(),
        };
        self.dead_letters.add(&letter).await?;
        milkrun_metrics::dead_lettered(handler.name());
        tracing::error!(consumer = handler.name(), event_id = %event.event_id, dead_letter_id = %letter.dead_letter_id, "delivery dead-lettered");
        Ok(())
    }
}

#[async_trait]
impl EventPublisher for InProcessBus {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError> {
        self.keep(event);
        let topic = event.topic();
        tracing::info!(event_type = event.event_type.as_str(), topic = topic.name(), event_id = %event.event_id, "event published");
        let subscribers: Vec<Arc<Subscription>> = locked(&self.subscriptions)
            .iter()
            .filter(|s| s.topics.contains(&topic))
            .cloned()
            .collect();
        let deliveries = subscribers
            .iter()
            .map(|s| self.deliver_to(s.handler.as_ref(), event));
        futures::future::try_join_all(deliveries).await?;
        Ok(())
    }
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    pub replayed: usize,
    pub failed: usize,
}

/// Delivers every dead letter again, once each, to the consumer it failed in; a letter
/// that is delivered leaves the list, one that fails again stays.
pub async fn replay(bus: &InProcessBus) -> Result<ReplayReport, StoreError> {
    let mut report = ReplayReport::default();
    for letter in bus.dead_letters.list(1000).await? {
        let Some(handler) = bus.consumer(&letter.consumer) else {
            tracing::error!(
                consumer = letter.consumer,
                "no such consumer; the letter stays"
            );
            report.failed += 1;
            continue;
        };
        match deliver(handler.as_ref(), bus.processed.as_ref(), &letter.event).await {
            Ok(_) => {
                bus.dead_letters.remove(letter.dead_letter_id).await?;
                report.replayed += 1;
            }
            Err(error) => {
                tracing::error!(dead_letter_id = %letter.dead_letter_id, %error, "replay failed; the letter stays");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

//! The in-process event bus: what SNS topics are in AWS, for one local process.
//! Every published event is kept (bounded) so that tools and tests can see what happened.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use milkrun_domain::StoreError;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::ports::EventPublisher;

const KEPT_EVENTS: usize = 10_000;

/// Something that reacts to published events (a local stand-in for an SQS consumer).
#[async_trait]
pub trait EventHandler: Send + Sync {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), StoreError>;
}

#[derive(Clone, Default)]
pub struct InProcessBus {
    published: Arc<Mutex<VecDeque<EventEnvelope>>>,
    handlers: Arc<Mutex<Vec<Arc<dyn EventHandler>>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&self, handler: Arc<dyn EventHandler>) {
        self.handlers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(handler);
    }

    /// The events published so far, oldest first.
    pub fn published(&self) -> Vec<EventEnvelope> {
        self.published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl EventPublisher for InProcessBus {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError> {
        {
            let mut published = self
                .published
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if published.len() == KEPT_EVENTS {
                published.pop_front();
            }
            published.push_back(event.clone());
        }
        tracing::info!(event_type = event.event_type.as_str(), topic = event.topic().name(), event_id = %event.event_id, "event published");
        let handlers = self
            .handlers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for handler in handlers {
            let event = event.clone();
            // Like SNS: the publisher does not wait for, or fail with, its consumers.
            tokio::spawn(async move {
                if let Err(error) = handler.handle(&event).await {
                    tracing::error!(%error, event_id = %event.event_id, "event handler failed");
                }
            });
        }
        Ok(())
    }
}

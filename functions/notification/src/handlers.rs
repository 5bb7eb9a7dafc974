//! One consumer made of several handlers: a queue feeds one handler per function, which
//! gives each event to every part that wants it.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::DomainError;
use milkrun_domain::events::{EventEnvelope, EventType};
use milkrun_domain::ports::EventHandler;

pub struct Handlers {
    name: &'static str,
    parts: Vec<Arc<dyn EventHandler>>,
}

impl Handlers {
    /// `parts` under one consumer `name` (what its dead letters, and any processed-event
    /// records, are kept under).
    pub fn new(name: &'static str, parts: Vec<Arc<dyn EventHandler>>) -> Self {
        Self { name, parts }
    }
}

#[async_trait]
impl EventHandler for Handlers {
    fn name(&self) -> &'static str {
        self.name
    }

    fn wants(&self, event_type: EventType) -> bool {
        self.parts.iter().any(|part| part.wants(event_type))
    }

    /// Only when every part does: the consumer then keeps no processed-event records (a
    /// read and a write an event, saved).
    fn deduplicates_itself(&self) -> bool {
        self.parts.iter().all(|part| part.deduplicates_itself())
    }

    /// Every part that wants `event`, in order. The first failure fails the delivery, which
    /// is retried whole: each part is idempotent per event, as every handler must be.
    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError> {
        for part in self.parts.iter().filter(|p| p.wants(event.event_type)) {
            part.handle(event).await?;
        }
        Ok(())
    }
}

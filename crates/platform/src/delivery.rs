//! Delivering one event to one consumer, written once for every host: events arrive at
//! least once (SQS, the local bus, a replay), so a consumer skips any event it has
//! processed already, and remembers each one only after handling it; a consumer whose own
//! writes are the dedup (puts-if-absent by ids derived from the event) is handed every
//! delivery instead.

use milkrun_domain::DomainError;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::ports::{EventHandler, ProcessedEvents};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Handled,
    /// Processed before: nothing done again.
    Duplicate,
    /// Not an event type this consumer takes.
    NotWanted,
}

pub async fn deliver(
    handler: &dyn EventHandler,
    processed: &dyn ProcessedEvents,
    event: &EventEnvelope,
) -> Result<Delivered, DomainError> {
    if !handler.wants(event.event_type) {
        return Ok(Delivered::NotWanted);
    }
    if handler.deduplicates_itself() {
        handler.handle(event).await?;
        return Ok(Delivered::Handled);
    }
    let consumer = handler.name();
    if processed.seen(consumer, event.event_id).await? {
        tracing::info!(consumer, event_id = %event.event_id, "duplicate delivery skipped");
        return Ok(Delivered::Duplicate);
    }
    handler.handle(event).await?;
    processed.remember(consumer, event.event_id).await?;
    Ok(Delivered::Handled)
}

//! What a change brings with it: its audit entries and its domain events. A store writes a
//! change and its effects in one transaction, so neither can exist without the other.

use crate::audit::AuditEntry;
use crate::events::{Event, EventEnvelope};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    pub audit: Vec<AuditEntry>,
    pub events: Vec<EventEnvelope>,
}

impl Effects {
    pub fn none() -> Self {
        Self::default()
    }

    /// The effects of one audited change.
    pub fn audited(entry: AuditEntry) -> Self {
        Self {
            audit: vec![entry],
            events: Vec::new(),
        }
    }

    /// Adds an event, carrying the correlation id of the change it follows from.
    pub fn with_event<E: Event>(mut self, event: &E, correlation_id: &str) -> Self {
        self.events.push(EventEnvelope::new(event, correlation_id));
        self
    }

    /// These effects followed by `other`'s, to commit with one change.
    pub fn and(mut self, other: Effects) -> Self {
        self.audit.extend(other.audit);
        self.events.extend(other.events);
        self
    }

    pub fn with_envelope(mut self, envelope: EventEnvelope) -> Self {
        self.events.push(envelope);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.audit.is_empty() && self.events.is_empty()
    }

    /// How many writes these effects add to a transaction.
    pub fn len(&self) -> usize {
        self.audit.len() + self.events.len()
    }
}

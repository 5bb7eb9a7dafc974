//! The audit trail's reads, effects committed on their own, and the outbox as the local
//! relay drains it.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::events::{EventEnvelope, Topic};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{AuditLog, Journal, PendingEvents};
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::effects::{CARRIED_EVENTS, audit_partition, carried_events, commit};
use crate::item::{Item, from_attribute, text};
use crate::ops::{Key, Query, Write};
use crate::paging::list;
use crate::port::ItemStore;
use crate::table::{AUDIT, OUTBOX};

pub struct AuditTrail {
    store: Arc<dyn ItemStore>,
}

impl AuditTrail {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl AuditLog for AuditTrail {
    async fn for_entity(
        &self,
        entity_id: &str,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let query = Query::table(&AUDIT, audit_partition(entity_id)).descending();
        list(self.store.as_ref(), query, page).await
    }
}

#[async_trait]
impl Journal for AuditTrail {
    async fn commit(&self, effects: &Effects) -> Result<(), StoreError> {
        commit(self.store.as_ref(), Vec::new(), effects)
            .await?
            .map_err(|_| StoreError::AlreadyExists)
    }
}

/// An outbox item back as the envelope it carries, routed to the topic it was written for:
/// packed as an audit entry carries events, or (an item written before) as a map beside
/// its topic. The AWS publisher reads the same items from the table's stream.
pub fn decode_outbox_item(mut item: Item) -> Result<EventEnvelope, StoreError> {
    let no_event = || StoreError::backend_message("decoding an outbox item", "no event");
    if item.contains_key(CARRIED_EVENTS) {
        let mut carried = carried_events(&mut item)?;
        return carried
            .pop()
            .filter(|_| carried.is_empty())
            .ok_or_else(no_event);
    }
    let topic = text(&item, "topic").and_then(Topic::parse);
    let event = item.remove("event").ok_or_else(no_event)?;
    let mut envelope: EventEnvelope = from_attribute(event)?;
    if let Some(topic) = topic.filter(|t| *t != envelope.event_type.topic()) {
        envelope = envelope.on(topic);
    }
    Ok(envelope)
}

pub struct Outbox {
    store: Arc<dyn ItemStore>,
}

impl Outbox {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl PendingEvents for Outbox {
    async fn pending(&self, limit: u32) -> Result<Vec<EventEnvelope>, StoreError> {
        let page = self.store.scan(&OUTBOX, limit, None).await?;
        let mut events: Vec<EventEnvelope> = page
            .items
            .into_iter()
            .map(decode_outbox_item)
            .collect::<Result<_, _>>()?;
        // Event ids are UUID v7: their order is the order they were committed in.
        events.sort_by_key(|event| event.event_id);
        Ok(events)
    }

    async fn delivered(&self, event_id: Uuid) -> Result<(), StoreError> {
        let key = Key::partition(format!("EVENT#{event_id}"));
        self.store.write(Write::delete(&OUTBOX, key, None)).await?;
        Ok(())
    }
}

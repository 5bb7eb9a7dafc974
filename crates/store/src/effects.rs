//! How a change's effects are written: its audit entries into the append-only audit table
//! and its events into the outbox, as conditional puts in the change's own transaction.

use chrono::{Duration, SecondsFormat, Utc};
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::{Effects, StoreError};

use crate::item::{attribute, encode, n, s};
use crate::ops::{Condition, Write};
use crate::port::{ItemError, ItemStore};
use crate::table::{AUDIT, OUTBOX};

/// How long a published event stays in the outbox (for inspection) before its TTL.
pub const OUTBOX_RETENTION_DAYS: i64 = 7;

pub fn audit_partition(entity_id: &str) -> String {
    format!("ENTITY#{entity_id}")
}

/// An audit entry's put: a new item, never a replacement.
pub fn audit_write(entry: &AuditEntry) -> Result<Write, StoreError> {
    let mut item = encode(entry)?;
    let at = entry.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    item.insert("pk".into(), s(audit_partition(&entry.entity_id)));
    item.insert("sk".into(), s(format!("{at}#{}", entry.audit_id)));
    Ok(Write::put(&AUDIT, item, Some(Condition::NotExists)))
}

pub fn outbox_partition(event: &EventEnvelope) -> String {
    format!("EVENT#{}", event.event_id)
}

/// An event's outbox put: the envelope, the topic it goes to, and when it expires.
pub fn outbox_write(event: &EventEnvelope) -> Result<Write, StoreError> {
    let mut item = crate::item::Item::default();
    item.insert("pk".into(), s(outbox_partition(event)));
    item.insert("topic".into(), s(event.topic().name()));
    item.insert("eventType".into(), s(event.event_type.as_str()));
    item.insert("event".into(), attribute(event)?);
    let expires = Utc::now() + Duration::days(OUTBOX_RETENTION_DAYS);
    item.insert("expiresAt".into(), n(expires.timestamp()));
    Ok(Write::put(&OUTBOX, item, Some(Condition::NotExists)))
}

/// The writes that carry `effects`.
pub fn effect_writes(effects: &Effects) -> Result<Vec<Write>, StoreError> {
    let audit = effects.audit.iter().map(audit_write);
    let events = effects.events.iter().map(outbox_write);
    audit.chain(events).collect()
}

/// Why a change and its effects were not written.
#[derive(Debug)]
pub enum Refused {
    /// The condition of one of the change's own writes (by its index) did not hold.
    Change(usize),
    /// An effect with the same id exists already (a replayed change).
    Effect,
}

/// Writes `change` and `effects` all or nothing. A lone write goes as a plain conditional
/// write (half the cost of a transaction in DynamoDB).
pub async fn commit(
    store: &dyn ItemStore,
    mut change: Vec<Write>,
    effects: &Effects,
) -> Result<Result<(), Refused>, StoreError> {
    let own = change.len();
    change.extend(effect_writes(effects)?);
    let result = match change.len() {
        0 => Ok(()),
        1 => store.write(change.remove(0)).await.map(|_| ()),
        _ => store.transact(change).await,
    };
    match result {
        Ok(()) => Ok(Ok(())),
        Err(ItemError::ConditionFailed { index }) if index < own => Ok(Err(Refused::Change(index))),
        Err(ItemError::ConditionFailed { .. }) => Ok(Err(Refused::Effect)),
        Err(other) => Err(other.into()),
    }
}

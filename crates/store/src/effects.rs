//! How a change's effects are written, as conditional puts in the change's own transaction:
//! its audit entries into the append-only audit table, carrying its events (the first entry
//! holds them, packed), and events without an audit entry into the outbox. Both tables'
//! streams feed the publisher in AWS; the embedded store hands the carried events to its
//! outbox in the same transaction ([`carried_outbox_writes`]). One item for an entry and
//! its events is one write where there were two, and a change with one entry and no other
//! write is a plain conditional write, not a transaction.

use chrono::{Duration, SecondsFormat, Utc};
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::events::{EventEnvelope, Topic};
use milkrun_domain::{Effects, StoreError};
use serde::{Deserialize, Serialize};

use crate::item::{Item, encode, n, s, text};
use crate::ops::{Condition, Write};
use crate::packed::{pack, unpack_value};
use crate::port::{ItemError, ItemStore};
use crate::table::{AUDIT, OUTBOX};

/// How long a published event stays in the outbox (for inspection) before its TTL.
pub const OUTBOX_RETENTION_DAYS: i64 = 7;

/// The attribute of an audit item that carries its change's events, packed.
pub const CARRIED_EVENTS: &str = "events";

const AUDIT_PREFIX: &str = "ENTITY#";

pub fn audit_partition(entity_id: &str) -> String {
    format!("{AUDIT_PREFIX}{entity_id}")
}

fn audit_item(entry: &AuditEntry) -> Result<Item, StoreError> {
    let mut item = encode(entry)?;
    let at = entry.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    item.insert("pk".into(), s(audit_partition(&entry.entity_id)));
    item.insert("sk".into(), s(format!("{at}#{}", entry.audit_id)));
    Ok(item)
}

pub fn outbox_partition(event: &EventEnvelope) -> String {
    format!("EVENT#{}", event.event_id)
}

/// An event's outbox put: the event packed as an audit entry carries events (with the topic
/// it goes to), its type for whoever looks, and when it expires.
pub fn outbox_write(event: &EventEnvelope) -> Result<Write, StoreError> {
    let mut item = Item::default();
    item.insert("pk".into(), s(outbox_partition(event)));
    item.insert("eventType".into(), s(event.event_type.as_str()));
    item.insert(CARRIED_EVENTS.into(), carried(std::slice::from_ref(event))?);
    let expires = Utc::now() + Duration::days(OUTBOX_RETENTION_DAYS);
    item.insert("expiresAt".into(), n(expires.timestamp()));
    Ok(Write::put(&OUTBOX, item, Some(Condition::NotExists)))
}

/// An event as an audit item carries it: the envelope and the topic it goes to (an admin
/// alert goes elsewhere than its type's topic).
#[derive(Serialize, Deserialize)]
struct Carried {
    topic: String,
    event: EventEnvelope,
}

fn carried(events: &[EventEnvelope]) -> Result<crate::item::Value, StoreError> {
    let carried: Vec<Carried> = (events.iter())
        .map(|event| Carried {
            topic: event.topic().name().to_owned(),
            event: event.clone(),
        })
        .collect();
    pack(&carried)
}

/// Whether `event` may ride in an audit entry: only a fresh event, whose time-ordered id
/// (UUID v7, as `EventEnvelope::new` mints) is unique already. Any other id may have been
/// derived from what the event reports (a daily report's is, v5), so committing it twice
/// must be refused, and its outbox put, only if absent, is that refusal.
fn fresh(event: &EventEnvelope) -> bool {
    event.event_id.get_version_num() == 7
}

/// The writes that carry `effects`: the audit entries, the first carrying the change's new
/// events, and the outbox puts of the others (all of them when no entry is written).
pub fn effect_writes(effects: &Effects) -> Result<Vec<Write>, StoreError> {
    let mut audit: Vec<Item> = effects
        .audit
        .iter()
        .map(audit_item)
        .collect::<Result<_, _>>()?;
    let (mut riding, mut kept): (Vec<EventEnvelope>, Vec<EventEnvelope>) =
        (effects.events.iter().cloned()).partition(fresh);
    match audit.first_mut() {
        Some(first) if !riding.is_empty() => {
            first.insert(CARRIED_EVENTS.into(), carried(&riding)?);
        }
        _ => kept.append(&mut riding),
    }
    let outbox: Vec<Write> = kept.iter().map(outbox_write).collect::<Result<_, _>>()?;
    // An audit entry is a new item, never a replacement.
    let audit =
        (audit.into_iter()).map(|item| Write::put(&AUDIT, item, Some(Condition::NotExists)));
    Ok(audit.chain(outbox).collect())
}

/// The events `item` carries packed (taken out of it), each routed to its topic.
pub fn carried_events(item: &mut Item) -> Result<Vec<EventEnvelope>, StoreError> {
    let Some(packed) = item.remove(CARRIED_EVENTS) else {
        return Ok(Vec::new());
    };
    let carried: Vec<Carried> = unpack_value(&packed)?;
    let envelope = |Carried { topic, event }: Carried| match Topic::parse(&topic) {
        Some(topic) if topic != event.event_type.topic() => event.on(topic),
        _ => event,
    };
    Ok(carried.into_iter().map(envelope).collect())
}

/// The events a new item of the audit or outbox table carries, as their tables' streams
/// hand them to the publisher: an audit entry's (none, or those of its change), or the
/// outbox item's one.
pub fn stream_events(mut item: Item) -> Result<Vec<EventEnvelope>, StoreError> {
    let audited = text(&item, "pk").is_some_and(|pk| pk.starts_with(AUDIT_PREFIX));
    match audited {
        true => carried_events(&mut item),
        false => Ok(vec![crate::journal::decode_outbox_item(item)?]),
    }
}

/// The embedded store's stand-in for the audit table's stream: the outbox puts of the events
/// that `writes` carry in audit items, to commit with them (the relay drains the outbox).
pub fn carried_outbox_writes(writes: &[Write]) -> Result<Vec<Write>, ItemError> {
    let mut outbox = Vec::new();
    for write in writes {
        let Write::Put { table, item, .. } = write else {
            continue;
        };
        if table.name != AUDIT.name || !item.contains_key(CARRIED_EVENTS) {
            continue;
        }
        let events =
            carried_events(&mut item.clone()).map_err(|e| ItemError::Invalid(e.to_string()))?;
        for event in &events {
            outbox.push(outbox_write(event).map_err(|e| ItemError::Invalid(e.to_string()))?);
        }
    }
    Ok(outbox)
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

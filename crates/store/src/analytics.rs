//! The analytics log over the item store: one item per event, keyed by where a day's
//! listing finds it, `<EVENT_TYPE>#<YYYY-MM-DD>` (the day in Asia/Kolkata) / `<occurredAt>#
//! <eventId>`, put only if absent. The key is derived from the event, so that put is the
//! consumer's whole dedup: a redelivered event finds its item and writes nothing, and no
//! processed-event record is kept beside it. `?type=&date=` is one Query of the table itself,
//! newest first: the log needs no index of its own (an index copy was a second write unit
//! an event). Each item expires [`RETENTION_DAYS`] after the event occurred.
//!
//! Hot partitions: one type's day is one partition. At 100,000 orders a day, ORDER_PLACED
//! and its siblings write ~1.2 items a second on average, and the nightly subscription run's
//! burst (every due order placed within minutes) a few hundred a second: under the 1,000
//! write units a second one partition takes (each item is under 1 KB). A burst beyond that
//! would throttle, and SQS then retries; the cure would be a suffix `#<n>` (the event id
//! modulo n) on the key and n Queries merged per page, which is not worth it at this volume.
//!
//! Admin alerts (events that reached the admin-alerts topic) are kept in the same table by
//! their own consumer: two items an alert, put together only if absent (the dedup), listed
//! in the sparse `ByAlert` index, every alert or one type's, newest first, one Query a page.
//! Alerts are few (a daily report, the nightly LOW_STOCK sweep, fraud holds), so the copy
//! costs next to nothing.
//!
//! The table is not marked append-only, although nothing updates or deletes its items: the
//! embedded store sweeps expired items as DynamoDB's TTL does. In AWS the consumer is granted
//! PutItem alone and the reader Query alone.
//!
//! [`RETENTION_DAYS`]: milkrun_domain::analytics::RETENTION_DAYS

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::analytics::AnalyticsEvent;
use milkrun_domain::events::EventType;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{AdminAlerts, AnalyticsLog};

use crate::item::{Item, encode, n, s};
use crate::ops::{Condition, Key, Query, SortCondition, Write};
use crate::paging::list;
use crate::port::{ItemError, ItemStore};
use crate::table::{ANALYTICS, ANALYTICS_BY_ALERT};

pub struct AnalyticsEvents {
    store: Arc<dyn ItemStore>,
}

impl AnalyticsEvents {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

fn type_day_key(event_type: EventType, day: NaiveDate) -> String {
    format!("{}#{}", event_type.as_str(), day.format("%Y-%m-%d"))
}

/// `<occurredAt>#<eventId>`: an entry's place in time (its sort key, and `ByAlert`'s).
fn occurred_key(event: &AnalyticsEvent) -> String {
    let occurred = event
        .occurred_at
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    format!("{occurred}#{}", event.event_id)
}

/// The event under `key`, and when it expires.
fn event_item(event: &AnalyticsEvent, key: Key) -> Result<Item, StoreError> {
    let mut item = encode(event)?;
    key.add_to(&ANALYTICS, &mut item);
    let ttl = ANALYTICS
        .ttl
        .expect("the analytics table expires its items");
    item.insert(ttl.into(), n(event.expires_at().timestamp()));
    Ok(item)
}

/// The entry: in its type's day, at its place in time.
fn entry_item(event: &AnalyticsEvent) -> Result<Item, StoreError> {
    let day = type_day_key(event.event_type, event.day());
    event_item(event, Key::with_sort(day, occurred_key(event)))
}

/// Every alert's partition of `ByAlert`, and one type's.
const ALL_ALERTS: &str = "ALERT";

fn alert_partition(event_type: Option<EventType>) -> String {
    match event_type {
        Some(event_type) => format!("{ALL_ALERTS}#{}", event_type.as_str()),
        None => ALL_ALERTS.to_owned(),
    }
}

/// An alert's two items: `ALERT#<id>` in every alert's partition, `ALERT#<id>#TYPED` in its
/// type's, so that either listing is one Query a page without a filter.
fn alert_items(alert: &AnalyticsEvent) -> Result<[Item; 2], StoreError> {
    let item = |suffix: &str, partition: String| -> Result<Item, StoreError> {
        let key = Key::with_sort(format!("ALERT#{}{suffix}", alert.event_id), "ALERT");
        let mut item = event_item(alert, key)?;
        item.insert(ANALYTICS_BY_ALERT.partition_key.into(), s(partition));
        item.insert(ANALYTICS_BY_ALERT.sort_key.into(), s(occurred_key(alert)));
        Ok(item)
    };
    Ok([
        item("", alert_partition(None))?,
        item("#TYPED", alert_partition(Some(alert.event_type)))?,
    ])
}

#[async_trait]
impl AnalyticsLog for AnalyticsEvents {
    async fn append(&self, event: &AnalyticsEvent) -> Result<bool, StoreError> {
        let put = Write::put(&ANALYTICS, entry_item(event)?, Some(Condition::NotExists));
        match self.store.write(put).await {
            Ok(_) => Ok(true),
            Err(ItemError::ConditionFailed { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    async fn of_day(
        &self,
        event_type: EventType,
        day: NaiveDate,
        page: &PageRequest,
    ) -> Result<Page<AnalyticsEvent>, StoreError> {
        let partition = type_day_key(event_type, day);
        let query = Query::table(&ANALYTICS, partition).descending();
        list(self.store.as_ref(), query, page).await
    }
}

#[async_trait]
impl AdminAlerts for AnalyticsEvents {
    async fn keep(&self, alert: &AnalyticsEvent) -> Result<bool, StoreError> {
        let puts = alert_items(alert)?
            .into_iter()
            .map(|item| Write::put(&ANALYTICS, item, Some(Condition::NotExists)))
            .collect();
        match self.store.transact(puts).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    async fn alerts(
        &self,
        event_type: Option<EventType>,
        since: Option<DateTime<Utc>>,
        page: &PageRequest,
    ) -> Result<Page<AnalyticsEvent>, StoreError> {
        let partition = alert_partition(event_type);
        let mut query = Query::index(&ANALYTICS, &ANALYTICS_BY_ALERT, partition).descending();
        if let Some(since) = since {
            // `<since>` sorts before every key of an event at `since` (`<since>#<id>`).
            let since = since.to_rfc3339_opts(SecondsFormat::Micros, true);
            query = query.sorted(SortCondition::After(since));
        }
        list(self.store.as_ref(), query, page).await
    }
}

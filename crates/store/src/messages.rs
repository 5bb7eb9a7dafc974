//! What consumers keep: notifications per user, the events each consumer has processed
//! (for dedup), and the local dead-letter list.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, SecondsFormat, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::notification::{DeadLetter, Notification};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{DeadLetters, NotificationStore, ProcessedEvents};
use uuid::Uuid;

use crate::item::{decode, encode, n};
use crate::ops::{Condition, Key, Query, Write};
use crate::paging::list;
use crate::port::{ItemError, ItemStore};
use crate::table::{DEAD_LETTERS, NOTIFICATIONS, PROCESSED_EVENTS};

/// How long a consumer remembers an event it processed: longer than any redelivery.
pub const PROCESSED_RETENTION_DAYS: i64 = 14;

pub struct Notifications {
    store: Arc<dyn ItemStore>,
}

impl Notifications {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

fn user_partition(user_id: Uuid) -> String {
    format!("USER#{user_id}")
}

/// Where `notification` is kept: its owner's partition, sorted by time then id.
fn notification_key(notification: &Notification) -> Key {
    let created = notification
        .created_at
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    Key::with_sort(
        user_partition(notification.user_id),
        format!("{created}#{}", notification.notification_id),
    )
}

#[async_trait]
impl NotificationStore for Notifications {
    /// Strongly consistent: this read is the consumers' only guard against a second send
    /// (they deduplicate by it, without processed-event marks), and a duplicate can come
    /// within milliseconds: two copies in one SQS batch, handled one after the other.
    async fn kept(&self, notification: &Notification) -> Result<bool, StoreError> {
        let key = notification_key(notification);
        Ok(self.store.get(&NOTIFICATIONS, &key, true).await?.is_some())
    }

    async fn record(&self, notification: &Notification) -> Result<bool, StoreError> {
        let key = notification_key(notification);
        let mut item = encode(notification)?;
        key.add_to(&NOTIFICATIONS, &mut item);
        match self
            .store
            .write(Write::put(&NOTIFICATIONS, item, Some(Condition::NotExists)))
            .await
        {
            Ok(_) => Ok(true),
            Err(ItemError::ConditionFailed { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    async fn for_user(
        &self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Notification>, StoreError> {
        let query = Query::table(&NOTIFICATIONS, user_partition(user_id)).descending();
        list(self.store.as_ref(), query, page).await
    }
}

pub struct Processed {
    store: Arc<dyn ItemStore>,
}

impl Processed {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

fn processed_key(consumer: &str, event_id: Uuid) -> Key {
    Key::partition(format!("CONSUMER#{consumer}#EVENT#{event_id}"))
}

#[async_trait]
impl ProcessedEvents for Processed {
    async fn seen(&self, consumer: &str, event_id: Uuid) -> Result<bool, StoreError> {
        let key = processed_key(consumer, event_id);
        Ok(self
            .store
            .get(&PROCESSED_EVENTS, &key, true)
            .await?
            .is_some())
    }

    async fn remember(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError> {
        let mut item = processed_key(consumer, event_id).to_item(&PROCESSED_EVENTS);
        let expires = Utc::now() + Duration::days(PROCESSED_RETENTION_DAYS);
        item.insert("expiresAt".into(), n(expires.timestamp()));
        self.store
            .write(Write::put(&PROCESSED_EVENTS, item, None))
            .await?;
        Ok(())
    }
}

pub struct DeadLetterList {
    store: Arc<dyn ItemStore>,
}

impl DeadLetterList {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

const DEAD_LETTER_PARTITION: &str = "DEAD_LETTER";

fn dead_letter_key(dead_letter_id: Uuid) -> Key {
    Key::with_sort(DEAD_LETTER_PARTITION, dead_letter_id.to_string())
}

#[async_trait]
impl DeadLetters for DeadLetterList {
    async fn add(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        let mut item = encode(letter)?;
        dead_letter_key(letter.dead_letter_id).add_to(&DEAD_LETTERS, &mut item);
        self.store
            .write(Write::put(&DEAD_LETTERS, item, Some(Condition::NotExists)))
            .await?;
        Ok(())
    }

    async fn list(&self, limit: u32) -> Result<Vec<DeadLetter>, StoreError> {
        let mut query = Query::table(&DEAD_LETTERS, DEAD_LETTER_PARTITION).consistent();
        query.limit = limit;
        let page = self.store.query(&query).await?;
        page.items.into_iter().map(decode).collect()
    }

    async fn remove(&self, dead_letter_id: Uuid) -> Result<(), StoreError> {
        let key = dead_letter_key(dead_letter_id);
        self.store
            .write(Write::delete(&DEAD_LETTERS, key, None))
            .await?;
        Ok(())
    }
}

//! Subscriptions over the item store: one `SUBSCRIPTION#<id>` item each, saved by
//! compare-and-swap, in three sparse indexes read by one Query per page:
//!
//! - every subscription: `ByCreatedAt`, `listKey` = `SUBSCRIPTION` (administrators);
//! - one customer's: `ByUser`, `userKey` = `USER#<userId>`;
//! - the run's live ones: `ByRun`, `runKey` = `RUN#<shard>`, written only while the
//!   subscription is neither cancelled nor retired after its end date. The nightly run reads
//!   these shards, so its reads follow the live subscriptions, not every one ever made.
//!
//! A customer's vacation is one `VACATION#<userId>` item beside them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::SubscriptionStore;
use milkrun_domain::subscription::{Subscription, Vacation, run_shard};
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::effects::commit;
use crate::item::{Item, attribute, decode, encode, s};
use crate::ops::{Condition, Key, Query, Update, VERSION_ATTRIBUTE, Write};
use crate::paging::list;
use crate::port::ItemStore;
use crate::retry::MAX_ATTEMPTS;
use crate::table::{BY_CREATED_AT, BY_USER, SUBSCRIPTIONS, SUBSCRIPTIONS_BY_RUN};
use crate::versioned::{commit_versioned, list_under, update_versioned, versioned_put};

const LIST_KEY: &str = "SUBSCRIPTION";

pub struct Subscriptions {
    store: Arc<dyn ItemStore>,
}

fn subscription_key(subscription_id: Uuid) -> Key {
    Key::partition(format!("SUBSCRIPTION#{subscription_id}"))
}

fn vacation_key(user_id: Uuid) -> Key {
    Key::partition(format!("VACATION#{user_id}"))
}

fn user_list_key(user_id: Uuid) -> String {
    format!("USER#{user_id}")
}

fn run_key(shard: u32) -> String {
    format!("RUN#{shard:02}")
}

/// Whether the run still reads it: not cancelled, and not past the end of its last run.
fn in_run(subscription: &Subscription) -> bool {
    let after_last_run = subscription
        .last_generated_for
        .map_or(subscription.start_date, |last| {
            last.succ_opt().unwrap_or(last)
        });
    subscription.is_live_on(after_last_run)
}

fn subscription_item(subscription: &Subscription) -> Result<Item, StoreError> {
    let mut item = encode(subscription)?;
    subscription_key(subscription.subscription_id).add_to(&SUBSCRIPTIONS, &mut item);
    let (created, id) = (subscription.created_at, subscription.subscription_id);
    list_under(&mut item, LIST_KEY, created, id);
    let user_key = user_list_key(subscription.user_id);
    item.insert(BY_USER.partition_key.into(), s(user_key));
    if in_run(subscription) {
        let shard = run_key(run_shard(subscription.user_id));
        item.insert(SUBSCRIPTIONS_BY_RUN.partition_key.into(), s(shard));
    }
    Ok(item)
}

impl Subscriptions {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// Marks `current` as run for `date` if it is still at its version (`false`: it is not).
    async fn try_mark(&self, current: &Subscription, date: NaiveDate) -> Result<bool, StoreError> {
        let marked = Subscription {
            last_generated_for: Some(date),
            ..current.clone()
        };
        let mut updates = vec![
            Update::set("lastGeneratedFor", attribute(&date)?),
            Update::add(VERSION_ATTRIBUTE, 1),
        ];
        if !in_run(&marked) {
            updates.push(Update::remove(SUBSCRIPTIONS_BY_RUN.partition_key));
        }
        let key = subscription_key(current.subscription_id);
        let condition = Some(Condition::Version(current.version));
        let write = Write::update(&SUBSCRIPTIONS, key, updates, condition);
        Ok(commit(self.store.as_ref(), vec![write], &Effects::none())
            .await?
            .is_ok())
    }
}

#[async_trait]
impl SubscriptionStore for Subscriptions {
    async fn create(
        &self,
        subscription: &Subscription,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let key = subscription_key(subscription.subscription_id);
        let write = versioned_put(&SUBSCRIPTIONS, subscription_item(subscription)?, None);
        commit_versioned(self.store.as_ref(), vec![write], effects, &key, None).await
    }

    async fn update(
        &self,
        mut subscription: Subscription,
        effects: &Effects,
    ) -> Result<Subscription, StoreError> {
        let key = subscription_key(subscription.subscription_id);
        let item = subscription_item(&subscription)?;
        let store = self.store.as_ref();
        let read_at = subscription.version;
        subscription.version =
            update_versioned(store, &SUBSCRIPTIONS, &key, item, read_at, effects).await?;
        Ok(subscription)
    }

    async fn get(&self, subscription_id: Uuid) -> Result<Option<Subscription>, StoreError> {
        let key = subscription_key(subscription_id);
        let item = self.store.get(&SUBSCRIPTIONS, &key, true).await?;
        item.map(decode).transpose()
    }

    async fn for_user(
        &self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Subscription>, StoreError> {
        let partition = user_list_key(user_id);
        let query = Query::index(&SUBSCRIPTIONS, &BY_USER, partition).descending();
        list(self.store.as_ref(), query, page).await
    }

    async fn list(&self, page: &PageRequest) -> Result<Page<Subscription>, StoreError> {
        let query = Query::index(&SUBSCRIPTIONS, &BY_CREATED_AT, LIST_KEY).descending();
        list(self.store.as_ref(), query, page).await
    }

    async fn live(&self, shard: u32, page: &PageRequest) -> Result<Page<Subscription>, StoreError> {
        let query = Query::index(&SUBSCRIPTIONS, &SUBSCRIPTIONS_BY_RUN, run_key(shard));
        list(self.store.as_ref(), query, page).await
    }

    async fn mark_generated(
        &self,
        subscription: &Subscription,
        date: NaiveDate,
    ) -> Result<(), StoreError> {
        // The run's copy may be older than the stored subscription (it came through an
        // index): the mark is a compare-and-swap on the version, read again on a miss, so
        // a customer's change (a new end date, say) is never judged by a stale copy.
        let mut current = subscription.clone();
        for _ in 0..MAX_ATTEMPTS {
            if current.last_generated_for.is_some_and(|last| last >= date) {
                return Ok(());
            }
            match self.try_mark(&current, date).await? {
                true => return Ok(()),
                false => {
                    let stored = self.get(current.subscription_id).await?;
                    current = stored.ok_or(StoreError::NotFound)?;
                }
            }
        }
        Err(StoreError::VersionConflict)
    }

    async fn vacation(&self, user_id: Uuid) -> Result<Option<Vacation>, StoreError> {
        let item = self
            .store
            .get(&SUBSCRIPTIONS, &vacation_key(user_id), true)
            .await?;
        item.map(decode).transpose()
    }

    async fn set_vacation(
        &self,
        user_id: Uuid,
        vacation: Option<Vacation>,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let key = vacation_key(user_id);
        let write = match vacation {
            Some(vacation) => {
                let mut item = encode(&vacation)?;
                key.add_to(&SUBSCRIPTIONS, &mut item);
                Write::put(&SUBSCRIPTIONS, item, None)
            }
            None => Write::delete(&SUBSCRIPTIONS, key, None),
        };
        match commit(self.store.as_ref(), vec![write], effects).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::AlreadyExists),
        }
    }
}

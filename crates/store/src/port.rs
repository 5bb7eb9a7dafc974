//! The item-store port: DynamoDB's semantics, implemented by DynamoDB itself (milkrun-aws)
//! and by SQLite (milkrun-local), both held to one contract suite.

use async_trait::async_trait;
use chrono::Utc;

use crate::item::{Item, number};
use crate::ops::{ItemPage, Key, Query, Write};
use crate::table::TableSpec;

#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    /// The condition of the write at `index` (0 for a single write) did not hold; nothing
    /// was written.
    #[error("the condition of write {index} did not hold")]
    ConditionFailed { index: usize },
    /// A concurrent transaction touched the same items, and retrying did not get through.
    #[error("the transaction kept conflicting with concurrent ones")]
    Conflict,
    /// A request no store would take (too many writes, an item twice, a misshapen key).
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Backend {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ItemError {
    pub fn backend(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            context,
            source: Box::new(source),
        }
    }
}

impl From<ItemError> for milkrun_domain::StoreError {
    fn from(error: ItemError) -> Self {
        match error {
            // The store retried already; to a caller it is a lost race like any other.
            ItemError::Conflict => milkrun_domain::StoreError::VersionConflict,
            other => milkrun_domain::StoreError::backend("item store", other),
        }
    }
}

#[async_trait]
pub trait ItemStore: Send + Sync {
    /// One item by key; `consistent` reads the latest committed write.
    async fn get(
        &self,
        table: &'static TableSpec,
        key: &Key,
        consistent: bool,
    ) -> Result<Option<Item>, ItemError>;

    /// The items that exist among `keys`, in no particular order (any number of keys).
    async fn batch_get(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError>;

    /// As [`ItemStore::batch_get`], but eventually consistent, at half the read cost: for
    /// listings that read by key the items a keys-only index named (the index itself is
    /// eventually consistent). A store with only one kind of read answers as `batch_get`.
    async fn batch_get_eventual(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        self.batch_get(table, keys).await
    }

    /// One conditional write. Answers the item as written (a put's item, an update's whole
    /// new item); `None` for a delete.
    async fn write(&self, write: Write) -> Result<Option<Item>, ItemError>;

    /// Up to 100 writes, all or nothing. `ConditionFailed { index }` names the first write
    /// whose condition did not hold.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), ItemError>;

    /// Items of one partition of a table or index, in sort order, up to `query.limit`.
    async fn query(&self, query: &Query) -> Result<ItemPage, ItemError>;

    /// Every item of a table, in no particular order, `limit` at a time.
    async fn scan(
        &self,
        table: &'static TableSpec,
        limit: u32,
        start_after: Option<Item>,
    ) -> Result<ItemPage, ItemError>;
}

/// Whether `item` of `table` has passed its TTL: such items count as gone, whether or not
/// the store has removed them yet (DynamoDB deletes expired items up to days later).
pub fn is_expired(table: &TableSpec, item: &Item) -> bool {
    let Some(attribute) = table.ttl else {
        return false;
    };
    item.get(attribute)
        .and_then(number)
        .is_some_and(|expires_at| expires_at <= i128::from(Utc::now().timestamp()))
}

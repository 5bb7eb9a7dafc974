//! Orders over the item store: one `ORDER#<orderId>` item each, saved by compare-and-swap on
//! its version, in three newest-first listings, each a sparse index read by one Query per
//! page:
//!
//! - every order: `ByCreatedAt`, `listKey` = `ORDER` (managers' and admins' GET /orders);
//! - one customer's: `ByUser`, `userKey` = `USER#<userId>` (a customer's GET /orders);
//! - one status's: `ByStatus`, `statusKey` = `ORDER#<status>` (`?status=`), except that
//!   PENDING, PAYMENT_PENDING and CONFIRMED share `ORDER#IN_CHECKOUT` (see
//!   [`status_list_key`]).
//!
//! The indexes project keys only (see [`ORDERS_BY_CREATED_AT`] for why): a listing reads a
//! page of keys by Query, then the orders themselves by key, one eventually consistent
//! BatchGetItem a page (more for a status that shares its partition), in the index's
//! order.
//!
//! All three sort by the same `createdKey` (creation time + id). An item carries one key per
//! index, so each listing needs its own index: the all-orders listing could be merged from
//! the nine status partitions, but only at nine Queries a page. Every write rewrites the
//! whole item, so a status change moves the order between status listings in that write.
//! A fourth index, `ByDeliveryDay` (`deliveryDay` = `DAY#<date>#<shard>`), holds one delivery
//! day's orders in [`ORDER_DAY_SHARDS`] partitions for the daily report (see
//! [`ORDERS_BY_DAY`] for the shard count).
//!
//! The one `ORDER` partition takes every order's index write; past about 1,000 new orders a
//! second it would want sharding (as would the other `ByCreatedAt` listings).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use milkrun_domain::delivery::Delivery;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{OrderReads, OrderWrites};
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::effects::{Refused, commit};
use crate::item::{Item, s};
use crate::ops::{Key, Query, Write};
use crate::packed::{Versioned, packed_item, unpack};
use crate::paging::{list_by_key, list_by_key_where, query_all, read_listed};
use crate::port::ItemStore;
use crate::table::{
    ORDER_DAY_SHARDS, ORDERS, ORDERS_BY_CREATED_AT, ORDERS_BY_DAY, ORDERS_BY_STATUS, ORDERS_BY_USER,
};
use crate::versioned::{
    changed_or_gone, commit_versioned, list_under, update_versioned, versioned_put,
};

const LIST_KEY: &str = "ORDER";

pub struct Orders {
    store: Arc<dyn ItemStore>,
}

fn order_key(order_id: Uuid) -> Key {
    Key::partition(format!("ORDER#{order_id}"))
}

fn user_list_key(user_id: Uuid) -> String {
    format!("USER#{user_id}")
}

/// The `ByStatus` partition of `status`: its own, but one for the statuses a checkout moves
/// an order out of within seconds ([`OrderStatus::IN_CHECKOUT`]), so that the checkout's
/// move from PENDING to PAYMENT_PENDING rewrites no index entry (2 WRU a checkout). Their
/// listings read that partition and keep their own status.
fn status_list_key(status: OrderStatus) -> String {
    if status.is_in_checkout() {
        IN_CHECKOUT_LIST_KEY.to_owned()
    } else {
        format!("ORDER#{status}")
    }
}

const IN_CHECKOUT_LIST_KEY: &str = "ORDER#IN_CHECKOUT";

/// Index entries a Query reads for a listing of one status in the shared partition, where
/// few of those read may be of that status.
const SHARED_BATCH: u32 = 100;

/// The partition of `ORDERS_BY_DAY` holding `shard` of `date`'s orders.
fn day_key(date: NaiveDate, shard: u128) -> String {
    format!("DAY#{date}#{shard:02}")
}

/// An order's shard: the low bits of its id, random in every id version we mint (v4, v7's
/// tail, v5's hash), so a day's orders spread evenly.
fn day_shard(order_id: Uuid) -> u128 {
    order_id.as_u128() % ORDER_DAY_SHARDS
}

/// The order as an item, in its listings (the status one as of `order.status`): its keys
/// and index keys as attributes, the order itself packed (see [`crate::packed`]).
fn order_item(order: &Order) -> Result<Item, StoreError> {
    let mut item = packed_item(order, order.version)?;
    order_key(order.order_id).add_to(&ORDERS, &mut item);
    list_under(&mut item, LIST_KEY, order.created_at, order.order_id);
    item.insert(
        ORDERS_BY_USER.partition_key.into(),
        s(user_list_key(order.user_id)),
    );
    item.insert(
        ORDERS_BY_STATUS.partition_key.into(),
        s(status_list_key(order.status)),
    );
    let day = day_key(order.delivery_date, day_shard(order.order_id));
    item.insert(ORDERS_BY_DAY.partition_key.into(), s(day));
    Ok(item)
}

impl Versioned for Order {
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

impl Orders {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// The insert of a new order as writes, for a caller that commits it in its own
    /// transaction with other writes (the idempotency key's completion,
    /// [`crate::Idempotency::complete_in`]). The order's put comes first: a failed
    /// condition at index 0 means the order id was taken.
    pub fn create_writes(&self, order: &Order) -> Result<Vec<Write>, StoreError> {
        Ok(vec![versioned_put(&ORDERS, order_item(order)?, None)])
    }

    /// Every order whose delivery date is `date`: one Query per shard (and per 1 MB page),
    /// nothing of other days. An index is eventually consistent: a report run hours after
    /// the day's round reads it settled.
    pub async fn for_delivery_day(&self, date: NaiveDate) -> Result<Vec<Order>, StoreError> {
        let mut listed = Vec::new();
        for shard in 0..ORDER_DAY_SHARDS {
            let query = Query::index(&ORDERS, &ORDERS_BY_DAY, day_key(date, shard));
            listed.extend(query_all(self.store.as_ref(), query).await?);
        }
        // An order is never deleted, so each listed is found.
        read_listed(self.store.as_ref(), &ORDERS, listed, unpack).await
    }

    /// One page of `query` (an index of orders), the orders read by key.
    async fn list(&self, query: Query, page: &PageRequest) -> Result<Page<Order>, StoreError> {
        list_by_key(self.store.as_ref(), &ORDERS, query, page, unpack).await
    }

    /// One page of `query`, newest first, of the orders `keep` accepts. Listings that share
    /// a partition tag their cursors (`<tag>.<cursor>`), so a cursor resumes only the
    /// listing it came from, as every other listing's does.
    async fn list_tagged(
        &self,
        query: Query,
        page: &PageRequest,
        batch: u32,
        tag: Option<&str>,
        keep: impl Fn(&Order) -> bool,
    ) -> Result<Page<Order>, StoreError> {
        let cursor = match (tag, page.cursor.as_deref()) {
            (Some(tag), Some(cursor)) => Some(
                (cursor.strip_prefix(tag))
                    .and_then(|rest| rest.strip_prefix('.'))
                    .ok_or(StoreError::InvalidCursor)?
                    .to_owned(),
            ),
            (_, cursor) => cursor.map(str::to_owned),
        };
        let page = PageRequest {
            limit: page.limit,
            cursor,
        };
        let store = self.store.as_ref();
        let query = query.descending();
        let mut listed =
            list_by_key_where(store, &ORDERS, query, &page, batch, unpack, keep).await?;
        if let Some(tag) = tag {
            listed.next_cursor = listed.next_cursor.map(|cursor| format!("{tag}.{cursor}"));
        }
        Ok(listed)
    }

    /// The orders among `order_ids` that exist, read strongly consistent in batches.
    pub async fn get_many(&self, order_ids: &[Uuid]) -> Result<Vec<Order>, StoreError> {
        let keys: Vec<Key> = order_ids.iter().map(|id| order_key(*id)).collect();
        let items = self.store.batch_get(&ORDERS, &keys).await?;
        items.into_iter().map(unpack).collect()
    }
}

#[async_trait]
impl OrderWrites for Orders {
    async fn create(&self, order: &Order, effects: &Effects) -> Result<(), StoreError> {
        let key = order_key(order.order_id);
        let writes = self.create_writes(order)?;
        commit_versioned(self.store.as_ref(), writes, effects, &key, None).await
    }

    async fn update(&self, mut order: Order, effects: &Effects) -> Result<Order, StoreError> {
        let (key, item, read_at) = (
            order_key(order.order_id),
            order_item(&order)?,
            order.version,
        );
        let store = self.store.as_ref();
        order.version = update_versioned(store, &ORDERS, &key, item, read_at, effects).await?;
        Ok(order)
    }

    async fn update_with_deliveries(
        &self,
        mut order: Order,
        deliveries: &[Delivery],
        effects: &Effects,
    ) -> Result<Order, StoreError> {
        let read_at = order.version;
        let mut writes = vec![versioned_put(&ORDERS, order_item(&order)?, Some(read_at))];
        writes.extend(crate::deliveries::create_writes(deliveries)?);
        match commit(self.store.as_ref(), writes, effects).await? {
            Ok(()) => {
                order.version = read_at + 1;
                Ok(order)
            }
            Err(Refused::Change(0)) => {
                let key = order_key(order.order_id);
                Err(changed_or_gone(self.store.as_ref(), &ORDERS, &key).await?)
            }
            Err(Refused::Change(_) | Refused::Effect) => Err(StoreError::AlreadyExists),
        }
    }
}

#[async_trait]
impl OrderReads for Orders {
    async fn get(&self, order_id: Uuid) -> Result<Option<Order>, StoreError> {
        let item = self.store.get(&ORDERS, &order_key(order_id), true).await?;
        item.map(unpack).transpose()
    }

    async fn for_user(&self, user_id: Uuid, page: &PageRequest) -> Result<Page<Order>, StoreError> {
        let query = Query::index(&ORDERS, &ORDERS_BY_USER, user_list_key(user_id)).descending();
        self.list(query, page).await
    }

    async fn by_status(
        &self,
        status: Option<OrderStatus>,
        page: &PageRequest,
    ) -> Result<Page<Order>, StoreError> {
        let Some(status) = status else {
            let query = Query::index(&ORDERS, &ORDERS_BY_CREATED_AT, LIST_KEY);
            return self.list(query.descending(), page).await;
        };
        // The index lags its table (an order read by key may have moved on since it was
        // listed), and the checkout's statuses share a partition: a status listing keeps
        // its own status's orders.
        let query = Query::index(&ORDERS, &ORDERS_BY_STATUS, status_list_key(status));
        let tag = status.is_in_checkout().then(|| status.as_str());
        // A shared partition may hold few of this status's orders: read on in larger
        // batches of index entries (the orders are read by key only as the page needs).
        let batch = if tag.is_some() {
            SHARED_BATCH.max(page.limit + 1)
        } else {
            page.limit + 1
        };
        self.list_tagged(query, page, batch, tag, |order| order.status == status)
            .await
    }

    async fn in_checkout(&self, page: &PageRequest) -> Result<Page<Order>, StoreError> {
        let query = Query::index(&ORDERS, &ORDERS_BY_STATUS, IN_CHECKOUT_LIST_KEY);
        let keep = |order: &Order| order.status.is_in_checkout();
        let batch = page.limit + 1;
        self.list_tagged(query, page, batch, Some("IN_CHECKOUT"), keep)
            .await
    }
}

//! Deliveries over the item store: one `DELIVERY#<deliveryId>` item each, saved by
//! compare-and-swap on its version, in two sparse indexes read by Query:
//!
//! - one vendor's round: `ByRound`, `roundKey` = `ROUND#<date>#<slot>#<vendorId>` (a
//!   vendor's GET /deliveries?date=&slot=);
//! - every vendor's round that day and slot: `ByDay`, `dayKey` = `ROUND#<date>#<slot>`
//!   (an admin's).
//!
//! Both sort by `stopKey` = `<pincode>#<deliveryId>`, so a round comes by pincode and
//! a caller groups it as it pages. Every write rewrites the whole item, so a status change
//! keeps a delivery in its round (and a changed date or slot would move it in that write).
//!
//! An order's deliveries are created together in one transaction with the order naming
//! them (`deliveryIds`), and never change order, so `for_order` reads the ids the order
//! names with one strongly consistent BatchGet: a status just written is never read stale.
//! An index of them by order (`ByOrder`, once) cost a write unit for every delivery written
//! and said nothing the order does not. `ByDay` puts a whole day's slot in one partition:
//! past about 1,000 deliveries written a second into one slot it would want sharding.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use milkrun_domain::delivery::Delivery;
use milkrun_domain::order::Order;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{DeliveryReads, DeliveryWrites};
use milkrun_domain::values::DeliverySlot;
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::effects::{Refused, commit};
use crate::item::{Item, decode, encode, s};
use crate::ops::{Key, Query, Write};
use crate::paging::{list, query_all};
use crate::port::ItemStore;
use crate::table::{DELIVERIES, DELIVERIES_BY_DAY, DELIVERIES_BY_ROUND};
use crate::versioned::{update_versioned, versioned_put};

pub struct Deliveries {
    store: Arc<dyn ItemStore>,
}

fn delivery_key(delivery_id: Uuid) -> Key {
    Key::partition(format!("DELIVERY#{delivery_id}"))
}

fn day_key(date: NaiveDate, slot: DeliverySlot) -> String {
    format!("ROUND#{date}#{}", slot.as_str())
}

fn round_key(vendor_id: Uuid, date: NaiveDate, slot: DeliverySlot) -> String {
    format!("{}#{vendor_id}", day_key(date, slot))
}

/// The inserts of new deliveries as writes, for a change that commits them in its own
/// transaction (an order's move to PREPARING); a failed condition at index `i` means
/// `deliveries[i]`'s id was taken.
pub(crate) fn create_writes(deliveries: &[Delivery]) -> Result<Vec<Write>, StoreError> {
    deliveries
        .iter()
        .map(|delivery| Ok(versioned_put(&DELIVERIES, delivery_item(delivery)?, None)))
        .collect()
}

/// The delivery as an item, in its vendor's round and its day's round.
fn delivery_item(delivery: &Delivery) -> Result<Item, StoreError> {
    let mut item = encode(delivery)?;
    delivery_key(delivery.delivery_id).add_to(&DELIVERIES, &mut item);
    let (date, slot) = (delivery.delivery_date, delivery.delivery_slot);
    let stop = format!(
        "{}#{}",
        delivery.address.pincode.as_str(),
        delivery.delivery_id
    );
    for (attribute, value) in [
        (
            DELIVERIES_BY_ROUND.partition_key,
            round_key(delivery.vendor_id, date, slot),
        ),
        (DELIVERIES_BY_DAY.partition_key, day_key(date, slot)),
        (DELIVERIES_BY_ROUND.sort_key, stop),
    ] {
        item.insert(attribute.into(), s(value));
    }
    Ok(item)
}

impl Deliveries {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// Every vendor's deliveries of `date`, both slots: two `ByDay` partitions, all pages.
    pub async fn for_day(&self, date: NaiveDate) -> Result<Vec<Delivery>, StoreError> {
        let mut deliveries = Vec::new();
        for slot in DeliverySlot::ALL {
            let query = Query::index(&DELIVERIES, &DELIVERIES_BY_DAY, day_key(date, slot));
            for item in query_all(self.store.as_ref(), query).await? {
                deliveries.push(decode(item)?);
            }
        }
        Ok(deliveries)
    }

    /// One vendor's deliveries on each of `dates`, both slots: that vendor's rounds
    /// (`ByRound`), two partitions a day, never another vendor's.
    pub async fn for_vendor_on(
        &self,
        vendor_id: Uuid,
        dates: &[NaiveDate],
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut deliveries = Vec::new();
        for date in dates {
            for slot in DeliverySlot::ALL {
                let key = round_key(vendor_id, *date, slot);
                let query = Query::index(&DELIVERIES, &DELIVERIES_BY_ROUND, key);
                for item in query_all(self.store.as_ref(), query).await? {
                    deliveries.push(decode(item)?);
                }
            }
        }
        Ok(deliveries)
    }
}

#[async_trait]
impl DeliveryWrites for Deliveries {
    async fn create_many(
        &self,
        deliveries: &[Delivery],
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let writes = create_writes(deliveries)?;
        match commit(self.store.as_ref(), writes, effects).await? {
            Ok(()) => Ok(()),
            Err(Refused::Change(_) | Refused::Effect) => Err(StoreError::AlreadyExists),
        }
    }

    async fn update(
        &self,
        mut delivery: Delivery,
        effects: &Effects,
    ) -> Result<Delivery, StoreError> {
        let (key, item, read_at) = (
            delivery_key(delivery.delivery_id),
            delivery_item(&delivery)?,
            delivery.version,
        );
        let store = self.store.as_ref();
        delivery.version =
            update_versioned(store, &DELIVERIES, &key, item, read_at, effects).await?;
        Ok(delivery)
    }
}

#[async_trait]
impl DeliveryReads for Deliveries {
    async fn get(&self, delivery_id: Uuid) -> Result<Option<Delivery>, StoreError> {
        let key = delivery_key(delivery_id);
        let item = self.store.get(&DELIVERIES, &key, true).await?;
        item.map(decode).transpose()
    }

    async fn for_order(&self, order: &Order) -> Result<Vec<Delivery>, StoreError> {
        let keys: Vec<Key> = order
            .delivery_ids
            .iter()
            .copied()
            .map(delivery_key)
            .collect();
        let items = self.store.batch_get(&DELIVERIES, &keys).await?;
        let mut deliveries: Vec<Delivery> =
            items.into_iter().map(decode).collect::<Result<_, _>>()?;
        deliveries.sort_by_key(|d| d.delivery_id);
        Ok(deliveries)
    }

    async fn round(
        &self,
        vendor_id: Option<Uuid>,
        date: NaiveDate,
        slot: DeliverySlot,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let query = match vendor_id {
            Some(vendor_id) => Query::index(
                &DELIVERIES,
                &DELIVERIES_BY_ROUND,
                round_key(vendor_id, date, slot),
            ),
            None => Query::index(&DELIVERIES, &DELIVERIES_BY_DAY, day_key(date, slot)),
        };
        list(self.store.as_ref(), query, page).await
    }
}

//! Promotions over the item store, in the notifications table: `PROMOTION#<id>` /
//! `PROMOTION` holds one promotion and its progress, changed only by versioned puts.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::notification::Promotion;
use milkrun_domain::ports::PromotionStore;
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::item::{Item, decode, encode};
use crate::ops::Key;
use crate::port::ItemStore;
use crate::table::NOTIFICATIONS;
use crate::versioned::{commit_versioned, update_versioned, versioned_put};

pub struct Promotions {
    store: Arc<dyn ItemStore>,
}

fn promotion_key(promotion_id: Uuid) -> Key {
    Key::with_sort(format!("PROMOTION#{promotion_id}"), "PROMOTION")
}

fn promotion_item(promotion: &Promotion) -> Result<(Key, Item), StoreError> {
    let key = promotion_key(promotion.promotion_id);
    let mut item = encode(promotion)?;
    key.add_to(&NOTIFICATIONS, &mut item);
    Ok((key, item))
}

impl Promotions {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl PromotionStore for Promotions {
    async fn create(&self, promotion: &Promotion, effects: &Effects) -> Result<(), StoreError> {
        let (key, item) = promotion_item(promotion)?;
        let write = versioned_put(&NOTIFICATIONS, item, None);
        commit_versioned(self.store.as_ref(), vec![write], effects, &key, None).await
    }

    async fn get(&self, promotion_id: Uuid) -> Result<Option<Promotion>, StoreError> {
        let key = promotion_key(promotion_id);
        let item = self.store.get(&NOTIFICATIONS, &key, true).await?;
        item.map(decode).transpose()
    }

    async fn save(
        &self,
        mut promotion: Promotion,
        effects: &Effects,
    ) -> Result<Promotion, StoreError> {
        let (key, item) = promotion_item(&promotion)?;
        let store = self.store.as_ref();
        let read_at = promotion.version;
        promotion.version =
            update_versioned(store, &NOTIFICATIONS, &key, item, read_at, effects).await?;
        Ok(promotion)
    }
}

//! Carts over the item store: one `CART#<userId>` item per customer, saved by compare-and-
//! swap and expiring `cart::IDLE_DAYS` after its last save.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, Utc};
use milkrun_domain::cart::{Cart, IDLE_DAYS};
use milkrun_domain::ports::CartStore;
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::effects::{Refused, commit};
use crate::item::{decode, encode, n};
use crate::ops::{Condition, Key, VERSION_ATTRIBUTE, Write};
use crate::port::ItemStore;
use crate::table::CARTS;

pub struct Carts {
    store: Arc<dyn ItemStore>,
}

fn cart_key(user_id: Uuid) -> Key {
    Key::partition(format!("CART#{user_id}"))
}

impl Carts {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// The compare-and-swap save of `cart` as a write, for a caller that commits it with
    /// other writes (an order placed from the cart empties it in the order's transaction).
    /// A failed condition means the cart changed since it was read.
    pub fn save_write(&self, cart: &Cart) -> Result<Write, StoreError> {
        let next = cart.version.map_or(0, |v| v + 1);
        let mut item = encode(cart)?;
        cart_key(cart.user_id).add_to(&CARTS, &mut item);
        item.insert(VERSION_ATTRIBUTE.into(), n(next));
        let expires = cart.updated_at + Duration::days(IDLE_DAYS);
        item.insert("expiresAt".into(), n(expires.timestamp()));
        let condition = save_condition(cart.version, Utc::now().timestamp());
        Ok(Write::put(&CARTS, item, Some(condition)))
    }
}

/// What a save may overwrite: the version it was read at, or, for a cart read as absent,
/// nothing, or an expired cart DynamoDB has not removed yet (its TTL sweep lags by days).
fn save_condition(read_at: Option<u64>, now_epoch: i64) -> Condition {
    match read_at {
        Some(version) => Condition::Version(version),
        None => Condition::Any(vec![
            Condition::NotExists,
            Condition::at_most("expiresAt", n(now_epoch)),
        ]),
    }
}

#[async_trait]
impl CartStore for Carts {
    async fn get(&self, user_id: Uuid) -> Result<Option<Cart>, StoreError> {
        let item = self.store.get(&CARTS, &cart_key(user_id), true).await?;
        item.map(decode).transpose()
    }

    async fn save(&self, mut cart: Cart, effects: &Effects) -> Result<Cart, StoreError> {
        let next = cart.version.map_or(0, |v| v + 1);
        let write = self.save_write(&cart)?;
        match commit(self.store.as_ref(), vec![write], effects).await? {
            Ok(()) => {
                cart.version = Some(next);
                Ok(cart)
            }
            // Another save got in first (or created the cart this one thought absent).
            Err(Refused::Change(_)) => Err(StoreError::VersionConflict),
            Err(Refused::Effect) => Err(StoreError::AlreadyExists),
        }
    }
}

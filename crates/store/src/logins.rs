//! Failed logins over the item store: one counter item per attempter and window, raised
//! with an atomic ADD (never read-then-write) and gone with its window's TTL.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::StoreError;
use milkrun_domain::login::{Attempter, LoginWindow};
use milkrun_domain::ports::LoginAttempts;

use crate::item::{n, number};
use crate::ops::{Key, Update, Write};
use crate::port::ItemStore;
use crate::table::LOGIN_ATTEMPTS;

pub struct Logins {
    store: Arc<dyn ItemStore>,
}

impl Logins {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

fn counter(attempter: &Attempter, window: LoginWindow) -> Key {
    Key::partition(format!("LOGIN#{}#{}", attempter.key(), window.start))
}

#[async_trait]
impl LoginAttempts for Logins {
    async fn failures(
        &self,
        attempters: &[Attempter],
        window: LoginWindow,
    ) -> Result<Vec<u32>, StoreError> {
        let keys: Vec<Key> = attempters.iter().map(|a| counter(a, window)).collect();
        let items = self.store.batch_get(&LOGIN_ATTEMPTS, &keys).await?;
        Ok(keys
            .iter()
            .map(|key| {
                items
                    .iter()
                    .find(|item| Key::of(&LOGIN_ATTEMPTS, item).as_ref() == Some(key))
                    .and_then(|item| item.get("failures").and_then(number))
                    .map_or(0, |count| count.clamp(0, i128::from(u32::MAX)) as u32)
            })
            .collect())
    }

    async fn failed(
        &self,
        attempters: &[Attempter],
        window: LoginWindow,
    ) -> Result<(), StoreError> {
        for attempter in attempters {
            let updates = vec![
                Update::add("failures", 1),
                Update::SetIfAbsent("expiresAt".into(), n(window.end)),
            ];
            let write = Write::update(&LOGIN_ATTEMPTS, counter(attempter, window), updates, None);
            self.store.write(write).await?;
        }
        Ok(())
    }

    async fn forget(&self, attempter: &Attempter, window: LoginWindow) -> Result<(), StoreError> {
        let write = Write::delete(&LOGIN_ATTEMPTS, counter(attempter, window), None);
        self.store.write(write).await?;
        Ok(())
    }
}

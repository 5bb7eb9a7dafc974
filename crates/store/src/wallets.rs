//! Wallets over the item store: `WALLET#<userId>` / `BALANCE` holds the balance and its
//! version; `WALLET#<userId>` / `ENTRY#<entryId>` each ledger entry, in time order in the
//! `ByTime` index.
//!
//! A change is one transaction of two conditional writes: the entry, put only if no entry
//! has its id (derived from its cause, so a cause applies once however often it comes), and
//! the balance, put only at the version it was read. A lost race on the balance reads again
//! and retries; a lost race on the entry means the cause was applied meanwhile, and answers
//! that entry. The balance never goes below zero: a debit is computed from the balance as
//! read and written only if the balance is still that one.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::money::Money;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{Applied, EntryEffects, WalletStore};
use milkrun_domain::wallet::{Cause, LedgerEntry, Wallet, WalletRefusal};
use uuid::Uuid;

use crate::effects::{Refused, commit};
use crate::item::{decode, encode, s};
use crate::ops::{Key, Query, SortCondition, Write};
use crate::paging::list;
use crate::port::ItemStore;
use crate::retry::MAX_ATTEMPTS;
use crate::table::{LEDGER_BY_TIME, WALLETS};
use crate::versioned::versioned_put;

pub struct Wallets {
    store: Arc<dyn ItemStore>,
}

fn partition(user_id: Uuid) -> String {
    format!("WALLET#{user_id}")
}

fn balance_key(user_id: Uuid) -> Key {
    Key::with_sort(partition(user_id), "BALANCE")
}

fn entry_key(user_id: Uuid, entry_id: Uuid) -> Key {
    Key::with_sort(partition(user_id), format!("ENTRY#{entry_id}"))
}

fn ledger_key(user_id: Uuid) -> String {
    format!("LEDGER#{user_id}")
}

fn at_key(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The entry's put: only if absent, in its wallet's time-ordered ledger.
fn entry_write(user_id: Uuid, entry: &LedgerEntry) -> Result<Write, StoreError> {
    let mut item = encode(entry)?;
    entry_key(user_id, entry.entry_id).add_to(&WALLETS, &mut item);
    item.insert(LEDGER_BY_TIME.partition_key.into(), s(ledger_key(user_id)));
    let at = format!("{}#{}", at_key(entry.at), entry.entry_id);
    item.insert(LEDGER_BY_TIME.sort_key.into(), s(at));
    Ok(Write::put(
        &WALLETS,
        item,
        Some(crate::ops::Condition::NotExists),
    ))
}

/// The balance's put at the version `read` was read at (a wallet never written: absent).
fn balance_write(after: &Wallet, read: Option<&Wallet>) -> Result<Write, StoreError> {
    let mut item = encode(after)?;
    balance_key(after.user_id).add_to(&WALLETS, &mut item);
    Ok(versioned_put(&WALLETS, item, read.map(|w| w.version)))
}

impl Wallets {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// One attempt: `None` when the balance moved since it was read (try again).
    async fn try_apply(
        &self,
        user_id: Uuid,
        cause: Cause,
        amount: Money,
        reason: &str,
        effects: EntryEffects<'_>,
    ) -> Result<Option<Result<Applied, WalletRefusal>>, StoreError> {
        let read = self.get(user_id).await?;
        let now = Utc::now();
        let current = read.clone().unwrap_or_else(|| Wallet::empty(user_id, now));
        let (after, entry) = match current.apply(cause, amount, reason, now) {
            Ok(applied) => applied,
            Err(refusal) => return self.refused_unless_applied(user_id, cause, refusal).await,
        };
        let writes = vec![
            entry_write(user_id, &entry)?,
            balance_write(&after, read.as_ref())?,
        ];
        match commit(self.store.as_ref(), writes, &effects(&entry)).await? {
            Ok(()) => Ok(Some(Ok(Applied {
                entry,
                created: true,
            }))),
            Err(Refused::Change(0)) => self.already_applied(user_id, cause).await.map(Some),
            Err(Refused::Change(_)) => Ok(None),
            // An effect with its id exists: only a replay of this very change has one.
            Err(Refused::Effect) => self.already_applied(user_id, cause).await.map(Some),
        }
    }

    /// A refused cause may have been applied before (a retried debit the balance no longer
    /// covers): then that is the answer, not the refusal.
    async fn refused_unless_applied(
        &self,
        user_id: Uuid,
        cause: Cause,
        refusal: WalletRefusal,
    ) -> Result<Option<Result<Applied, WalletRefusal>>, StoreError> {
        Ok(Some(match self.entry(user_id, cause).await? {
            Some(entry) => Ok(Applied {
                entry,
                created: false,
            }),
            None => Err(refusal),
        }))
    }

    async fn already_applied(
        &self,
        user_id: Uuid,
        cause: Cause,
    ) -> Result<Result<Applied, WalletRefusal>, StoreError> {
        let entry = self
            .entry(user_id, cause)
            .await?
            .ok_or(StoreError::VersionConflict)?;
        Ok(Ok(Applied {
            entry,
            created: false,
        }))
    }
}

#[async_trait]
impl WalletStore for Wallets {
    async fn get(&self, user_id: Uuid) -> Result<Option<Wallet>, StoreError> {
        let item = self
            .store
            .get(&WALLETS, &balance_key(user_id), true)
            .await?;
        item.map(decode).transpose()
    }

    async fn apply(
        &self,
        user_id: Uuid,
        cause: Cause,
        amount: Money,
        reason: &str,
        effects: EntryEffects<'_>,
    ) -> Result<Result<Applied, WalletRefusal>, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            if let Some(outcome) = self
                .try_apply(user_id, cause, amount, reason, effects)
                .await?
            {
                return Ok(outcome);
            }
        }
        Err(StoreError::VersionConflict)
    }

    async fn entry(&self, user_id: Uuid, cause: Cause) -> Result<Option<LedgerEntry>, StoreError> {
        let key = entry_key(user_id, cause.entry_id(user_id));
        let item = self.store.get(&WALLETS, &key, true).await?;
        item.map(decode).transpose()
    }

    async fn entries(
        &self,
        user_id: Uuid,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        // `#` sorts before every digit, so `<until>#` is below every key written at `until`.
        let range = SortCondition::Between(at_key(from), format!("{}#", at_key(until)));
        let query = Query::index(&WALLETS, &LEDGER_BY_TIME, ledger_key(user_id))
            .sorted(range)
            .descending();
        list(self.store.as_ref(), query, page).await
    }
}

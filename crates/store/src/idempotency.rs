//! Idempotency keys over the item store: one `IDEMPOTENCY#<scope>#<userId>#<key>` record per
//! claimed key, `IN_PROGRESS` under a lease and then `COMPLETED` with the response to
//! replay, gone with its TTL a day later. A claim is one conditional put (never
//! read-then-write); only when its condition fails is the record read, to say why.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::idempotency::{Claim, ClaimKey, Fingerprint, StoredResponse};
use milkrun_domain::ports::IdempotencyStore;

use crate::item::{Item, n, number, s, text};
use crate::ops::{Condition, Key, Update, Write};
use crate::port::{ItemError, ItemStore};
use crate::table::IDEMPOTENCY;

/// How long a claim holds its key before a retry with the same body may take it over (the
/// holder crashed): longer than a handler runs (API Gateway gives up after 29 s).
pub const LEASE_SECS: i64 = 30;
/// How long a key is remembered: its TTL, from its claim and again from its completion.
pub const RETENTION_HOURS: i64 = 24;
/// How often a claim tries again when the record changed between its write and its read
/// (released, expired, or its lease ran out in between).
const CLAIM_ATTEMPTS: u32 = 5;

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";
const STATUS: &str = "status";
const FINGERPRINT: &str = "fingerprint";
/// Epoch milliseconds: when an `IN_PROGRESS` claim's lease runs out.
const LEASE_UNTIL: &str = "leaseUntilMillis";
/// Epoch seconds: the table's TTL attribute.
const EXPIRES_AT: &str = "expiresAt";

pub struct Idempotency {
    store: Arc<dyn ItemStore>,
    lease: Duration,
    retention: Duration,
}

/// The record of a claim key. The scope holds no `#` and the user id has a fixed form, so
/// the client's key, last, cannot make two claims collide.
pub fn claim_record(key: &ClaimKey) -> Key {
    Key::partition(format!(
        "IDEMPOTENCY#{}#{}#{}",
        key.scope, key.user_id, key.key
    ))
}

impl Idempotency {
    /// Leases of [`LEASE_SECS`], records kept [`RETENTION_HOURS`].
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self::with_timing(
            store,
            Duration::seconds(LEASE_SECS),
            Duration::hours(RETENTION_HOURS),
        )
    }

    /// Another lease (for a handler that may run longer) and retention.
    pub fn with_timing(store: Arc<dyn ItemStore>, lease: Duration, retention: Duration) -> Self {
        Self {
            store,
            lease,
            retention,
        }
    }

    /// The completion of [`IdempotencyStore::complete`] as a write, to commit in the
    /// change's own transaction (the order's insert and its stored answer together). If
    /// the transaction fails on this write's condition, the claim was no longer held and
    /// nothing was written: claim again to learn the outcome.
    pub fn complete_in(
        &self,
        key: &ClaimKey,
        fingerprint: &Fingerprint,
        response: &StoredResponse,
    ) -> Write {
        let now = Utc::now();
        let updates = vec![
            Update::set(STATUS, s(COMPLETED)),
            Update::set("responseStatus", n(response.status)),
            Update::set("responseBody", s(response.body.to_string())),
            Update::set(
                "completedAt",
                s(now.to_rfc3339_opts(SecondsFormat::Millis, true)),
            ),
            Update::set(EXPIRES_AT, n((now + self.retention).timestamp())),
            Update::remove(LEASE_UNTIL),
        ];
        Write::update(
            &IDEMPOTENCY,
            claim_record(key),
            updates,
            Some(held(fingerprint)),
        )
    }

    fn claim_write(&self, key: &ClaimKey, fingerprint: &Fingerprint, now: DateTime<Utc>) -> Write {
        let mut item = claim_record(key).to_item(&IDEMPOTENCY);
        item.insert(STATUS.into(), s(IN_PROGRESS));
        item.insert(FINGERPRINT.into(), s(fingerprint.as_str()));
        item.insert(LEASE_UNTIL.into(), n((now + self.lease).timestamp_millis()));
        item.insert(EXPIRES_AT.into(), n((now + self.retention).timestamp()));
        item.insert(
            "claimedAt".into(),
            s(now.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        Write::put(&IDEMPOTENCY, item, Some(claimable(fingerprint, now)))
    }
}

/// What a claim may overwrite: no record, an expired one (DynamoDB's TTL sweep lags by
/// days), or a claim of the same request whose lease ran out.
fn claimable(fingerprint: &Fingerprint, now: DateTime<Utc>) -> Condition {
    Condition::Any(vec![
        Condition::NotExists,
        Condition::at_most(EXPIRES_AT, n(now.timestamp())),
        Condition::All(vec![
            Condition::equals(STATUS, s(IN_PROGRESS)),
            Condition::at_most(LEASE_UNTIL, n(now.timestamp_millis())),
            Condition::equals(FINGERPRINT, s(fingerprint.as_str())),
        ]),
    ])
}

/// A live claim of the request with `fingerprint`, not yet completed.
fn held(fingerprint: &Fingerprint) -> Condition {
    Condition::All(vec![
        Condition::Exists,
        Condition::equals(STATUS, s(IN_PROGRESS)),
        Condition::equals(FINGERPRINT, s(fingerprint.as_str())),
    ])
}

/// What the record that refused a claim says; `None` if its lease has run out since (the
/// claim may take it over now).
fn refusal(
    item: &Item,
    fingerprint: &Fingerprint,
    now: DateTime<Utc>,
) -> Result<Option<Claim>, StoreError> {
    if text(item, FINGERPRINT) != Some(fingerprint.as_str()) {
        return Ok(Some(Claim::KeyReused));
    }
    match text(item, STATUS) {
        Some(COMPLETED) => Ok(Some(Claim::Replay(stored_response(item)?))),
        Some(IN_PROGRESS) => {
            let lease = item.get(LEASE_UNTIL).and_then(number);
            let live = lease.is_some_and(|until| until > i128::from(now.timestamp_millis()));
            Ok(live.then_some(Claim::InProgress))
        }
        other => Err(StoreError::backend_message(
            "reading an idempotency record",
            format!("unknown status {other:?}"),
        )),
    }
}

fn stored_response(item: &Item) -> Result<StoredResponse, StoreError> {
    let status = item
        .get("responseStatus")
        .and_then(number)
        .and_then(|status| u16::try_from(status).ok());
    let body = text(item, "responseBody").map(serde_json::from_str);
    match (status, body) {
        (Some(status), Some(Ok(body))) => Ok(StoredResponse { status, body }),
        _ => Err(StoreError::backend_message(
            "reading an idempotency record",
            "a completed record lacks its response",
        )),
    }
}

#[async_trait]
impl IdempotencyStore for Idempotency {
    async fn claim(&self, key: &ClaimKey, fingerprint: &Fingerprint) -> Result<Claim, StoreError> {
        let record = claim_record(key);
        for _ in 0..CLAIM_ATTEMPTS {
            let write = self.claim_write(key, fingerprint, Utc::now());
            match self.store.write(write).await {
                Ok(_) => return Ok(Claim::Claimed),
                Err(ItemError::ConditionFailed { .. }) => {}
                Err(other) => return Err(other.into()),
            }
            // Gone since (released or expired): claim it again.
            let Some(item) = self.store.get(&IDEMPOTENCY, &record, true).await? else {
                continue;
            };
            if let Some(refused) = refusal(&item, fingerprint, Utc::now())? {
                return Ok(refused);
            }
        }
        // The record kept changing under us: some request with this key is busy.
        Ok(Claim::InProgress)
    }

    async fn complete(
        &self,
        key: &ClaimKey,
        fingerprint: &Fingerprint,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let write = self.complete_in(key, fingerprint, response);
        match self.store.write(write).await {
            Ok(_) => Ok(()),
            Err(ItemError::ConditionFailed { .. }) => Err(StoreError::VersionConflict),
            Err(other) => Err(other.into()),
        }
    }

    async fn release(&self, key: &ClaimKey, fingerprint: &Fingerprint) -> Result<(), StoreError> {
        let write = Write::delete(&IDEMPOTENCY, claim_record(key), Some(held(fingerprint)));
        match self.store.write(write).await {
            Ok(_) | Err(ItemError::ConditionFailed { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}

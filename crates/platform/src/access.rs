//! What an account may do, cached briefly: every protected request asks, so the answer is
//! kept for a few seconds per account (never more than 30 s, the most authorization may lag
//! behind a change to the account). A token issued after the answer was read always reads
//! again, so an account promoted and logged in again acts with its new role at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::clock::{Clock, SystemClock};
use milkrun_domain::ports::{Access, AccessLookup};
use uuid::Uuid;

/// The longest an account's access may be served from memory.
pub const MAX_CACHE_AGE: Duration = Duration::from_secs(30);
/// How long it is by default: a disabled account loses its tokens' powers within this.
pub const DEFAULT_CACHE_AGE: Duration = Duration::from_secs(10);
/// Accounts remembered at once; past it, the oldest answers are dropped.
const MAX_ENTRIES: usize = 10_000;
/// A token's `iat` is in whole seconds: an answer read in the second the token was issued
/// may still be older than the token, so it counts as older.
const ISSUED_AT_PRECISION: TimeDelta = TimeDelta::seconds(1);

type Entries = HashMap<Uuid, (DateTime<Utc>, Option<Access>)>;

pub struct CachedAccess {
    inner: Arc<dyn AccessLookup>,
    age: TimeDelta,
    clock: Arc<dyn Clock>,
    entries: Mutex<Entries>,
}

impl CachedAccess {
    /// Caches `inner`'s answers for `age` (capped at [`MAX_CACHE_AGE`]).
    pub fn new(inner: Arc<dyn AccessLookup>, age: Duration) -> Self {
        Self::with_clock(inner, age, Arc::new(SystemClock))
    }

    /// The same, telling the time by `clock`.
    pub fn with_clock(inner: Arc<dyn AccessLookup>, age: Duration, clock: Arc<dyn Clock>) -> Self {
        let age = age.min(MAX_CACHE_AGE);
        Self {
            inner,
            age: TimeDelta::from_std(age).unwrap_or(TimeDelta::zero()),
            clock,
            entries: Mutex::default(),
        }
    }

    /// The answer kept for `user_id` if it is younger than the cache's age and was read
    /// after `not_before`.
    fn fresh(&self, user_id: Uuid, not_before: Option<DateTime<Utc>>) -> Option<Option<Access>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (read_at, access) = entries.get(&user_id)?;
        // A wall clock may step back: an answer from the "future" is expired, never young,
        // so no answer outlives the cap.
        let age = self.clock.now() - *read_at;
        let young = age >= TimeDelta::zero() && age < self.age;
        let after_token = not_before.is_none_or(|issued| *read_at >= issued + ISSUED_AT_PRECISION);
        (young && after_token).then(|| access.clone())
    }

    fn keep(&self, user_id: Uuid, read_at: DateTime<Utc>, access: Option<Access>) {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| now >= *at && now - *at < self.age);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(user_id, (read_at, access));
    }

    async fn lookup(
        &self,
        user_id: Uuid,
        not_before: Option<DateTime<Utc>>,
    ) -> Result<Option<Access>, StoreError> {
        if let Some(access) = self.fresh(user_id, not_before) {
            return Ok(access);
        }
        // Stamped before the read: a change landing during the read is not taken as seen.
        let read_at = self.clock.now();
        let access = self.inner.access(user_id).await?;
        self.keep(user_id, read_at, access.clone());
        Ok(access)
    }
}

#[async_trait]
impl AccessLookup for CachedAccess {
    async fn access(&self, user_id: Uuid) -> Result<Option<Access>, StoreError> {
        self.lookup(user_id, None).await
    }

    async fn access_for_token(
        &self,
        user_id: Uuid,
        token_issued_at: DateTime<Utc>,
    ) -> Result<Option<Access>, StoreError> {
        self.lookup(user_id, Some(token_issued_at)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use milkrun_domain::clock::ManualClock;
    use milkrun_domain::values::Role;

    use super::*;

    /// An account store that counts its reads and whose role can be changed.
    struct Accounts {
        reads: AtomicU32,
        role: Mutex<Role>,
    }

    impl Accounts {
        fn new(role: Role) -> Arc<Self> {
            Arc::new(Self {
                reads: AtomicU32::new(0),
                role: Mutex::new(role),
            })
        }

        fn reads(&self) -> u32 {
            self.reads.load(Ordering::SeqCst)
        }

        fn promote(&self, role: Role) {
            *self.role.lock().unwrap() = role;
        }
    }

    #[async_trait]
    impl AccessLookup for Accounts {
        async fn access(&self, user_id: Uuid) -> Result<Option<Access>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(Some(Access {
                user_id,
                role: *self.role.lock().unwrap(),
                vendor_id: None,
                active: true,
            }))
        }
    }

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 250_000_000).unwrap()
    }

    /// A customer's account, a clock standing at [`start`], and a 10 s cache over them.
    fn world() -> (Arc<Accounts>, Arc<ManualClock>, CachedAccess, Uuid) {
        let accounts = Accounts::new(Role::Customer);
        let clock = Arc::new(ManualClock::at(start()));
        let cache =
            CachedAccess::with_clock(accounts.clone(), Duration::from_secs(10), clock.clone());
        (accounts, clock, cache, Uuid::new_v4())
    }

    #[tokio::test]
    async fn answers_are_kept_for_their_age_and_no_longer() {
        let (accounts, clock, cache, user) = world();
        cache.access(user).await.unwrap();
        clock.advance(TimeDelta::milliseconds(9_999));
        cache.access(user).await.unwrap();
        assert_eq!(
            accounts.reads(),
            1,
            "an answer 9.999 s old comes from memory"
        );
        clock.advance(TimeDelta::milliseconds(1));
        cache.access(user).await.unwrap();
        assert_eq!(accounts.reads(), 2, "an answer 10 s old is asked again");
    }

    #[tokio::test]
    async fn an_answer_is_read_again_when_the_clock_steps_back() {
        let (accounts, clock, cache, user) = world();
        cache.access(user).await.unwrap();
        clock.advance(TimeDelta::seconds(-3600));
        cache.access(user).await.unwrap();
        assert_eq!(
            accounts.reads(),
            2,
            "an answer from the future is not young"
        );
    }

    #[test]
    fn the_age_is_capped_at_thirty_seconds() {
        let capped = CachedAccess::new(Accounts::new(Role::Admin), Duration::from_secs(3600));
        assert_eq!(capped.age, TimeDelta::from_std(MAX_CACHE_AGE).unwrap());
    }

    #[tokio::test]
    async fn a_token_issued_after_the_answer_reads_the_account_again() {
        let (accounts, clock, cache, user) = world();
        let old_token = start() - TimeDelta::hours(1);
        let first = cache
            .access_for_token(user, old_token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.role, Role::Customer);

        // GIVEN a promotion, and a login two seconds later
        accounts.promote(Role::Manager);
        clock.advance(TimeDelta::seconds(2));
        let new_token = DateTime::from_timestamp(clock.now().timestamp(), 0).unwrap();

        // THEN the old token still rides the cache, the new one reads the account at once
        let with_old = cache
            .access_for_token(user, old_token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((with_old.role, accounts.reads()), (Role::Customer, 1));
        let with_new = cache
            .access_for_token(user, new_token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((with_new.role, accounts.reads()), (Role::Manager, 2));

        // AND once read after the token's second, the answer is kept again
        clock.advance(TimeDelta::seconds(1));
        cache.access_for_token(user, new_token).await.unwrap();
        assert_eq!(
            accounts.reads(),
            3,
            "the answer read in the token's second is read again"
        );
        cache.access_for_token(user, new_token).await.unwrap();
        cache.access(user).await.unwrap();
        assert_eq!(accounts.reads(), 3);
    }

    #[tokio::test]
    async fn an_answer_read_in_the_tokens_own_second_counts_as_older() {
        let (accounts, _clock, cache, user) = world();
        cache.access(user).await.unwrap();
        // iat is whole seconds: this token may have been issued after the read at .250
        let same_second = DateTime::from_timestamp(start().timestamp(), 0).unwrap();
        cache.access_for_token(user, same_second).await.unwrap();
        assert_eq!(accounts.reads(), 2);
    }
}

//! What an account may do, cached briefly: every protected request asks, so the answer is
//! kept for a few seconds per account (never more than 30 s, the most authorization may lag
//! behind a change to the account).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use milkrun_domain::StoreError;
use milkrun_domain::ports::{Access, AccessLookup};
use uuid::Uuid;

/// The longest an account's access may be served from memory.
pub const MAX_CACHE_AGE: Duration = Duration::from_secs(30);
/// How long it is by default: a disabled account loses its tokens' powers within this.
pub const DEFAULT_CACHE_AGE: Duration = Duration::from_secs(10);
/// Accounts remembered at once; past it, the oldest answers are dropped.
const MAX_ENTRIES: usize = 10_000;

type Entries = HashMap<Uuid, (Instant, Option<Access>)>;

pub struct CachedAccess {
    inner: Arc<dyn AccessLookup>,
    age: Duration,
    entries: Mutex<Entries>,
}

impl CachedAccess {
    /// Caches `inner`'s answers for `age` (capped at [`MAX_CACHE_AGE`]).
    pub fn new(inner: Arc<dyn AccessLookup>, age: Duration) -> Self {
        Self {
            inner,
            age: age.min(MAX_CACHE_AGE),
            entries: Mutex::default(),
        }
    }

    fn fresh(&self, user_id: Uuid) -> Option<Option<Access>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, access) = entries.get(&user_id)?;
        (at.elapsed() < self.age).then(|| access.clone())
    }

    fn keep(&self, user_id: Uuid, access: Option<Access>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            let age = self.age;
            entries.retain(|_, (at, _)| at.elapsed() < age);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(user_id, (Instant::now(), access));
    }
}

#[async_trait]
impl AccessLookup for CachedAccess {
    async fn access(&self, user_id: Uuid) -> Result<Option<Access>, StoreError> {
        if let Some(access) = self.fresh(user_id) {
            return Ok(access);
        }
        let access = self.inner.access(user_id).await?;
        self.keep(user_id, access.clone());
        Ok(access)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use milkrun_domain::values::Role;

    use super::*;

    struct Counting(AtomicU32, Role);

    #[async_trait]
    impl AccessLookup for Counting {
        async fn access(&self, user_id: Uuid) -> Result<Option<Access>, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Some(Access {
                user_id,
                role: self.1,
                vendor_id: None,
                active: true,
            }))
        }
    }

    #[tokio::test]
    async fn answers_are_kept_for_their_age_and_never_past_thirty_seconds() {
        let inner = Arc::new(Counting(AtomicU32::new(0), Role::Admin));
        let cache = CachedAccess::new(inner.clone(), Duration::from_millis(50));
        let user = Uuid::new_v4();
        cache.access(user).await.unwrap();
        cache.access(user).await.unwrap();
        assert_eq!(
            inner.0.load(Ordering::SeqCst),
            1,
            "the second answer came from memory"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        cache.access(user).await.unwrap();
        assert_eq!(
            inner.0.load(Ordering::SeqCst),
            2,
            "an old answer is asked again"
        );
        let capped = CachedAccess::new(inner, Duration::from_secs(3600));
        assert_eq!(capped.age, MAX_CACHE_AGE);
    }
}

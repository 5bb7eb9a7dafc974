//! Optimistic updates: read, change, write back only if nobody wrote in between, and try
//! again from a fresh read when somebody did.

use std::future::Future;

use crate::error::{DomainError, StoreError};

/// How often a lost race is retried before the caller is told to try again.
pub const MAX_UPDATE_ATTEMPTS: usize = 5;

/// Loads the current `what`, applies `change`, and saves it with `save` (a compare-and-swap
/// on the version read), retrying after `StoreError::VersionConflict`.
pub async fn update_with_retry<T, Load, Loaded, Save, Saved>(
    what: &'static str,
    load: Load,
    change: impl Fn(T) -> Result<T, DomainError>,
    save: Save,
) -> Result<T, DomainError>
where
    Load: Fn() -> Loaded,
    Loaded: Future<Output = Result<T, DomainError>>,
    Save: Fn(T) -> Saved,
    Saved: Future<Output = Result<T, StoreError>>,
{
    for _ in 0..MAX_UPDATE_ATTEMPTS {
        let changed = change(load().await?)?;
        match save(changed).await {
            Ok(saved) => return Ok(saved),
            Err(StoreError::VersionConflict) => continue,
            Err(StoreError::NotFound) => return Err(DomainError::NotFound(what)),
            Err(other) => return Err(other.into()),
        }
    }
    Err(DomainError::Conflict(
        "The record was changed concurrently; try again.",
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_lost_race_is_retried_from_a_fresh_read() {
        let saves = AtomicUsize::new(0);
        let saved = update_with_retry(
            "thing",
            || async { Ok(1) },
            |n| Ok(n + 1),
            |n| {
                let attempt = saves.fetch_add(1, Ordering::SeqCst);
                async move {
                    if attempt < 2 {
                        Err(StoreError::VersionConflict)
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(saved.unwrap(), 2);
        assert_eq!(saves.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn endless_races_end_in_a_conflict_and_a_vanished_record_in_not_found() {
        let raced = update_with_retry(
            "thing",
            || async { Ok(1) },
            Ok,
            |_| async { Err::<i32, _>(StoreError::VersionConflict) },
        )
        .await;
        assert!(matches!(raced, Err(DomainError::Conflict(_))));
        let gone = update_with_retry(
            "thing",
            || async { Ok(1) },
            Ok,
            |_| async { Err::<i32, _>(StoreError::NotFound) },
        )
        .await;
        assert!(matches!(gone, Err(DomainError::NotFound("thing"))));
    }
}

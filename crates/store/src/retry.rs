//! Optimistic updates: read, change, write back only if nobody wrote in between, and try
//! again from a fresh read, after a short random pause, when somebody did.

use std::future::Future;
use std::time::Duration;

use milkrun_domain::{DomainError, StoreError};
use rand::Rng;

/// How often a lost race is retried before the caller is told to try again. High, because
/// a hot row (one product's stock under a rush) can see dozens of writers at once; each
/// round lets one of them through.
pub const MAX_ATTEMPTS: u32 = 50;

/// Runs `attempt` until it does not lose a race (`StoreError::VersionConflict`); a vanished
/// record (`StoreError::NotFound`) is `DomainError::NotFound(what)`.
pub async fn retry_on_conflict<T, Attempt, Outcome>(
    what: &'static str,
    mut attempt: Attempt,
) -> Result<T, DomainError>
where
    Attempt: FnMut() -> Outcome,
    Outcome: Future<Output = Result<T, DomainError>>,
{
    for round in 0..MAX_ATTEMPTS {
        match attempt().await {
            Err(DomainError::Store(StoreError::VersionConflict)) => pause(round).await,
            Err(DomainError::Store(StoreError::NotFound)) => {
                return Err(DomainError::NotFound(what));
            }
            other => return other,
        }
    }
    Err(DomainError::conflict(format!(
        "The {what} was changed concurrently; try again."
    )))
}

/// A random pause that grows with the round (up to ~64 ms), so racers spread out.
async fn pause(round: u32) {
    let ceiling = 1u64 << round.min(6);
    let millis = rand::rng().random_range(0..=ceiling);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_lost_race_is_retried_from_a_fresh_read() {
        let tries = AtomicU32::new(0);
        let saved = retry_on_conflict("thing", || {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(StoreError::VersionConflict.into())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(saved.unwrap(), 2);
    }

    #[tokio::test]
    async fn endless_races_end_in_a_conflict_and_a_vanished_record_in_not_found() {
        let raced = retry_on_conflict("thing", || async {
            Err::<(), _>(StoreError::VersionConflict.into())
        })
        .await;
        assert_eq!(
            raced.unwrap_err().code(),
            milkrun_domain::ErrorCode::Conflict
        );
        let gone = retry_on_conflict("thing", || async {
            Err::<(), _>(StoreError::NotFound.into())
        })
        .await;
        assert!(matches!(gone, Err(DomainError::NotFound("thing"))));
    }
}

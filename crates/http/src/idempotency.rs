//! The `Idempotency-Key` layer any route uses (SPEC §5): claim the key with the body's
//! fingerprint, run the handler once, and store its answer for every retry.
//!
//! ```ignore
//! let key = IdempotencyHeader::from(&headers).claim_key("orders", user_id)?;
//! idempotent(store, key, &body_json, |completion| async move {
//!     // ... write the change; with `completion` in the same transaction if the store can,
//!     // else answer `Completed::Later` and the layer completes after.
//! }).await
//! ```
//!
//! How a claim ends (see `milkrun_domain::idempotency` for why):
//! - the handler answered: its response is stored (by the handler, in its own transaction,
//!   or here) and replayed to every retry with the same body;
//! - the handler refused (any error): the claim is released, so a retry runs afresh;
//! - the process died in between: the lease runs out and the next retry takes it over.

use axum::http::{HeaderMap, StatusCode};
use milkrun_domain::DomainError;
use milkrun_domain::FieldErrors;
use milkrun_domain::idempotency::{ClaimKey, Fingerprint, IdempotencyKey, StoredResponse};
use milkrun_domain::ports::IdempotencyStore;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;

pub const HEADER: &str = "idempotency-key";

/// The claim a handler may complete inside its own transaction (the domain's: use cases
/// take it without knowing HTTP).
pub use milkrun_domain::idempotency::Completion;

/// What a handler answered, and whether its stored answer is already committed.
pub struct Answer {
    pub response: StoredResponse,
    pub completed: bool,
}

impl Answer {
    /// A use case committed `response` with its change (a [`Completion`] it was given).
    pub fn recorded(response: StoredResponse) -> Self {
        Self {
            response,
            completed: true,
        }
    }

    /// The layer stores the answer after the handler.
    pub fn later(status: StatusCode, body: Value) -> Self {
        Self::new(status, body, false)
    }

    fn new(status: StatusCode, body: Value, completed: bool) -> Self {
        Self {
            response: StoredResponse {
                status: status.as_u16(),
                body,
            },
            completed,
        }
    }
}

/// The request's `Idempotency-Key` for `scope` and the caller, if it sent one (a malformed
/// one is a 400 naming the header).
pub fn claim_key(
    headers: &HeaderMap,
    scope: &'static str,
    user_id: Uuid,
) -> Result<Option<ClaimKey>, ApiError> {
    let Some(raw) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .ok()
        .and_then(|raw| IdempotencyKey::parse(raw).ok())
        .ok_or_else(|| {
            ApiError::validation(&FieldErrors::single(
                "Idempotency-Key",
                "must be 1 to 255 printable ASCII characters, without surrounding spaces",
            ))
        })?;
    Ok(Some(ClaimKey::new(scope, user_id, key)))
}

/// Runs `handler` at most once per key and body; without a key it simply runs.
pub async fn idempotent<Handler, Outcome>(
    store: &dyn IdempotencyStore,
    key: Option<ClaimKey>,
    body: &Value,
    handler: Handler,
) -> Result<StoredResponse, ApiError>
where
    Handler: FnOnce(Option<Completion>) -> Outcome,
    Outcome: Future<Output = Result<Answer, DomainError>>,
{
    let Some(key) = key else {
        return Ok(handler(None).await?.response);
    };
    let fingerprint = Fingerprint::of(body);
    let claim = store
        .claim(&key, &fingerprint)
        .await
        .map_err(DomainError::from)?;
    if let Some(stored) = claim.proceed()? {
        return Ok(stored);
    }
    let completion = Completion {
        key: key.clone(),
        fingerprint: fingerprint.clone(),
    };
    match handler(Some(completion)).await {
        Ok(answer) if answer.completed => Ok(answer.response),
        Ok(answer) => {
            store
                .complete(&key, &fingerprint, &answer.response)
                .await
                .map_err(DomainError::from)?;
            Ok(answer.response)
        }
        Err(refusal) => {
            if let Err(error) = store.release(&key, &fingerprint).await {
                tracing::warn!(%error, "releasing an idempotency claim failed; its lease will run out");
            }
            Err(refusal.into())
        }
    }
}

/// A stored answer as the response it was.
pub fn respond(stored: StoredResponse) -> (StatusCode, axum::Json<Value>) {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    (status, axum::Json(stored.body))
}

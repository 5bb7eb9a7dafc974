//! Idempotent requests (SPEC §5): a client sends an `Idempotency-Key` with a request that
//! must not happen twice (`POST /orders`, `POST /payments`). The first request with a key
//! claims it, with a fingerprint of its body; a retry with the same body is answered the
//! first one's stored response, one with another body is refused 422
//! `IDEMPOTENCY_KEY_REUSED`, and one that arrives while the first still runs is refused 409
//! `IDEMPOTENCY_IN_PROGRESS`. Nothing here knows HTTP or storage: the store behind
//! [`crate::ports::IdempotencyStore`] makes each claim one atomic conditional write.
//!
//! A handler that claimed a key ends in one of two ways:
//! - **complete** when it committed a change (2xx; or a refusal it recorded, such as an
//!   order written as `FAILED`): the response is stored and every retry replays it. Where
//!   the store offers it, the completion goes in the change's own transaction, so the change
//!   and its stored answer commit together or not at all.
//! - **release** when it changed nothing: validation (400), authorization (401, 403), not
//!   found (404), a lost race (409 `CONFLICT`), throttling (429) and every 5xx. A retry with
//!   the same key then runs afresh, which is safe because nothing was written (and lets a
//!   client correct a refused body without a new key).
//!
//! A holder that crashes in between releases nothing; its claim's lease runs out and the
//! next retry with the same body takes it over.

use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::values::InvalidValue;

/// The longest key a client may send, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// A client's `Idempotency-Key`: 1 to 255 printable ASCII characters (space to `~`), not
/// starting or ending with a space (a header value would lose it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let printable = raw.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
        let trimmed = !raw.starts_with(' ') && !raw.ends_with(' ');
        if raw.is_empty() || raw.len() > MAX_KEY_CHARS || !printable || !trimmed {
            return Err(InvalidValue(
                "must be 1 to 255 printable ASCII characters, without surrounding spaces",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which claim a key names: the operation (`orders`, `payments`), the caller and the
/// client's key. Two users, or two operations, never share a claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimKey {
    pub scope: &'static str,
    pub user_id: Uuid,
    pub key: IdempotencyKey,
}

impl ClaimKey {
    /// # Panics
    /// If `scope` is not 1 to 32 lower-case letters, digits or `-`: scopes are constants
    /// in code, and the record key relies on them holding no separator.
    pub fn new(scope: &'static str, user_id: Uuid, key: IdempotencyKey) -> Self {
        let valid = (1..=32).contains(&scope.len())
            && scope
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        assert!(
            valid,
            "idempotency scope {scope:?} is not a lower-case name"
        );
        Self {
            scope,
            user_id,
            key,
        }
    }
}

/// What a request asked for, as the SHA-256 (lower-case hex) of its canonical JSON: object
/// keys sorted at every depth, no insignificant white space. The same body with its fields
/// in another order has the same fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(body: &Value) -> Self {
        let canonical = serde_json::to_vec(&canonical(body)).expect("a JSON value serializes");
        let digest = Sha256::digest(&canonical);
        Self(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `value` with every object's entries in key order. serde_json's map is key-ordered
/// already unless its `preserve_order` feature is on (it is not in this workspace); sorting
/// here keeps fingerprints stable even if some dependency turns it on.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let sorted: Map<String, Value> = entries
                .into_iter()
                .map(|(key, value)| (key.clone(), canonical(value)))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// A claimed key a change may complete in its own transaction: the change's writes and
/// the stored answer commit together or not at all (see the module documentation). A use
/// case that takes one records its answer with the change; the HTTP layer hands it the
/// claim it made for the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub key: ClaimKey,
    pub fingerprint: Fingerprint,
}

/// The response a completed request answered, replayed to every retry.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Value,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key is this request's now: go ahead, then complete or release it.
    Claimed,
    /// A request with the same body completed: answer its response again.
    Replay(StoredResponse),
    /// A request with the same body holds the key and its lease is still running.
    InProgress,
    /// The key was used with another body (running or completed).
    KeyReused,
}

impl Claim {
    /// `Ok(None)`: go ahead; `Ok(Some(response))`: answer the stored response; otherwise
    /// the SPEC's refusal, 409 `IDEMPOTENCY_IN_PROGRESS` or 422 `IDEMPOTENCY_KEY_REUSED`.
    pub fn proceed(self) -> Result<Option<StoredResponse>, DomainError> {
        match self {
            Claim::Claimed => Ok(None),
            Claim::Replay(response) => Ok(Some(response)),
            Claim::InProgress => Err(in_progress()),
            Claim::KeyReused => Err(DomainError::refused(
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was already used with a different request.",
            )),
        }
    }
}

/// The refusal of a request whose key another request holds and has not answered yet.
pub fn in_progress() -> DomainError {
    DomainError::refused(
        ErrorCode::IdempotencyInProgress,
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_one_to_255_printable_ascii_characters() {
        for good in ["a", "order-2026-11-22#1", "key with inner spaces", "~!@{}|"] {
            assert_eq!(IdempotencyKey::parse(good).unwrap().as_str(), good);
        }
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_KEY_CHARS)).is_ok());
        let bad = [
            String::new(),
            "k".repeat(MAX_KEY_CHARS + 1),
            "tab\tinside".into(),
            "line\nbreak".into(),
            "dél".into(),
            " leading".into(),
            "trailing ".into(),
            "\u{7f}".into(),
        ];
        for raw in bad {
            assert!(IdempotencyKey::parse(&raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn the_same_body_in_any_field_order_has_one_fingerprint() {
        let body: Value = serde_json::from_str(
            r#"{"items":[{"productId":"p","quantity":2,"variantId":"v"}],"deliverySlot":"MORNING","address":{"pincode":"560001","city":"Bengaluru"}}"#,
        )
        .unwrap();
        let reordered: Value = serde_json::from_str(
            r#"{ "address": {"city": "Bengaluru", "pincode": "560001"},
                 "deliverySlot": "MORNING",
                 "items": [{"variantId": "v", "quantity": 2, "productId": "p"}] }"#,
        )
        .unwrap();
        let fingerprint = Fingerprint::of(&body);
        assert_eq!(fingerprint, Fingerprint::of(&reordered));
        assert_eq!(fingerprint.as_str().len(), 64);
        assert!(fingerprint.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!fingerprint.as_str().bytes().any(|b| b.is_ascii_uppercase()));
    }

    #[test]
    fn any_change_to_the_body_changes_the_fingerprint() {
        let base = Fingerprint::of(&json!({"items": [1, 2], "slot": "MORNING"}));
        for other in [
            json!({"items": [2, 1], "slot": "MORNING"}),
            json!({"items": [1, 2], "slot": "EVENING"}),
            json!({"items": [1, 2], "slot": "MORNING", "promoCode": null}),
            json!({"items": [1, 2]}),
        ] {
            assert_ne!(Fingerprint::of(&other), base, "{other}");
        }
    }

    #[test]
    fn the_canonical_form_is_sorted_compact_json() {
        let fingerprint = Fingerprint::of(&json!({"b": 1, "a": {"d": [true], "c": "x"}}));
        // SHA-256 of the exact text `{"a":{"c":"x","d":[true]},"b":1}`.
        let expected = Sha256::digest(br#"{"a":{"c":"x","d":[true]},"b":1}"#);
        let expected: String = expected.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(fingerprint.as_str(), expected);
    }

    #[test]
    fn only_in_progress_and_reuse_are_refused_with_their_spec_codes() {
        assert_eq!(Claim::Claimed.proceed().unwrap(), None);
        let response = StoredResponse {
            status: 201,
            body: json!({"orderId": "o-1", "status": "PENDING"}),
        };
        assert_eq!(
            Claim::Replay(response.clone()).proceed().unwrap(),
            Some(response)
        );
        let busy = Claim::InProgress.proceed().unwrap_err();
        assert_eq!(
            (busy.code(), busy.code().status()),
            (ErrorCode::IdempotencyInProgress, 409)
        );
        let reused = Claim::KeyReused.proceed().unwrap_err();
        assert_eq!(
            (reused.code(), reused.code().status()),
            (ErrorCode::IdempotencyKeyReused, 422)
        );
    }

    #[test]
    #[should_panic(expected = "not a lower-case name")]
    fn a_scope_with_a_separator_is_a_programming_error() {
        let key = IdempotencyKey::parse("k").unwrap();
        ClaimKey::new("orders#x", Uuid::nil(), key);
    }
}

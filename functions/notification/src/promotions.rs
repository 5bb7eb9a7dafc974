//! Promotions: an admin's message to every active customer with newsletterOptIn, sent in
//! batches. Starting one writes the promotion and its first PROMOTION_BATCH event in one
//! transaction; each batch (a page of the newsletter audience) delivers to its customers
//! through [`Deliverer`] and saves the cursor, counts and the next batch's event in one
//! versioned write. A crash or a redelivered event re-runs a batch from the saved cursor:
//! each recipient's notifications have ids derived from (promotionId, userId, channel) and
//! a channel already kept is not sent again, so nobody gets a promotion twice (except
//! across a crash between a send and its record: send, then record).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use milkrun_auth::KeyRing;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::events::{EventEnvelope, EventType, PromotionBatch};
use milkrun_domain::notification::Promotion;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{EventHandler, NewsletterAudience, PromotionStore};
use milkrun_domain::user::User;
use milkrun_domain::values::{InvalidValue, bounded_text};
use milkrun_domain::{DomainError, Effects, FieldErrors, StoreError};
use uuid::Uuid;

use crate::deliver::{Deliverer, Message, Recipient, Source, Variants};
use crate::templates::{self, PROMOTION};

/// Customers per batch: one page of the audience, delivered well inside a Lambda timeout.
pub const BATCH_SIZE: u32 = 25;
pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 5000;
const ENTITY: &str = "PROMOTION";

/// A promotion's text as an admin sends it, parsed.
#[derive(Debug, Clone)]
pub struct PromotionText {
    pub subject: String,
    pub body: String,
}

impl PromotionText {
    /// Subject: one line of 1–200 characters. Body: 1–5000 characters, line breaks and
    /// tabs allowed.
    pub fn parse(subject: Option<&str>, body: Option<&str>) -> Result<Self, DomainError> {
        let mut errors = FieldErrors::new();
        let required = || InvalidValue("is required");
        let subject = errors.check(
            "subject",
            subject
                .ok_or_else(required)
                .and_then(|s| bounded_text(s, MAX_SUBJECT_CHARS)),
        );
        let body = errors.check("body", body.ok_or_else(required).and_then(body_text));
        errors.into_result(|| Self {
            subject: subject.unwrap_or_default(),
            body: body.unwrap_or_default(),
        })
    }
}

/// What [`body_text`] takes, for the OpenAPI document: no control characters but line
/// breaks (`\n`, `\r`) and tabs, and at least one character that is not white space (the
/// classes of `milkrun_domain::values::patterns::TEXT`).
pub const BODY_PATTERN: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$";

/// Paragraphs are allowed in a body; other control characters are not.
fn body_text(raw: &str) -> Result<String, InvalidValue> {
    if raw.chars().count() > MAX_BODY_CHARS {
        return Err(InvalidValue("is too long"));
    }
    let layout = |c: char| matches!(c, '\n' | '\r' | '\t');
    if raw.chars().any(|c| c.is_control() && !layout(c)) {
        return Err(InvalidValue(
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    let trimmed = raw.trim();
    match trimmed.is_empty() {
        true => Err(InvalidValue("must not be blank")),
        false => Ok(trimmed.to_owned()),
    }
}

/// Writes a new promotion with its audit entry and its first batch's event.
pub async fn start(
    store: &dyn PromotionStore,
    actor: &AuditContext,
    text: PromotionText,
) -> Result<Promotion, DomainError> {
    let now = Utc::now();
    let promotion = Promotion {
        promotion_id: Uuid::now_v7(),
        subject: text.subject,
        body: text.body,
        sent: 0,
        skipped: 0,
        batches: 0,
        done: false,
        cursor: None,
        created_by: actor.user_id.ok_or(DomainError::Unauthorized)?,
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let first = PromotionBatch {
        promotion_id: promotion.promotion_id,
        batch: 0,
    };
    let entry = actor.entry("PROMOTION_STARTED", ENTITY, promotion.promotion_id);
    let effects = Effects::audited(entry).with_event(&first, &actor.correlation_id);
    store.create(&promotion, &effects).await?;
    Ok(promotion)
}

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchRun {
    /// The batch ran; the promotion as saved after it.
    Ran { sent: u64, skipped: u64, done: bool },
    /// Not this promotion's next batch (a redelivered or stale event), or no promotion.
    Stale,
}

/// Sends promotions' batches: the PROMOTION_BATCH consumer.
pub struct PromotionSender {
    pub promotions: Arc<dyn PromotionStore>,
    pub audience: Arc<dyn NewsletterAudience>,
    pub deliverer: Deliverer,
    pub keys: Arc<KeyRing>,
    /// Link prefix of the unsubscribe link; the token is appended.
    pub unsubscribe_url: String,
    pub batch_size: u32,
}

impl PromotionSender {
    /// Runs `batch` if it is the promotion's next one: delivers to one page of the
    /// audience from the saved cursor, then saves the progress with the next batch's event.
    pub async fn run_batch(
        &self,
        batch: &PromotionBatch,
        correlation_id: &str,
    ) -> Result<BatchRun, DomainError> {
        let Some(mut promotion) = self.promotions.get(batch.promotion_id).await? else {
            tracing::warn!(promotion_id = %batch.promotion_id, "a batch of an unknown promotion");
            return Ok(BatchRun::Stale);
        };
        if promotion.done || promotion.batches != batch.batch {
            return Ok(BatchRun::Stale);
        }
        let page = PageRequest {
            limit: self.batch_size,
            cursor: promotion.cursor.clone(),
        };
        let page = self.audience.opted_in(&page).await?;
        let (mut sent, mut skipped) = (0, 0);
        for user in &page.items {
            match self.send_to(&promotion, user).await? {
                true => sent += 1,
                false => skipped += 1,
            }
        }
        promotion.sent += sent;
        promotion.skipped += skipped;
        promotion.batches += 1;
        promotion.cursor = page.next_cursor;
        promotion.done = promotion.cursor.is_none();
        promotion.updated_at = Utc::now();
        self.save(promotion, correlation_id).await
    }

    /// Saves a batch's progress; the next batch's event commits with it.
    async fn save(
        &self,
        promotion: Promotion,
        correlation_id: &str,
    ) -> Result<BatchRun, DomainError> {
        let mut effects = Effects::none();
        if !promotion.done {
            let next = PromotionBatch {
                promotion_id: promotion.promotion_id,
                batch: promotion.batches,
            };
            effects = effects.with_event(&next, correlation_id);
        }
        match self.promotions.save(promotion, &effects).await {
            Ok(saved) => Ok(BatchRun::Ran {
                sent: saved.sent,
                skipped: saved.skipped,
                done: saved.done,
            }),
            // Another run of this batch saved first and carries on from there.
            Err(StoreError::VersionConflict) => Ok(BatchRun::Stale),
            Err(other) => Err(other.into()),
        }
    }

    /// Delivers `promotion` to `user`; `false` if nothing new was sent (already sent by an
    /// earlier run of this batch, or no channel takes it).
    async fn send_to(&self, promotion: &Promotion, user: &User) -> Result<bool, DomainError> {
        let token = self
            .keys
            .verification()
            .and_then(|tokens| tokens.issue_unsubscribe(user.user_id))
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let link = format!("{}{token}", self.unsubscribe_url);
        let (subject, body) = templates::promotion(&promotion.subject, &promotion.body, &link);
        let message = Message::new(PROMOTION, Recipient::Customer(user.user_id), subject, body);
        let variants = Variants {
            sms: Some(templates::promotion_sms(&promotion.subject)),
        };
        let source = Source {
            id: Uuid::new_v5(&promotion.promotion_id, user.user_id.as_bytes()),
            at: promotion.created_at,
            event_id: promotion.promotion_id,
        };
        let kept = self.deliverer.deliver(source, &message, &variants).await?;
        Ok(!kept.is_empty())
    }
}

#[async_trait]
impl EventHandler for PromotionSender {
    fn name(&self) -> &'static str {
        "promotion-batches"
    }

    fn wants(&self, event_type: EventType) -> bool {
        event_type == EventType::PromotionBatch
    }

    /// Every message goes through the deliverer under an id derived from the promotion and
    /// the customer, and a channel already kept is not sent again: a second delivery sends and
    /// keeps nothing without a processed-event record.
    fn deduplicates_itself(&self) -> bool {
        true
    }

    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError> {
        let batch: PromotionBatch = event
            .decode()
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let run = self.run_batch(&batch, &event.correlation_id).await?;
        tracing::info!(promotion_id = %batch.promotion_id, batch = batch.batch, ?run, "promotion batch");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_keeps_its_paragraphs_and_refuses_other_control_characters() {
        let parse = |body: &str| PromotionText::parse(Some("Sale"), Some(body));
        assert_eq!(parse(" a\n\tb\r\n ").unwrap().body, "a\n\tb");
        for bad in ["", " \n ", "a\u{1}b", "a\u{85}b"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&"x".repeat(MAX_BODY_CHARS + 1)).is_err());
        assert!(
            PromotionText::parse(Some("a\nb"), Some("ok")).is_err(),
            "one-line subject"
        );
        assert!(PromotionText::parse(None, Some("ok")).is_err());
    }

    #[test]
    fn the_documented_pattern_takes_what_the_parser_takes() {
        let pattern = regex::Regex::new(BODY_PATTERN).unwrap();
        let samples = [
            "a",
            " a\n\tb\r\n ",
            "",
            " \n ",
            "a\u{1}b",
            "a\u{85}b",
            "a\u{b}b",
            "\u{a0}\u{3000}",
            "ghee \u{2014} 20% off",
        ];
        for sample in samples {
            let parsed = PromotionText::parse(Some("Sale"), Some(sample)).is_ok();
            assert_eq!(pattern.is_match(sample), parsed, "{sample:?}");
        }
    }
}

//! The USER_REGISTERED consumer: the welcome mail with the email-verification link (an
//! ACCOUNT message: always by email), kept as the user's first notification.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_auth::KeyRing;
use milkrun_domain::DomainError;
use milkrun_domain::events::{EventEnvelope, EventType, UserRegistered};
use milkrun_domain::ports::EventHandler;

use crate::deliver::{Deliverer, Message, Recipient, Source, Variants};
use crate::templates::{self, WELCOME};

pub const KIND: &str = WELCOME;

pub struct WelcomeMail {
    pub deliverer: Deliverer,
    pub keys: Arc<KeyRing>,
    /// Link prefix; the verification token is appended.
    pub verify_email_url: String,
}

#[async_trait]
impl EventHandler for WelcomeMail {
    fn name(&self) -> &'static str {
        "welcome-mail"
    }

    fn wants(&self, event_type: EventType) -> bool {
        event_type == EventType::UserRegistered
    }

    /// Every message goes through the deliverer under an id derived from the event (its
    /// source), and a channel already kept is not sent again: a second delivery sends and
    /// keeps nothing without a processed-event record.
    fn deduplicates_itself(&self) -> bool {
        true
    }

    /// Sends, then keeps the notification: a crash between the two sends the mail again on
    /// redelivery rather than never (mail is at least once).
    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError> {
        let user: UserRegistered = event
            .decode()
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let token = self
            .keys
            .verification()
            .and_then(|tokens| tokens.issue(user.user_id, user.email.as_str()))
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let (subject, body) = templates::welcome(&user.name, &self.verify_email_url, &token);
        let message = Message::new(KIND, Recipient::Customer(user.user_id), subject, body);
        let source = Source {
            id: event.event_id,
            at: event.occurred_at,
            event_id: event.event_id,
        };
        self.deliverer
            .deliver(source, &message, &Variants::default())
            .await?;
        tracing::info!(user_id = %user.user_id, event_id = %event.event_id, "welcome mail sent");
        Ok(())
    }
}

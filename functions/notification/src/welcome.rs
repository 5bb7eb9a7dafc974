//! The USER_REGISTERED consumer: the welcome mail with the email-verification link, kept as
//! the user's first notification.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_auth::KeyRing;
use milkrun_domain::DomainError;
use milkrun_domain::events::{EventEnvelope, EventType, UserRegistered};
use milkrun_domain::notification::{Channel, Notification, NotificationStatus};
use milkrun_domain::ports::{EventHandler, Mail, Mailer, NotificationStore};

pub const KIND: &str = "WELCOME";

pub struct WelcomeMail {
    pub mailer: Arc<dyn Mailer>,
    pub notifications: Arc<dyn NotificationStore>,
    pub keys: Arc<KeyRing>,
    /// Link prefix; the verification token is appended.
    pub verify_email_url: String,
}

impl WelcomeMail {
    fn mail(&self, user: &UserRegistered, token: &str) -> Mail {
        Mail {
            to: user.email.clone(),
            subject: "Welcome to milkrun — please verify your email".into(),
            body: format!(
                "Hello {},\n\nWelcome to milkrun! Fresh milk at your door every morning.\n\n\
                 Please verify your email address: {}{}\n\n\
                 Or send this token to POST /users/verify-email: {}\n\nThe link is valid for 48 hours.\n",
                user.name, self.verify_email_url, token, token
            ),
            attachments: Vec::new(),
        }
    }
}

#[async_trait]
impl EventHandler for WelcomeMail {
    fn name(&self) -> &'static str {
        "welcome-mail"
    }

    fn wants(&self, event_type: EventType) -> bool {
        event_type == EventType::UserRegistered
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
        let mail = self.mail(&user, &token);
        self.mailer.send(&mail).await?;
        let notification = Notification {
            notification_id: Notification::id_for(event.event_id, KIND),
            user_id: user.user_id,
            channel: Channel::Email,
            kind: KIND.into(),
            subject: mail.subject,
            body: mail.body,
            status: NotificationStatus::Sent,
            created_at: event.occurred_at,
            event_id: event.event_id,
        };
        self.notifications.record(&notification).await?;
        tracing::info!(user_id = %user.user_id, event_id = %event.event_id, "welcome mail sent");
        Ok(())
    }
}

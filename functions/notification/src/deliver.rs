//! The one way a message reaches a person. Customers' messages go through
//! [`Deliverer::deliver`], which asks `Preferences::allows` for each channel and
//! keeps what happened as one notification per channel it went by:
//!
//! - EMAIL: mailed (SENT); SMS: texted to the phone as stored (SENT), SKIPPED without a
//!   phone, FAILED when SNS refuses it (SMS is optional: a refused text does not hold the
//!   mail back or retry it); IN_APP: kept (SENT), which is how it reaches the app.
//! - A channel the customer switched off is not used and keeps nothing, except that a
//!   message that went by no channel at all is kept once as IN_APP SKIPPED, so every
//!   message stays listable (SPEC §7); a promotion that goes by none is not kept.
//!
//! Vendors and the managers have no per-user preferences: a vendor's messages are mailed
//! to the vendor's address and kept under the vendorId, the managers' alerts are kept under
//! [`ADMIN`] as IN_APP, as they were before preferences existed.
//!
//! Each notification's id comes from its source and channel, and a channel already kept
//! is not sent again: a redelivered event or a repeated promotion batch sends nothing twice,
//! except across a crash between a send and its record (send first, then record: mail is
//! at least once, never lost).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use milkrun_domain::DomainError;
use milkrun_domain::notification::{Channel, MessageKind, Notification, NotificationStatus};
use milkrun_domain::ports::{
    Mail, Mailer, NotificationStore, Sms, SmsSender, UserLookup, VendorReads,
};
use milkrun_domain::user::User;
use milkrun_domain::values::Role;
use uuid::Uuid;

use crate::templates;

/// The recipient id of the managers' alerts (SPEC §3: a notification's owner is a userId, a
/// vendorId or `admin`).
pub const ADMIN: Uuid = Uuid::nil();

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// Mailed at the account's address, kept under the userId.
    Customer(Uuid),
    /// Mailed at the vendor's address, kept under the vendorId (a vendor's users list it
    /// there, without this consumer looking them up).
    Vendor(Uuid),
    /// The managers. No admin mailbox is configured for this consumer (the only admin
    /// address in the settings comes with the bootstrap admin's password, which this
    /// function must not hold), so an alert is logged and kept under [`ADMIN`] (`IN_APP`),
    /// not mailed.
    Admin,
}

impl Recipient {
    /// The id the notification is kept under.
    pub fn owner(self) -> Uuid {
        match self {
            Recipient::Customer(id) | Recipient::Vendor(id) => id,
            Recipient::Admin => ADMIN,
        }
    }
}

/// One message: its kind (the notification's type), what preference it follows, who it
/// is for and its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: &'static str,
    pub about: MessageKind,
    pub to: Recipient,
    pub subject: String,
    pub body: String,
}

impl Message {
    pub fn new(kind: &'static str, to: Recipient, subject: String, body: String) -> Self {
        Self {
            kind,
            about: templates::about(kind),
            to,
            subject,
            body,
        }
    }
}

/// What a message is made for: the id notifications are derived from (an event's, or a
/// promotion's recipient's), when it happened, and the event that caused it.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub event_id: Uuid,
}

/// The channel-specific text a message may carry instead of its body (a promotion's SMS
/// leaves out the footer).
#[derive(Debug, Clone, Default)]
pub struct Variants {
    pub sms: Option<String>,
}

#[derive(Clone)]
pub struct Deliverer {
    pub mailer: Arc<dyn Mailer>,
    pub sms: Arc<dyn SmsSender>,
    pub notifications: Arc<dyn NotificationStore>,
    pub users: Arc<dyn UserLookup>,
    pub vendors: Arc<dyn VendorReads>,
}

impl Deliverer {
    pub fn from_adapters(adapters: &milkrun_platform::Adapters) -> Self {
        let stores = &adapters.stores;
        Self {
            mailer: adapters.mailer.clone(),
            sms: adapters.sms.clone(),
            notifications: stores.notifications.clone(),
            users: stores.users.clone(),
            vendors: stores.vendors.clone(),
        }
    }

    /// Delivers `message` by every channel its recipient allows; answers what was kept
    /// (nothing when the recipient is gone: retrying would not bring them back).
    pub async fn deliver(
        &self,
        source: Source,
        message: &Message,
        variants: &Variants,
    ) -> Result<Vec<Notification>, DomainError> {
        match message.to {
            Recipient::Customer(user_id) => match self.users.by_id(user_id).await? {
                Some(user) => self.to_customer(source, message, variants, &user).await,
                None => Ok(gone(source, message)),
            },
            Recipient::Vendor(vendor_id) => match self.vendors.get(vendor_id).await? {
                Some(vendor) => {
                    let mail = Mail::text(vendor.email, &message.subject, &message.body);
                    self.once(source, message, Channel::Email, || self.mail(&mail))
                        .await
                        .map(|n| n.into_iter().collect())
                }
                None => Ok(gone(source, message)),
            },
            Recipient::Admin => {
                tracing::warn!(event_id = %source.event_id, kind = message.kind, subject = message.subject, body = message.body, "admin alert kept");
                let kept = self.once(source, message, Channel::InApp, || async {
                    Ok(NotificationStatus::Sent)
                });
                kept.await.map(|n| n.into_iter().collect())
            }
        }
    }

    async fn to_customer(
        &self,
        source: Source,
        message: &Message,
        variants: &Variants,
        user: &User,
    ) -> Result<Vec<Notification>, DomainError> {
        let allows = |c: &Channel| user.preferences.allows(message.about, *c);
        let channels: Vec<Channel> = Channel::ALL.into_iter().filter(allows).collect();
        // A promotion is not news the customer must be able to find: one nobody takes is
        // neither sent nor kept. Nor does one reach an account disabled or no longer a
        // customer since the audience index was read (the account as it is now decides).
        let promotion = message.about == MessageKind::Promotions;
        let still_audience = user.is_active() && user.role == Role::Customer;
        if promotion && (channels.is_empty() || !still_audience) {
            return Ok(Vec::new());
        }
        if channels.is_empty() {
            let skipped = async { Ok(NotificationStatus::Skipped) };
            return Ok(self
                .once(source, message, Channel::InApp, || skipped)
                .await?
                .into_iter()
                .collect());
        }
        let mut kept = Vec::new();
        for channel in channels {
            let sent = match channel {
                Channel::Email => {
                    let mail = Mail::text(user.email.clone(), &message.subject, &message.body);
                    self.once(source, message, channel, || self.mail(&mail))
                        .await?
                }
                Channel::Sms => {
                    let body = variants.sms.clone().unwrap_or_else(|| message.body.clone());
                    self.once(source, message, channel, || self.text(user, body))
                        .await?
                }
                Channel::InApp => {
                    self.once(source, message, channel, || async {
                        Ok(NotificationStatus::Sent)
                    })
                    .await?
                }
            };
            kept.extend(sent);
        }
        Ok(kept)
    }

    /// Sends by `channel` (through `send`) and keeps the outcome, unless that channel's
    /// notification is kept already (then nothing is sent again).
    async fn once<F, Fut>(
        &self,
        source: Source,
        message: &Message,
        channel: Channel,
        send: F,
    ) -> Result<Option<Notification>, DomainError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<NotificationStatus, DomainError>>,
    {
        let mut notification = notification(source, message, channel);
        if self.notifications.kept(&notification).await? {
            return Ok(None);
        }
        notification.status = send().await?;
        let kept = self.notifications.record(&notification).await?;
        if notification.status == NotificationStatus::Sent {
            // Counted here, once per message and channel actually sent: a redelivery that
            // finds it kept counts nothing.
            milkrun_metrics::notification_sent(channel);
        }
        if !kept {
            // Two deliveries of one event at once: both sent, the other kept it.
            tracing::warn!(event_id = %source.event_id, kind = message.kind, recipient = %notification.user_id, channel = channel.as_str(), "message sent again: another delivery kept it first");
            return Ok(None);
        }
        tracing::info!(event_id = %source.event_id, kind = message.kind, recipient = %notification.user_id, channel = channel.as_str(), status = ?notification.status, "message kept");
        Ok(Some(notification))
    }

    async fn mail(&self, mail: &Mail) -> Result<NotificationStatus, DomainError> {
        self.mailer.send(mail).await?;
        Ok(NotificationStatus::Sent)
    }

    /// SMS to the phone as stored; none stored: SKIPPED. A refusal is FAILED, not retried.
    async fn text(&self, user: &User, body: String) -> Result<NotificationStatus, DomainError> {
        let Some(phone) = user.phone.clone() else {
            return Ok(NotificationStatus::Skipped);
        };
        match self.sms.send(&Sms { to: phone, body }).await {
            Ok(()) => Ok(NotificationStatus::Sent),
            Err(error) => {
                tracing::warn!(user_id = %user.user_id, %error, "text message refused");
                Ok(NotificationStatus::Failed)
            }
        }
    }
}

/// The notification of `message` by `channel` (its status set once it is known).
fn notification(source: Source, message: &Message, channel: Channel) -> Notification {
    // The managers' alerts keep the id they had before channels (their only one).
    let id = match message.to {
        Recipient::Admin => Notification::id_for(source.id, message.kind),
        _ => Notification::id_on(source.id, message.kind, channel),
    };
    Notification {
        notification_id: id,
        user_id: message.to.owner(),
        channel,
        kind: message.kind.into(),
        subject: message.subject.clone(),
        body: message.body.clone(),
        status: NotificationStatus::Skipped,
        created_at: source.at,
        event_id: source.event_id,
    }
}

fn gone(source: Source, message: &Message) -> Vec<Notification> {
    tracing::warn!(event_id = %source.event_id, kind = message.kind, recipient = ?message.to, "recipient not found; message skipped");
    Vec::new()
}

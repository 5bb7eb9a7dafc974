//! Messages the platform sends people, kept so that each recipient can list their own.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::events::{EventEnvelope, Topic};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    Email,
    Sms,
    InApp,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::InApp];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "EMAIL",
            Channel::Sms => "SMS",
            Channel::InApp => "IN_APP",
        }
    }
}

/// What a message to a customer is about: the unit a customer switches channels for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageKind {
    /// Welcome and email verification: always by email, not switchable (an account must be
    /// reachable to be verified).
    Account,
    OrderUpdates,
    PaymentUpdates,
    DeliveryUpdates,
    SubscriptionUpdates,
    Wallet,
    /// Also needs `newsletterOptIn`: a promotion goes only to customers who opted in.
    Promotions,
}

impl MessageKind {
    pub const ALL: [MessageKind; 7] = [
        MessageKind::Account,
        MessageKind::OrderUpdates,
        MessageKind::PaymentUpdates,
        MessageKind::DeliveryUpdates,
        MessageKind::SubscriptionUpdates,
        MessageKind::Wallet,
        MessageKind::Promotions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Account => "ACCOUNT",
            MessageKind::OrderUpdates => "ORDER_UPDATES",
            MessageKind::PaymentUpdates => "PAYMENT_UPDATES",
            MessageKind::DeliveryUpdates => "DELIVERY_UPDATES",
            MessageKind::SubscriptionUpdates => "SUBSCRIPTION_UPDATES",
            MessageKind::Wallet => "WALLET",
            MessageKind::Promotions => "PROMOTIONS",
        }
    }

    /// Whether a customer may choose its channels.
    pub fn switchable(self) -> bool {
        self != MessageKind::Account
    }

    /// The channels a kind goes by until the customer says otherwise: email and in-app, as
    /// every message went before preferences existed; SMS only when asked for.
    pub fn default_channels(self) -> BTreeSet<Channel> {
        match self {
            MessageKind::Account => [Channel::Email].into(),
            _ => [Channel::Email, Channel::InApp].into(),
        }
    }
}

/// Which channels each kind of message goes by, per customer: `{KIND: [channels]}`. Every
/// kind is always present (a kind never set has its defaults), so what a client reads is
/// what is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(from = "BTreeMap<MessageKind, BTreeSet<Channel>>")]
#[schema(value_type = BTreeMap<MessageKind, Vec<Channel>>, example = json!({"ORDER_UPDATES": ["EMAIL", "IN_APP"], "DELIVERY_UPDATES": ["IN_APP"]}))]
pub struct NotificationPrefs(BTreeMap<MessageKind, BTreeSet<Channel>>);

impl Default for NotificationPrefs {
    fn default() -> Self {
        Self::from(BTreeMap::new())
    }
}

impl From<BTreeMap<MessageKind, BTreeSet<Channel>>> for NotificationPrefs {
    /// Fills in the defaults of every kind not named; ACCOUNT keeps its fixed channel
    /// whatever was stored.
    fn from(mut named: BTreeMap<MessageKind, BTreeSet<Channel>>) -> Self {
        for kind in MessageKind::ALL {
            let fixed = !kind.switchable();
            let channels = named.entry(kind).or_insert_with(|| kind.default_channels());
            if fixed {
                *channels = kind.default_channels();
            }
        }
        Self(named)
    }
}

impl NotificationPrefs {
    /// Whether the customer chose `channel` for `kind` (see `Preferences::allows`, which
    /// every message goes through).
    pub fn allows(&self, kind: MessageKind, channel: Channel) -> bool {
        self.0.get(&kind).is_some_and(|c| c.contains(&channel))
    }

    /// These preferences with the kinds in `change` set to their channels (kinds not named
    /// keep theirs). ACCOUNT may be named only with exactly its fixed channel.
    pub fn with(
        &self,
        change: BTreeMap<MessageKind, BTreeSet<Channel>>,
    ) -> Result<Self, NotSwitchable> {
        let mut next = self.0.clone();
        for (kind, channels) in change {
            if !kind.switchable() && channels != kind.default_channels() {
                return Err(NotSwitchable(kind));
            }
            next.insert(kind, channels);
        }
        Ok(Self::from(next))
    }
}

/// A kind whose channels are fixed, named with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotSwitchable(pub MessageKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationStatus {
    Sent,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Derived from the event and the message kind, so a redelivered event names the same
    /// notification.
    pub notification_id: Uuid,
    pub user_id: Uuid,
    pub channel: Channel,
    /// What kind of message, e.g. `WELCOME`.
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub status: NotificationStatus,
    /// When the event that caused it occurred (the list's order).
    pub created_at: DateTime<Utc>,
    /// The event it was made for.
    pub event_id: Uuid,
}

impl Notification {
    /// The id of the `kind` message made for `event_id`: the same on every redelivery.
    pub fn id_for(event_id: Uuid, kind: &str) -> Uuid {
        Uuid::new_v5(&event_id, kind.as_bytes())
    }

    /// The id of the `kind` message for `source` (an event, or a promotion and its
    /// recipient) on `channel`. Email keeps [`Self::id_for`]'s id, the one messages had
    /// when email was their only channel, so a redelivery of an older event is still known.
    pub fn id_on(source: Uuid, kind: &str, channel: Channel) -> Uuid {
        match channel {
            Channel::Email => Self::id_for(source, kind),
            other => Self::id_for(source, &format!("{kind}#{}", other.as_str())),
        }
    }
}

/// One promotion an admin sends to every customer with `newsletterOptIn`, in batches. The
/// cursor is where the next batch starts; it is saved with each batch's counts, so a rerun
/// or a crash resumes there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    pub promotion_id: Uuid,
    pub subject: String,
    pub body: String,
    /// Recipients written to (a message by at least one channel).
    pub sent: u64,
    /// Recipients passed over: no longer opted in, or already sent (a repeated batch).
    pub skipped: u64,
    /// Batches finished.
    pub batches: u64,
    /// Every opted-in customer has been walked.
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// A delivery that kept failing, kept (locally) until it is replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// Time-ordered (UUID v7).
    pub dead_letter_id: Uuid,
    /// The consumer that failed.
    pub consumer: String,
    pub topic: Topic,
    pub event: EventEnvelope,
    /// The last failure, as logged.
    pub error: String,
    pub attempts: u32,
    pub failed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_email_and_in_app_until_changed_and_sms_never() {
        let prefs = NotificationPrefs::default();
        for kind in MessageKind::ALL {
            assert!(prefs.allows(kind, Channel::Email), "{kind:?}");
            assert!(!prefs.allows(kind, Channel::Sms), "{kind:?}");
            let in_app = kind != MessageKind::Account;
            assert_eq!(prefs.allows(kind, Channel::InApp), in_app, "{kind:?}");
        }
    }

    #[test]
    fn a_change_sets_the_kinds_it_names_and_keeps_the_others() {
        let change = [(MessageKind::DeliveryUpdates, [Channel::InApp].into())].into();
        let prefs = NotificationPrefs::default().with(change).unwrap();
        assert!(!prefs.allows(MessageKind::DeliveryUpdates, Channel::Email));
        assert!(prefs.allows(MessageKind::DeliveryUpdates, Channel::InApp));
        assert!(prefs.allows(MessageKind::OrderUpdates, Channel::Email));
        let none = [(MessageKind::Wallet, BTreeSet::new())].into();
        let prefs = prefs.with(none).unwrap();
        assert!(
            Channel::ALL
                .iter()
                .all(|c| !prefs.allows(MessageKind::Wallet, *c))
        );
    }

    #[test]
    fn account_mail_cannot_be_switched_off() {
        let off = [(MessageKind::Account, [Channel::Sms].into())].into();
        assert_eq!(
            NotificationPrefs::default().with(off),
            Err(NotSwitchable(MessageKind::Account))
        );
        let same = [(MessageKind::Account, [Channel::Email].into())].into();
        assert!(NotificationPrefs::default().with(same).is_ok());
        let stored: NotificationPrefs =
            serde_json::from_value(serde_json::json!({"ACCOUNT": []})).unwrap();
        assert!(stored.allows(MessageKind::Account, Channel::Email));
    }

    #[test]
    fn names_are_the_json_names() {
        for kind in MessageKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for channel in Channel::ALL {
            assert_eq!(serde_json::to_value(channel).unwrap(), channel.as_str());
        }
    }

    #[test]
    fn stored_preferences_read_back_with_every_kind() {
        let stored: NotificationPrefs =
            serde_json::from_value(serde_json::json!({"WALLET": ["SMS"]})).unwrap();
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["WALLET"], serde_json::json!(["SMS"]));
        assert_eq!(
            json["ORDER_UPDATES"],
            serde_json::json!(["EMAIL", "IN_APP"])
        );
        assert!(
            serde_json::from_value::<NotificationPrefs>(serde_json::json!({"NEWS": []})).is_err()
        );
    }
}

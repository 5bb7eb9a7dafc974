//! Port traits, one per capability, so each use case asks only for what it touches.

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::StoreError;
use crate::events::EventEnvelope;
use crate::page::{Page, PageRequest};
use crate::user::User;
use crate::values::Email;

/// Creates accounts; the email claim and the user are written atomically.
#[async_trait]
pub trait UserRegistry: Send + Sync {
    /// `StoreError::AlreadyExists` when another user holds the email, however close the race.
    async fn create(&self, user: &User) -> Result<(), StoreError>;
}

#[async_trait]
pub trait UserLookup: Send + Sync {
    async fn by_id(&self, user_id: Uuid) -> Result<Option<User>, StoreError>;
    async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
}

/// Saves a changed user only if nobody saved it since it was read.
#[async_trait]
pub trait UserUpdates: Send + Sync {
    /// Writes `user` if the stored version still equals `user.version`; returns it with the
    /// new version, or `StoreError::VersionConflict` (or `NotFound`) without writing.
    async fn update(&self, user: User) -> Result<User, StoreError>;
}

/// Lists all users, newest first, for administrators.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    async fn list(&self, page: &PageRequest) -> Result<Page<User>, StoreError>;
}

/// Everything the user service needs from storage, for wiring one adapter into it.
pub trait UserStore: UserRegistry + UserLookup + UserUpdates + UserDirectory {}
impl<T: UserRegistry + UserLookup + UserUpdates + UserDirectory> UserStore for T {}

/// Publishes domain events (SNS in AWS, the in-process bus locally).
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError>;
}

/// One plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Email,
    pub subject: String,
    pub body: String,
}

/// Sends mail (SES in AWS, an outbox folder locally).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), StoreError>;
}

//! The order consumer: ORDER_*, PAYMENT_*, DELIVERY_*, FRAUD_SUSPECTED, subscription and
//! wallet events become messages (their words in [`crate::templates`]) to the customer, the
//! vendor or the managers, each delivered through [`Deliverer`] under ids derived from the
//! event, its kind and channel, so a redelivered event makes no second notification.
//!
//! ORDER_PLACED and PAYMENT_SUCCEEDED make no message: the customer has just made the call
//! that caused them, and the outcome follows as ORDER_CONFIRMED, ORDER_ON_HOLD, ORDER_FAILED
//! or PAYMENT_FAILED. They are not wanted.

use async_trait::async_trait;
use milkrun_domain::DomainError;
use milkrun_domain::events::{EventEnvelope, EventType};
use milkrun_domain::ports::EventHandler;

use crate::deliver::{Deliverer, Source, Variants};
use crate::templates::{WANTED, messages};

pub use crate::deliver::{ADMIN, Message, Recipient};
pub use crate::templates::{
    DELIVERY_SCHEDULED, DELIVERY_UPDATED, FRAUD_SUSPECTED, LOW_BALANCE, ORDER_CANCELLED,
    ORDER_CONFIRMED, ORDER_FAILED, ORDER_NEEDS_ATTENTION, ORDER_ON_HOLD, PAYMENT_FAILED,
    PAYMENT_REFUNDED, SUBSCRIPTION_CONFIRMED, SUBSCRIPTION_DAY_SKIPPED, VENDOR_ASSIGNMENT,
    WALLET_TOPPED_UP,
};

pub struct OrderMessages {
    pub deliverer: Deliverer,
}

#[async_trait]
impl EventHandler for OrderMessages {
    fn name(&self) -> &'static str {
        "order-messages"
    }

    fn wants(&self, event_type: EventType) -> bool {
        WANTED.contains(&event_type)
    }

    /// Every message goes through the deliverer under an id derived from the event (its
    /// source), and a channel already kept is not sent again: a second delivery sends and
    /// keeps nothing without a processed-event record.
    fn deduplicates_itself(&self) -> bool {
        true
    }

    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError> {
        let messages = messages(event).map_err(|e| DomainError::Internal(e.to_string()))?;
        let source = Source {
            id: event.event_id,
            at: event.occurred_at,
            event_id: event.event_id,
        };
        for message in messages {
            let variants = Variants::default();
            self.deliverer.deliver(source, &message, &variants).await?;
        }
        Ok(())
    }
}

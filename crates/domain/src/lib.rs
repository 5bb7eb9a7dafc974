//! milkrun's domain: entities, value types that cannot hold a bad value, status rules,
//! typed errors and events, and the port traits the adapters implement.
//!
//! Nothing here knows about AWS, HTTP, Lambda or a storage engine.

pub mod analytics;
pub mod audit;
pub mod calendar;
pub mod cart;
pub mod checkout;
pub mod clock;
pub mod cutoff;
pub mod delivery;
pub mod effects;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod lifecycle;
pub mod login;
pub mod money;
pub mod notification;
pub mod order;
pub mod page;
pub mod payment;
pub mod ports;
pub mod product;
pub mod report;
pub mod schema;
pub mod subscription;
pub mod user;
pub mod values;
pub mod vendor;
pub mod wallet;

pub use effects::Effects;
pub use error::{DomainError, ErrorCode, FieldErrors, StoreError};

//! milkrun's domain: entities, value types that cannot hold a bad value, status rules,
//! typed errors and the port traits the adapters implement.
//!
//! Nothing here knows about AWS, HTTP, Lambda or a storage engine.

pub mod audit;
pub mod concurrency;
pub mod error;
pub mod events;
pub mod inventory;
pub mod money;
pub mod page;
pub mod ports;
pub mod product;
pub mod user;
pub mod values;
pub mod vendor;

pub use error::{DomainError, FieldErrors, StoreError};

//! The user service: registration, login, email verification, profile, addresses,
//! preferences and user administration. `api()` is the router every host mounts.

pub mod routes;
pub mod service;

pub use routes::{api, routes};
pub use service::{MailSettings, UserService};

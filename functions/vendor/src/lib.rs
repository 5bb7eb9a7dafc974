//! The vendor service: create, read, update and deactivate vendors; find them by pincode.

pub mod routes;
pub mod service;

pub use routes::{api, routes};
pub use service::VendorService;

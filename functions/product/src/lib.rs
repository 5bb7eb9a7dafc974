//! The product service: the catalog, filtered listings, and availability per variant.

pub mod routes;
pub mod service;

pub use routes::{api, routes};
pub use service::{ProductSearch, ProductService};

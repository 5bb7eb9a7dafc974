//! The inventory service: a vendor's stock rows, ADD / SUBTRACT / SET with LOW_STOCK events,
//! and the daily reconcile that alerts admins about every row under its threshold.

pub mod reconcile;
pub mod routes;
pub mod service;

pub use reconcile::{ReconcileReport, reconcile_stock};
pub use routes::{api, routes};
pub use service::InventoryService;

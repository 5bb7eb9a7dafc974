//! The reporting service: the audit trail of one entity, for admins.

pub mod routes;

pub use routes::{ReportingService, api, routes};

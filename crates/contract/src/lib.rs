//! Contract suites: one per port, each case a plain async function taking the adapter, and
//! a macro that turns the suite into `#[tokio::test]`s for one adapter. Every adapter of a
//! port runs the same cases, so the embedded and the AWS adapters cannot drift apart.

pub mod audit;
pub mod events;
pub mod inventory;
pub mod products;
pub mod users;
pub mod vendors;

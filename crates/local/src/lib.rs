//! Embedded adapters for running milkrun on one machine with no AWS: a persistent SQLite
//! store, an in-process event bus and a mail outbox folder.

pub mod audit;
pub mod bus;
pub mod db;
pub mod inventory;
pub mod outbox;
pub mod products;
pub mod users;
pub mod vendors;

pub use audit::SqliteAuditLog;
pub use bus::InProcessBus;
pub use db::Database;
pub use inventory::SqliteInventory;
pub use outbox::OutboxMailer;
pub use products::SqliteProducts;
pub use users::SqliteUsers;
pub use vendors::SqliteVendors;

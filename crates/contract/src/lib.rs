//! Contract suites: the item store's own, and one per entity store over it. Each case is a
//! plain async function; macros turn the suites into `#[tokio::test]`s for one item store
//! implementation, so SQLite and DynamoDB cannot drift apart.

pub mod accounts;
pub mod analytics;
pub mod audit;
pub mod carts;
pub mod deliveries;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod items;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod products;
pub mod reports;
pub mod subscriptions;
pub mod users;
pub mod vendors;
pub mod wallets;

use milkrun_domain::Effects;
use milkrun_domain::inventory::{InventoryRow, StockSettlement};

/// No effects: for cases about the change itself.
pub fn none() -> Effects {
    Effects::none()
}

/// No effects for a settlement of a reservation.
pub fn no_settlement_effects(_settlement: &StockSettlement) -> Effects {
    Effects::none()
}

/// No effects for a stock change.
pub fn no_stock_effects(_before: Option<&InventoryRow>, _after: &InventoryRow) -> Effects {
    Effects::none()
}

//! The item-store port, with DynamoDB's semantics and no technology in it, and every entity
//! store written once over it. Only the port has two implementations (DynamoDB in
//! milkrun-aws, SQLite in milkrun-local), held to one contract suite; a rule about how an
//! entity is stored lives here, once.

pub mod analytics;
pub mod carts;
pub mod deliveries;
pub mod effects;
pub mod idempotency;
pub mod item;
pub mod journal;
pub mod logins;
pub mod messages;
pub mod ops;
pub mod orders;
pub mod packed;
pub mod paging;
pub mod payments;
pub mod port;
pub mod products;
pub mod promotions;
pub mod reports;
pub mod retry;
pub mod stock;
pub mod subscriptions;
pub mod table;
pub mod users;
pub mod vendors;
pub mod versioned;
pub mod wallets;

use std::sync::Arc;

pub use analytics::AnalyticsEvents;
pub use carts::Carts;
pub use deliveries::Deliveries;
pub use idempotency::Idempotency;
pub use item::{Item, Value};
pub use journal::{AuditTrail, Outbox, decode_outbox_item};
pub use logins::Logins;
pub use messages::{DeadLetterList, Notifications, Processed};
pub use ops::{Condition, ItemPage, Key, Query, SortCondition, Update, Write};
pub use orders::Orders;
pub use payments::Payments;
pub use port::{ItemError, ItemStore};
pub use products::Products;
pub use promotions::Promotions;
pub use reports::Reports;
pub use stock::Stock;
pub use subscriptions::Subscriptions;
pub use table::{IndexSpec, TableSpec};
pub use users::Users;
pub use vendors::Vendors;
pub use wallets::Wallets;

/// Every entity store over one item store: what services are built from.
#[derive(Clone)]
pub struct Stores {
    pub items: Arc<dyn ItemStore>,
    pub users: Arc<Users>,
    pub carts: Arc<Carts>,
    pub vendors: Arc<Vendors>,
    pub products: Arc<Products>,
    pub orders: Arc<Orders>,
    pub payments: Arc<Payments>,
    pub deliveries: Arc<Deliveries>,
    pub stock: Arc<Stock>,
    pub audit: Arc<AuditTrail>,
    pub outbox: Arc<Outbox>,
    pub notifications: Arc<Notifications>,
    pub processed: Arc<Processed>,
    pub dead_letters: Arc<DeadLetterList>,
    pub logins: Arc<Logins>,
    pub idempotency: Arc<Idempotency>,
    pub subscriptions: Arc<Subscriptions>,
    pub wallets: Arc<Wallets>,
    pub analytics: Arc<AnalyticsEvents>,
    pub reports: Arc<Reports>,
    pub promotions: Arc<Promotions>,
}

impl Stores {
    pub fn over(items: Arc<dyn ItemStore>) -> Self {
        Self {
            users: Arc::new(Users::new(items.clone())),
            carts: Arc::new(Carts::new(items.clone())),
            vendors: Arc::new(Vendors::new(items.clone())),
            products: Arc::new(Products::new(items.clone())),
            orders: Arc::new(Orders::new(items.clone())),
            payments: Arc::new(Payments::new(items.clone())),
            deliveries: Arc::new(Deliveries::new(items.clone())),
            stock: Arc::new(Stock::new(items.clone())),
            audit: Arc::new(AuditTrail::new(items.clone())),
            outbox: Arc::new(Outbox::new(items.clone())),
            notifications: Arc::new(Notifications::new(items.clone())),
            processed: Arc::new(Processed::new(items.clone())),
            dead_letters: Arc::new(DeadLetterList::new(items.clone())),
            logins: Arc::new(Logins::new(items.clone())),
            idempotency: Arc::new(Idempotency::new(items.clone())),
            subscriptions: Arc::new(Subscriptions::new(items.clone())),
            wallets: Arc::new(Wallets::new(items.clone())),
            analytics: Arc::new(AnalyticsEvents::new(items.clone())),
            reports: Arc::new(Reports::new(items.clone())),
            promotions: Arc::new(Promotions::new(items.clone())),
            items,
        }
    }
}

//! The delivery service: a vendor's round for a date and slot, grouped by pincode with what
//! to load, and each delivery's progress along its status table, which its order follows
//! (OUT_FOR_DELIVERY, DELIVERED with the stock committed, CANCELLED and refunded).

pub mod routes;
pub mod service;

use milkrun_platform::{HttpService, Needs};
use milkrun_store::table::{AUDIT, DELIVERIES, INVENTORY, ORDERS, OUTBOX, PAYMENTS, WALLETS};

pub use routes::{documented, router};
pub use service::{DeliveryChange, DeliveryService, Reach};

pub static HTTP: HttpService = HttpService {
    name: "delivery",
    needs: Needs {
        tables: &[
            &DELIVERIES,
            &ORDERS,
            &INVENTORY,
            &PAYMENTS,
            &WALLETS,
            &AUDIT,
            &OUTBOX,
        ],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| router().with_state(DeliveryService::from_adapters(adapters)),
    start: None,
};

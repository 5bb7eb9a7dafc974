//! The order service: `POST /orders` places an order and starts its checkout; the order's
//! reads; and what people do to it afterwards (cancel, approve, reject, an admin's forced
//! move). The checkout-task Lambda (`src/bin/checkout_task.rs`) runs the checkout's steps.

pub mod routes;
pub mod service;

use milkrun_platform::{HttpService, Needs};
use milkrun_store::table::{
    AUDIT, CARTS, DELIVERIES, IDEMPOTENCY, INVENTORY, ORDERS, OUTBOX, PAYMENTS, PRODUCTS, USERS,
    VENDORS,
};

pub use routes::{documented, router};
pub use service::OrderService;

pub static HTTP: HttpService = HttpService {
    name: "order",
    needs: Needs {
        tables: &[
            &ORDERS,
            &IDEMPOTENCY,
            &CARTS,
            &PRODUCTS,
            &PAYMENTS,
            &DELIVERIES,
            &INVENTORY,
            &AUDIT,
            &OUTBOX,
        ],
        mail: false,
        signing: false,
        verification: false,
        checkout: true,
    },
    api: |adapters| router().with_state(OrderService::from_adapters(adapters)),
    start: None,
};

/// What the checkout-task Lambda reads and writes: every step's ports.
pub static CHECKOUT_TASK_NEEDS: Needs = Needs {
    tables: &[
        &ORDERS,
        &USERS,
        &VENDORS,
        &PRODUCTS,
        &INVENTORY,
        &PAYMENTS,
        &DELIVERIES,
        &AUDIT,
        &OUTBOX,
    ],
    mail: false,
    signing: false,
    verification: false,
    checkout: false,
};

//! The payment service: a customer pays (again) for an order through its checkout, anyone
//! allowed reads a payment, and the payment gateway reports outcomes by signed webhook.
//!
//! Money is taken in one place only: the checkout's ProcessPayment step. `POST /payments`
//! changes how the order is paid and starts the checkout again; the webhook records what
//! the gateway says and lets ProcessPayment skip a charge already taken, but never moves the
//! order itself (the checkout is the only confirmer: ConfirmOrder checks, ScheduleDelivery
//! writes the move).

pub mod routes;
pub mod service;
pub mod signature;

use futures::future::BoxFuture;
use milkrun_domain::DomainError;
use milkrun_platform::{Adapters, HttpService, Needs};
use milkrun_store::table::{
    AUDIT, DELIVERIES, IDEMPOTENCY, INVENTORY, ORDERS, OUTBOX, PAYMENTS, PRODUCTS, VENDORS, WALLETS,
};

pub use routes::{documented, router};
pub use service::PaymentService;

pub static HTTP: HttpService = HttpService {
    name: "payment",
    needs: Needs {
        // The checkout ports (milkrun_checkout::CheckoutPorts) reach stock and deliveries.
        tables: &[
            &PAYMENTS,
            &ORDERS,
            &INVENTORY,
            &IDEMPOTENCY,
            &AUDIT,
            &OUTBOX,
            &DELIVERIES,
            // WALLET payments are debited and refunded in their ledger.
            &WALLETS,
            // A retry first rechecks that every line is still sold (product, vendor).
            &PRODUCTS,
            &VENDORS,
        ],
        mail: false,
        signing: false,
        verification: false,
        checkout: true,
    },
    api: |adapters| router().with_state(PaymentService::from_adapters(adapters)),
    start: Some(require_webhook_secret),
};

/// The webhook cannot tell the gateway from a forger without its secret: a host that was
/// given none (in AWS, no `WEBHOOK_SECRET_PARAMETER`) does not start.
fn require_webhook_secret(adapters: Adapters) -> BoxFuture<'static, Result<(), DomainError>> {
    Box::pin(async move {
        match adapters.settings.webhook_secret {
            Some(_) => Ok(()),
            None => Err(DomainError::Internal(
                "the payment service needs the webhook secret (WEBHOOK_SECRET_PARAMETER in AWS, \
                 MILKRUN_WEBHOOK_SECRET or the data folder's webhook-secret locally)"
                    .into(),
            )),
        }
    })
}

//! The checkout steps (SPEC §5), one file per group, dispatched here by the state's name.
//!
//! - `validate.rs`: ValidateProfile, ValidateOrder
//! - `vendors.rs`: AssignVendors, and the candidates ReserveStock reassigns among
//! - `stock.rs`: ReserveStock, ReleaseStock
//! - `payment.rs`: ProcessPayment, RefundPayment
//! - `fraud.rs`: FraudCheck (and its rules' setting)
//! - `confirm.rs`: ConfirmOrder
//! - `schedule.rs`: ScheduleDelivery
//! - `mark.rs`: MarkPaymentFailed, MarkFailed, MarkRefundFailed
//!
//! A failing step does not mark the order: the definition catches the error, compensates
//! (RefundPayment, ReleaseStock) and ends in MarkPaymentFailed or MarkFailed, which record
//! the outcome with the caught error's name as the reason. What is not a step but every
//! path shares (scheduling and calling off deliveries, the refund, a cancel's settlement)
//! is in [`crate::lifecycle`].

mod confirm;
mod fraud;
mod mark;
mod payment;
mod schedule;
mod stock;
mod validate;
mod vendors;

use std::fmt;
use std::sync::{Arc, Mutex};

use milkrun_domain::checkout::FraudRules;
use milkrun_domain::error::TaskError;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::payment::PaymentGateway;
use milkrun_domain::ports::{
    DeliveryStore, InventoryStore, OrderStore, PaymentStore, ProductReads, UserStore, VendorReads,
};
use milkrun_domain::user::User;
use milkrun_domain::{DomainError, ErrorCode};
use milkrun_store::Stores;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::records::{change_order, checkout_actor};

pub use fraud::{ConfigError, fraud_rules_from_env};
pub(crate) use mark::failed_status;

/// Who the order's status history says moved it.
const BY: &str = "checkout";
/// A step name the handler does not know: a definition and handler out of step.
pub const UNKNOWN_STEP: &str = "UnknownStep";

/// The error a Catch put at `$.error` (`$.refundError`), passed to the Mark steps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// A Task state's `Parameters`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInput {
    pub step: String,
    pub order_id: Uuid,
    #[serde(default)]
    pub error: Option<CaughtError>,
    /// ReserveStock's: the vendors AssignVendors chose, from the run's state.
    #[serde(default)]
    pub vendors: Vec<LineVendor>,
}

/// The vendor chosen for one line of the order (its index in `items`). AssignVendors
/// answers its choices and the run hands them to ReserveStock, which writes them with the
/// reservation: one write of the order (and its audit entry) a checkout, not two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineVendor {
    pub line: usize,
    pub vendor_id: Uuid,
}

/// Declares [`Step`] from one list of the definition's state names: the enum, `ALL`,
/// `as_str`, `parse` and `Display`, each name written once.
macro_rules! steps {
    ($($step:ident),+ $(,)?) => {
        /// Every step the definition names, by its state name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Step {
            $($step),+
        }

        impl Step {
            pub const ALL: [Step; [$(stringify!($step)),+].len()] = [$(Self::$step),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$step => stringify!($step)),+
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|step| step.as_str() == name)
            }
        }

        impl fmt::Display for Step {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

steps!(
    ValidateProfile,
    ValidateOrder,
    AssignVendors,
    ReserveStock,
    ProcessPayment,
    FraudCheck,
    ConfirmOrder,
    ScheduleDelivery,
    RefundPayment,
    ReleaseStock,
    MarkPaymentFailed,
    MarkFailed,
    MarkRefundFailed,
);

/// What the steps read and write through.
#[derive(Clone)]
pub struct CheckoutPorts {
    pub orders: Arc<dyn OrderStore>,
    pub users: Arc<dyn UserStore>,
    pub vendors: Arc<dyn VendorReads>,
    pub products: Arc<dyn ProductReads>,
    pub stock: Arc<dyn InventoryStore>,
    pub payments: Arc<dyn PaymentStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub gateway: Arc<dyn PaymentGateway>,
}

impl CheckoutPorts {
    /// The ports over `stores`, paying WALLET orders from the wallets there and every
    /// other method through `cards`.
    pub fn from_stores(stores: &Stores, cards: Arc<dyn PaymentGateway>) -> Self {
        let gateway = Arc::new(crate::wallet::WalletPayments::new(
            stores.wallets.clone(),
            cards,
        ));
        Self {
            orders: stores.orders.clone(),
            users: stores.users.clone(),
            vendors: stores.vendors.clone(),
            products: stores.products.clone(),
            stock: stores.stock.clone(),
            payments: stores.payments.clone(),
            deliveries: stores.deliveries.clone(),
            gateway,
        }
    }
}

/// The checkout task handler.
#[derive(Clone)]
pub struct CheckoutTasks {
    ports: CheckoutPorts,
    fraud: FraudRules,
}

/// The usual answer of a step: the order and where it now is.
fn answer(order: &Order) -> Value {
    json!({ "orderId": order.order_id, "status": order.status })
}

fn refused(code: ErrorCode, message: String) -> DomainError {
    DomainError::refused(code, message)
}

/// A step asked of an order in a status it does not apply to (e.g. ConfirmOrder of a
/// FAILED order).
fn out_of_place(step: Step, status: OrderStatus) -> TaskError {
    refused(
        ErrorCode::InvalidTransition,
        format!("{step} does not apply to an order in {status}."),
    )
    .into()
}

type Edit<'a> = dyn Fn(&mut Order) -> Result<bool, DomainError> + Send + Sync + 'a;

/// Where an [`Edit`] moved the order to, on its last try (an edit runs again after a lost
/// race): an end of the checkout is counted only by the call whose write made it, so a
/// repeated step counts nothing.
#[derive(Default)]
struct Moved(Mutex<Option<OrderStatus>>);

impl Moved {
    /// Notes this try's move (`None`: it changes nothing) and answers whether it changed.
    fn to(&self, status: Option<OrderStatus>) -> Result<bool, DomainError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = status;
        Ok(status.is_some())
    }

    /// Counts the written move as the checkout's outcome.
    fn count_outcome(self) {
        if let Some(status) = self.0.into_inner().unwrap_or_else(|e| e.into_inner()) {
            milkrun_metrics::checkout_outcome(status);
        }
    }
}

impl CheckoutTasks {
    pub fn new(ports: CheckoutPorts, fraud: FraudRules) -> Self {
        Self { ports, fraud }
    }

    /// Runs `step` for `order_id`, handed nothing else (ReserveStock then chooses the
    /// vendors itself).
    pub async fn run(&self, step: &str, order_id: Uuid) -> Result<Value, TaskError> {
        let input = TaskInput {
            step: step.to_owned(),
            order_id,
            error: None,
            vendors: Vec::new(),
        };
        self.run_input(&input).await
    }

    /// Runs a Task state's input: its step, its order, (for the Mark steps) the caught
    /// error and (for ReserveStock) the vendors chosen.
    pub async fn run_input(&self, input: &TaskInput) -> Result<Value, TaskError> {
        let (name, order_id, caught) = (&input.step, input.order_id, input.error.as_ref());
        let Some(step) = Step::parse(name) else {
            return Err(TaskError::new(
                UNKNOWN_STEP,
                format!("The checkout task has no step named {name:?}."),
            ));
        };
        let result = match step {
            Step::ValidateProfile => self.validate_profile(order_id).await,
            Step::ValidateOrder => self.validate_order(order_id).await,
            Step::AssignVendors => self.assign_vendors(order_id).await,
            Step::ReserveStock => self.reserve_stock(order_id, &input.vendors).await,
            Step::ProcessPayment => self.process_payment(order_id).await,
            Step::FraudCheck => self.fraud_check(order_id).await,
            Step::ConfirmOrder => self.confirm_order(order_id).await,
            Step::ScheduleDelivery => self.schedule_delivery(order_id).await,
            Step::RefundPayment => self.refund_payment(order_id).await,
            Step::ReleaseStock => self.release_stock(order_id).await,
            Step::MarkPaymentFailed => self.mark_payment_failed(order_id).await,
            Step::MarkFailed => self.mark_failed(order_id, caught).await,
            Step::MarkRefundFailed => self.mark_refund_failed(order_id, caught).await,
        };
        match &result {
            Ok(_) => tracing::info!(%order_id, %step, "checkout step done"),
            Err(error) => tracing::warn!(
                %order_id, %step, error = %error.name, cause = %error.message,
                "checkout step failed"
            ),
        }
        result
    }

    async fn load(&self, order_id: Uuid) -> Result<Order, DomainError> {
        self.ports
            .orders
            .get(order_id)
            .await?
            .ok_or(DomainError::NotFound("order"))
    }

    /// The account that placed `order` (`None`: deleted since).
    async fn customer_of(&self, order: &Order) -> Result<Option<User>, DomainError> {
        Ok(self.ports.users.by_id(order.user_id).await?)
    }

    /// Reads the order, applies `edit` (which answers whether it changed anything) and
    /// writes it back by compare-and-swap with its audit entry and event, from a fresh read
    /// after a lost race.
    async fn change(&self, order_id: Uuid, edit: &Edit<'_>) -> Result<Order, DomainError> {
        let actor = checkout_actor(order_id);
        change_order(self.ports.orders.as_ref(), order_id, &actor, edit).await
    }
}

/// The order's products, each once.
fn product_ids(order: &Order) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = order.items.iter().map(|i| i.product_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_round_trips_through_its_name() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
            assert_eq!(step.to_string(), step.as_str());
        }
        assert_eq!(Step::ALL.len(), 13);
        assert_eq!(Step::MarkFailed.as_str(), "MarkFailed");
        assert_eq!(Step::parse("validateProfile"), None);
    }
}

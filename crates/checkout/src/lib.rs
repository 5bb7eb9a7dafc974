//! Checkout (SPEC §5): the task handler behind every Task state of
//! `statemachine/checkout.asl.json`, and the simulated payment gateway.
//!
//! The state machine calls one resource with `{"step": "<StateName>", "orderId": ...}`
//! (plus `error` for the two Mark steps); [`CheckoutTasks::run`] does that step for that
//! order. Each step reads the order, works through the ports, and moves the order by a
//! compare-and-swap write, so every step is idempotent by order id: repeated after it
//! succeeded, it changes nothing and answers as before. Failures carry the stable error
//! names the definition's Retry and Catch match ([`TaskError`]).
//!
//! milkrun-local runs the handler under its ASL interpreter; the checkout-task Lambda runs it
//! for Step Functions. [`stalled`] starts again the checkouts that stopped with no
//! execution running.
//!
//! Where things are: [`place`] (placing an order, for a customer or a job on their behalf),
//! `steps/` (one file per step group, and the dispatch), [`lifecycle`]
//! (what every path of an order's life shares: deliveries scheduled and called off, the
//! refund, the one settlement of a cancelled or failed order), [`actions`] (what people do
//! to an order after checkout started), [`records`] (an order's and a payment's changes
//! with their audit entries and events).

pub mod actions;
pub mod gateway;
pub mod lifecycle;
pub mod place;
pub mod records;
pub mod stalled;
mod steps;
pub mod wallet;

pub use actions::OrderActions;
pub use gateway::SimulatedGateway;
pub use lifecycle::{call_off_deliveries, refund_order_payment, schedule_deliveries};
pub use milkrun_domain::error::{PAYMENT_GATEWAY_UNAVAILABLE, TaskError};
pub use place::{
    AddressChoice, OrderPlacement, PlaceOrder, Placed, PlacedBy, cutoff_for, subscription_order_id,
};
pub use stalled::{ResumeReport, STALLED_AFTER, resume_stalled};
pub use steps::{
    CaughtError, CheckoutPorts, CheckoutTasks, ConfigError, LineVendor, Step, TaskInput,
    UNKNOWN_STEP, fraud_rules_from_env,
};
pub use wallet::WalletPayments;

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

pub mod actions;
pub mod gateway;
pub mod place;
pub mod records;
pub mod stalled;
mod tasks;

pub use actions::OrderActions;
pub use gateway::SimulatedGateway;
pub use place::{AddressChoice, OrderPlacement, PlaceOrder, Placed, PlacedBy};
pub use stalled::{ResumeReport, STALLED_AFTER, resume_stalled};
pub use tasks::{
    CaughtError, CheckoutPorts, CheckoutTasks, ConfigError, PAYMENT_GATEWAY_UNAVAILABLE, Step,
    TaskError, TaskInput, UNKNOWN_STEP, fraud_rules_from_env, refund_order_payment,
};

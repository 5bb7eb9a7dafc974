//! Embedded adapters for local mode, no Docker and no AWS: the item store on SQLite (with
//! schema versions), the in-process bus with retries and a dead-letter list, the outbox
//! relay, mail as files; and the local composition root that builds them from a data folder.

pub mod asl;
pub mod bus;
pub mod checkout;
pub mod db;
mod eval;
pub mod host;
pub mod legacy;
pub mod outbox;
pub mod relay;
pub mod sqlite_store;

pub use asl::{
    Definition, DefinitionError, ExecutionOutcome, ExecutionStatus, Sleeper, TaskFailure,
    TaskInvoker, TokioSleeper,
};
pub use bus::{InProcessBus, ReplayReport, RetryPolicy, replay};
pub use checkout::{CheckoutTaskInvoker, LocalCheckoutRunner};
pub use db::Database;
pub use host::{Decorate, LocalHost, Undecorated};
pub use outbox::{OutboxMailer, SmsOutbox};
pub use relay::OutboxRelay;
pub use sqlite_store::SqliteItemStore;

//! Faults injected into the ports, for tests and the bench only (never linked into a
//! function): a seeded [`FaultPlan`] decides which call of which kind fails and how, and a
//! decorator per port ([`FaultyItemStore`], [`FaultyPublisher`], [`FaultyMailer`],
//! [`FaultySms`], [`FaultyGateway`]) applies it around the real adapter.

pub mod plan;
pub mod ports;

pub use plan::{CallKind, Fault, FaultPlan, Rule, When};
pub use ports::{
    FaultyGateway, FaultyItemStore, FaultyMailer, FaultyPublisher, FaultySms, Injected,
};

// In the library's own test binary, not one more to link.
#[cfg(test)]
mod decorator_tests;

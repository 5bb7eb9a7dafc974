//! The HTTP end-to-end suite, one test binary: a module per area of the API, and what more
//! than one of them uses in [`helpers`] (the client itself is `milkrun_e2e`). It needs a
//! running API: `scripts/e2e-local.sh` runs it against `milkrun serve`,
//! `scripts/emulated/run.py e2e` against the real function binaries on emulated AWS (both
//! by name, through `scripts/test-targets.sh`). A test's name starts with its module's
//! (`orders::…`), so `-- orders::` runs one area.

mod helpers;

mod alerts;
mod analytics;
mod api;
mod cart;
mod catalog;
mod fulfilment;
mod notifications;
mod orders;
mod reports;
mod security;
mod subscriptions;
mod vendors;

//! `milkrun-bench checkout`: checkout end to end over a [`LocalHost`] in a fresh temporary
//! data folder (SQLite, the in-process bus and outbox relay with every consumer subscribed,
//! the ASL runner executing `statemachine/checkout.asl.json`), driving the whole API router
//! (`milkrun_registry::app`) in process, as `milkrun serve` mounts it.
//!
//! 1. Latency: from the start of `POST /orders` to the first read of the order that finds it
//!    CONFIRMED or later, one checkout at a time, then many at once; each checkout is its own
//!    tokio task (as a server serves each request), and polls the order store every
//!    `--poll-ms` (nothing in the code is hooked).
//! 2. Throughput: checkouts per second with a fixed number in flight (closed loop: each
//!    in-flight slot places the next order once its previous one is confirmed).
//! 3. What one checkout costs: a second host, the same adapters but with the item store
//!    wrapped in [`ItemMeter`], and the checkout executions started by [`TracedRunner`]
//!    (the same definition, interpreter and task handler as `LocalCheckoutRunner`, which
//!    keeps to itself when an execution ends and which states it entered), one checkout at
//!    a time: DynamoDB calls and request units per route, step and consumer; task
//!    invocations; states entered; events committed to the outbox and what SNS and SQS
//!    would carry of them; mail; log volume. Then the arithmetic of 1,000 checkouts in AWS.
//!
//! Orders: one line each by default (Toned Milk 1L, ₹54) from the demo catalog, delivered
//! to 560034 (Nandi Dairy Farms alone serves it), stock set to 10 million units so no order
//! runs out, delivery dates spread over the 28 days the SPEC allows so no vendor day fills
//! up (400 orders a day). Customers are written straight to the user store with a complete
//! profile (phone and one default address) and one shared argon2id hash (nobody logs in):
//! each places at most four orders in the run, so the "five orders within an hour" fraud
//! rule never fires; totals stay far under the ₹2,500 a new device may spend and under the
//! fraud limit. A held, failed or slow (30 s) order is reported as a failure, never hidden.
//!
//! `shop` stocks the shop and places one order, `latency` measures 1 and 2, `metered` and
//! `log_meter` measure 3, and `costs` does the arithmetic.
//!
//! [`LocalHost`]: milkrun_local::LocalHost
//! [`ItemMeter`]: crate::item_meter::ItemMeter
//! [`TracedRunner`]: metered::TracedRunner

pub(crate) mod costs;
pub(crate) mod latency;
mod log_meter;
mod metered;
pub(crate) mod shop;

use std::time::Duration;

use milkrun_domain::checkout::MANY_ORDERS;

use costs::costs;
use latency::latency;
use log_meter::install_log_meter;
use metered::metered;

/// Served by one demo vendor only, so every order goes the same way.
pub(crate) const PINCODE: &str = "560034";
pub(crate) const VENDOR: &str = "Nandi Dairy Farms";
/// (product, variant) of the demo catalog, all sold by [`VENDOR`]; `--lines` takes the first n.
pub(crate) const LINES: [(&str, &str); 3] = [
    ("Toned Milk", "1L"),
    ("Fresh Curd", "400g"),
    ("Masala Buttermilk", "200ml"),
];
pub(crate) const STOCK: u32 = 10_000_000;
/// One order fewer than the "many orders in a short time" rule holds for.
pub(crate) const ORDERS_PER_CUSTOMER: usize = MANY_ORDERS - 1;
/// Delivery dates: tomorrow + 1 … + 28 (after today, at most 30 days ahead, in Kolkata).
const DATES: u64 = 28;
pub(crate) const GIVE_UP: Duration = Duration::from_secs(30);

pub struct Options {
    pub sequential: usize,
    pub concurrent: usize,
    pub concurrent_orders: usize,
    pub sustained: usize,
    pub in_flight: usize,
    pub poll: Duration,
    pub metered: usize,
    pub lines: usize,
    pub warmup: usize,
}

pub async fn run(options: Options) {
    assert!(
        (1..=LINES.len()).contains(&options.lines),
        "--lines is 1 to {}",
        LINES.len()
    );
    install_log_meter();
    println!(
        "# milkrun-bench checkout: {} cores, {} line(s) per order, poll every {} ms, MILKRUN_FRAUD_LIMIT={}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.lines,
        options.poll.as_millis(),
        std::env::var("MILKRUN_FRAUD_LIMIT").unwrap_or_else(|_| "default".into())
    );
    latency(&options).await;
    let metered = metered(&options).await;
    costs(&metered);
}

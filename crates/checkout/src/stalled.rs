//! Checkouts that stopped with no execution running, started again.
//!
//! An order can be left behind between two writes that are not one transaction: committed
//! PENDING by `POST /orders` whose StartExecution never happened (the function died, or
//! Step Functions refused), approved to CONFIRMED whose continuation never started, or
//! mid-execution when the execution itself died. Every step is idempotent by order, so
//! starting such a checkout again is safe: PENDING and PAYMENT_PENDING orders from the
//! start, CONFIRMED ones from ConfirmOrder.
//!
//! Express executions run at most five minutes, so an order untouched for
//! [`STALLED_AFTER`] in one of these statuses has none running any more: the scheduled
//! resume-checkouts Lambda starts those every five minutes in AWS, and `milkrun serve`
//! starts every one at start-up (no execution outlives the process that ran it).

use chrono::{DateTime, TimeDelta, Utc};
use milkrun_domain::DomainError;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::page::{MAX_PAGE_SIZE, PageRequest};
use milkrun_domain::ports::{CheckoutRun, CheckoutRunner, CheckoutStart, OrderReads};
use serde::Serialize;

/// Longer than an Express execution may run (five minutes), with a minute to spare.
pub const STALLED_AFTER: TimeDelta = TimeDelta::minutes(6);

/// The statuses an execution moves an order out of within seconds.
const IN_CHECKOUT: [OrderStatus; 3] = [
    OrderStatus::Pending,
    OrderStatus::PaymentPending,
    OrderStatus::Confirmed,
];

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeReport {
    /// Orders whose checkout was started again.
    pub resumed: usize,
    /// Orders whose start failed (logged; the next sweep tries again).
    pub failed: usize,
}

/// Starts again the checkout of every order in checkout that nothing changed since
/// `idle_since`; the sweep's time names the executions.
pub async fn resume_stalled(
    orders: &dyn OrderReads,
    runner: &dyn CheckoutRunner,
    idle_since: DateTime<Utc>,
) -> Result<ResumeReport, DomainError> {
    let sweep = Utc::now().timestamp();
    let mut report = ResumeReport::default();
    for status in IN_CHECKOUT {
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let listed = orders.by_status(Some(status), &page).await?;
            for order in listed.items.iter().filter(|o| o.updated_at <= idle_since) {
                match runner.start(&resumed(order, sweep)).await {
                    Ok(()) => report.resumed += 1,
                    Err(error) => {
                        report.failed += 1;
                        tracing::error!(order_id = %order.order_id, %error,
                            "a stalled checkout did not start again; the next sweep tries");
                    }
                }
            }
            let Some(cursor) = listed.next_cursor else {
                break;
            };
            page.cursor = Some(cursor);
        }
    }
    Ok(report)
}

fn resumed(order: &Order, sweep: i64) -> CheckoutStart {
    tracing::warn!(order_id = %order.order_id, status = %order.status,
        updated_at = %order.updated_at, "resuming a stalled checkout");
    CheckoutStart {
        order_id: order.order_id,
        payment_method: order.payment_method,
        run: CheckoutRun::Resumed {
            at_confirm: order.status == OrderStatus::Confirmed,
            sweep,
        },
    }
}

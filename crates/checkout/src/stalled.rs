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
//!
//! An order whose resumed runs keep dying is not started forever: each resume is counted on
//! the order by a compare-and-swap that also proves it still idle (so two sweepers count
//! and start it once), and after [`MAX_RESUMES`] the next sweep ends it the way a failed
//! checkout ends (FAILED, or CANCELLED and given back: stock released, money refunded) with
//! the reason CHECKOUT_STALLED, whose move alerts admins (ORDER_NEEDS_ATTENTION).

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use milkrun_domain::DomainError;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::page::{MAX_PAGE_SIZE, PageRequest};
use milkrun_domain::ports::{CheckoutRun, CheckoutRunner, CheckoutStart};
use serde::Serialize;
use uuid::Uuid;

use crate::lifecycle::settle;
use crate::records::{CHECKOUT_STALLED, change_order, checkout_actor};
use crate::steps::{CheckoutPorts, failed_status};

/// Longer than an Express execution may run (five minutes), with a minute to spare.
pub const STALLED_AFTER: TimeDelta = TimeDelta::minutes(6);

/// Times an order's checkout is started again before the sweep ends it: a run that died
/// once to a lost call or a deploy finishes on the next, while one that dies every time
/// (a bug, a poisoned order) stops costing executions and waiting customers.
pub const MAX_RESUMES: u32 = 3;

/// Who the status history says ended an order whose runs kept dying.
const BY: &str = "resume-checkouts";

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeReport {
    /// Orders whose checkout was started again.
    pub resumed: usize,
    /// Orders whose start failed (logged; the next sweep tries again).
    pub failed: usize,
    /// Orders started [`MAX_RESUMES`] times already, ended (admins alerted).
    pub given_up: usize,
}

/// What this sweep's claim of one idle order decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// Counted one more resume: start it.
    Resume,
    /// Its resumes ran out: ended.
    GiveUp,
}

/// Starts again the checkout of every order in checkout that nothing changed since
/// `idle_since`, or ends it once it was started [`MAX_RESUMES`] times; the sweep's time
/// names the executions.
pub async fn resume_stalled(
    ports: &CheckoutPorts,
    runner: &dyn CheckoutRunner,
    idle_since: DateTime<Utc>,
) -> Result<ResumeReport, DomainError> {
    let sweep = Utc::now().timestamp();
    let mut report = ResumeReport::default();
    let mut page = PageRequest::first(MAX_PAGE_SIZE);
    loop {
        let listed = ports.orders.in_checkout(&page).await?;
        for order in listed.items.iter().filter(|o| o.updated_at <= idle_since) {
            sweep_one(
                ports,
                runner,
                order.order_id,
                idle_since,
                sweep,
                &mut report,
            )
            .await;
        }
        let Some(cursor) = listed.next_cursor else {
            break;
        };
        page.cursor = Some(cursor);
    }
    Ok(report)
}

/// Claims one listed order and starts or ends it; a failure is counted and logged, so one
/// order never stops the sweep of the others.
async fn sweep_one(
    ports: &CheckoutPorts,
    runner: &dyn CheckoutRunner,
    order_id: Uuid,
    idle_since: DateTime<Utc>,
    sweep: i64,
    report: &mut ResumeReport,
) {
    let claimed = match claim(ports, order_id, idle_since).await {
        Ok(claimed) => claimed,
        Err(error) => {
            report.failed += 1;
            tracing::error!(%order_id, %error, "a stalled checkout could not be claimed");
            return;
        }
    };
    match claimed {
        None => {}
        Some((order, Claim::Resume)) => match runner.start(&resumed(&order, sweep)).await {
            Ok(()) => report.resumed += 1,
            Err(error) => {
                report.failed += 1;
                tracing::error!(%order_id, %error,
                    "a stalled checkout did not start again; the next sweep tries");
            }
        },
        Some((order, Claim::GiveUp)) => {
            report.given_up += 1;
            milkrun_metrics::checkout_outcome(order.status);
            tracing::error!(%order_id, resumes = order.resumes,
                "a checkout whose runs keep dying was ended; admins are alerted");
            // The order is ended and admins alerted already; what it holds is given back
            // here, and a settlement cut short is finished by anyone settling it again.
            let actor = checkout_actor(order_id);
            if let Err(error) = settle(ports, order, BY, &actor).await {
                report.failed += 1;
                tracing::error!(%order_id, %error, "an ended stalled checkout was not settled");
            }
        }
    }
}

/// Counts one more resume of the order, or ends it when it has had [`MAX_RESUMES`], by a
/// compare-and-swap that also finds it still in checkout and idle: a sweeper that loses
/// the race reads it changed and leaves it, so each stall is counted and started once.
async fn claim(
    ports: &CheckoutPorts,
    order_id: Uuid,
    idle_since: DateTime<Utc>,
) -> Result<Option<(Order, Claim)>, DomainError> {
    let decided = Mutex::new(None);
    let now = Utc::now();
    let actor = checkout_actor(order_id);
    let order = change_order(ports.orders.as_ref(), order_id, &actor, &|order| {
        let claim = match order.updated_at <= idle_since && order.status.is_in_checkout() {
            false => None,
            true if order.resumes < MAX_RESUMES => {
                order.resumes += 1;
                order.updated_at = now;
                Some(Claim::Resume)
            }
            true => failed_status(order.status)
                .map(|to| {
                    let reason = Some(CHECKOUT_STALLED.to_owned());
                    order.move_to(to, BY, reason, now)
                })
                .transpose()?
                .map(|()| Claim::GiveUp),
        };
        *decided.lock().unwrap_or_else(|e| e.into_inner()) = claim;
        Ok(claim.is_some())
    })
    .await?;
    let claim = decided.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(claim.map(|claim| (order, claim)))
}

fn resumed(order: &Order, sweep: i64) -> CheckoutStart {
    tracing::warn!(order_id = %order.order_id, status = %order.status,
        resumes = order.resumes, "resuming a stalled checkout");
    CheckoutStart {
        order_id: order.order_id,
        payment_method: order.payment_method,
        run: CheckoutRun::Resumed {
            at_confirm: order.status == OrderStatus::Confirmed,
            sweep,
        },
    }
}

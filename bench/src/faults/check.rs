//! The invariants after a fault run, read straight from the store (past the faults) and
//! from the gateway's own record: each broken one is a line of `Verdict::violations`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use milkrun_checkout::records::NEEDS_ATTENTION;
use milkrun_domain::inventory::{Reservation, ReservationStatus, StockKey, StockLine};
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::page::{MAX_PAGE_SIZE, PageRequest};
use milkrun_domain::payment::PaymentStatus;
use milkrun_domain::ports::{DeadLetters, OrderReads, PaymentReads, PendingEvents, StockLevels};
use milkrun_store::Key;
use milkrun_store::item::decode;
use milkrun_store::table::INVENTORY;
use milkrun_tool::demo::demo_id;

use super::load::{Loaded, Settled, clean_stores};
use super::people::Attended;
use super::{Options, Run, lock};
use crate::checkout::VENDOR;

/// What a fault run found.
pub struct Verdict {
    pub seed: u64,
    pub orders: usize,
    pub injected: u64,
    pub injected_by_kind: BTreeMap<String, u64>,
    pub statuses: BTreeMap<String, usize>,
    pub unanswered: usize,
    /// The last answer of one POST that never got its 201, if any.
    pub unanswered_sample: Option<String>,
    pub events: usize,
    pub deliveries: usize,
    pub resumed: usize,
    pub replayed: usize,
    pub rounds: usize,
    /// ORDER_NEEDS_ATTENTION alerts the admin found, and the refunds it moved.
    pub alerts: usize,
    pub admin_refunds: usize,
    pub charged: u64,
    pub refunded: u64,
    pub went_ahead: u64,
    pub load_secs: f64,
    pub settle_secs: f64,
    pub violations: Vec<String>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: {} orders placed ({} never answered 201), {} faults injected {:?}",
            self.seed, self.orders, self.unanswered, self.injected, self.injected_by_kind
        )?;
        if let Some(sample) = &self.unanswered_sample {
            writeln!(f, "a POST that never got its 201 last answered: {sample}")?;
        }
        writeln!(f, "orders by status: {:?}", self.statuses)?;
        writeln!(
            f,
            "money: charged {} − refunded {} = {} paise; orders that went ahead total {} paise",
            self.charged,
            self.refunded,
            self.charged - self.refunded,
            self.went_ahead
        )?;
        writeln!(
            f,
            "events: {} committed, {} consumer deliveries due, all made; {} dead letters replayed; {} checkouts resumed by the sweeper; {} settling rounds",
            self.events, self.deliveries, self.replayed, self.resumed, self.rounds
        )?;
        writeln!(
            f,
            "people: {} orders needed attention, {} refunded by an admin's move",
            self.alerts, self.admin_refunds
        )?;
        writeln!(
            f,
            "load {:.1} s, settling {:.1} s",
            self.load_secs, self.settle_secs
        )?;
        if self.violations.is_empty() {
            write!(f, "every invariant holds")
        } else {
            write!(
                f,
                "{} VIOLATIONS:\n  {}",
                self.violations.len(),
                self.violations.join("\n  ")
            )
        }
    }
}

/// Orders that went ahead: charged and kept (waiting on a manager, or past checkout).
fn went_ahead(status: OrderStatus) -> bool {
    use OrderStatus::*;
    matches!(
        status,
        OnHold | Confirmed | Preparing | OutForDelivery | Delivered
    )
}

pub(crate) async fn check(
    run: &Run,
    options: &Options,
    loaded: &Loaded,
    settled: &Settled,
    attended: &Attended,
) -> Verdict {
    let stores = clean_stores(run);
    let orders = every_order(&stores).await;
    let mut violations = Vec::new();
    let mut statuses = BTreeMap::new();
    for order in &orders {
        *statuses.entry(status_and_reason(order)).or_insert(0) += 1;
        if order.status.is_in_checkout() {
            violations.push(format!(
                "order {} stuck in {} after settling",
                order.order_id, order.status
            ));
        }
    }
    for id in &loaded.answered {
        if !orders.iter().any(|o| o.order_id == *id) {
            violations.push(format!("order {id} was answered 201 but does not exist"));
        }
    }
    violations.extend(alerts_raised(&orders, attended));
    violations.extend(stock_conserved(&stores, loaded, &orders).await);
    let (money, money_violations) = money_conserved(run, &stores, &orders).await;
    violations.extend(money_violations);
    let (events, deliveries, event_violations) = events_delivered(run, &stores).await;
    violations.extend(event_violations);
    let plan = &run.faulty.plan;
    Verdict {
        seed: options.seed,
        orders: orders.len(),
        injected: plan.injected_total(),
        injected_by_kind: plan
            .injected()
            .into_iter()
            .map(|((kind, fault), n)| (format!("{kind:?}/{fault:?}"), n))
            .collect(),
        statuses,
        unanswered: loaded.unanswered.len(),
        unanswered_sample: loaded.unanswered.first().cloned(),
        events,
        deliveries,
        resumed: settled.resumed,
        replayed: settled.replayed,
        rounds: settled.rounds,
        alerts: attended.alerted.len(),
        admin_refunds: attended.refunded,
        charged: money.0,
        refunded: money.1,
        went_ahead: money.2,
        load_secs: loaded.load_time.as_secs_f64(),
        settle_secs: settled.settle_time.as_secs_f64(),
        violations,
    }
}

/// "FAILED/OUT_OF_STOCK": the status and the reason of the move into it, if any.
fn status_and_reason(order: &Order) -> String {
    let reason = order
        .status_history
        .last()
        .and_then(|c| c.reason.as_deref());
    match reason {
        Some(reason) => format!("{}/{reason}", order.status),
        None => order.status.to_string(),
    }
}

/// The order's moves, for a violation's line: "PENDING by api, CANCELLED by … (REASON)".
fn history(order: &Order) -> String {
    let moves: Vec<String> = order
        .status_history
        .iter()
        .map(|c| match &c.reason {
            Some(reason) => format!("{} by {} ({reason})", c.status, c.by),
            None => format!("{} by {}", c.status, c.by),
        })
        .collect();
    moves.join(", ")
}

/// Every order ended for a reason that needs a person was alerted to the admins, and each
/// move the admin made was taken.
fn alerts_raised(orders: &[Order], attended: &Attended) -> Vec<String> {
    let mut violations = attended.refused.clone();
    for order in orders {
        let needing = order
            .status_history
            .iter()
            .find_map(|c| c.reason.as_deref().filter(|r| NEEDS_ATTENTION.contains(r)));
        let Some(reason) = needing else { continue };
        let alerted = attended
            .alerted
            .iter()
            .any(|(id, r)| *id == order.order_id && r == reason);
        if !alerted {
            violations.push(format!(
                "order {} ended {reason} without an alert to the admins; {}",
                order.order_id,
                history(order)
            ));
        }
    }
    violations
}

async fn every_order(stores: &milkrun_store::Stores) -> Vec<Order> {
    let mut orders = Vec::new();
    let mut page = PageRequest::first(MAX_PAGE_SIZE);
    loop {
        let listed = stores.orders.by_status(None, &page).await.unwrap();
        orders.extend(listed.items);
        let Some(cursor) = listed.next_cursor else {
            return orders;
        };
        page.cursor = Some(cursor);
    }
}

async fn reservation(stores: &milkrun_store::Stores, order: &Order) -> Option<Reservation> {
    let key = Key::with_sort(format!("RESERVATION#{}", order.order_id), "RESERVATION");
    let item = stores.items.get(&INVENTORY, &key, true).await.unwrap()?;
    Some(decode(item).unwrap())
}

/// Units by stock row, however the lines are split.
fn quantities(lines: &[StockLine]) -> HashMap<StockKey, u32> {
    let mut by_row = HashMap::new();
    for line in lines {
        *by_row.entry(line.key).or_default() += line.quantity;
    }
    by_row
}

/// For every row: stock + reserved + committed = as before the load; each order's
/// reservation matches where it ended (held while it goes ahead, given back otherwise), and
/// an order that goes ahead names the vendors and units its reservation holds.
async fn stock_conserved(
    stores: &milkrun_store::Stores,
    loaded: &Loaded,
    orders: &[Order],
) -> Vec<String> {
    let mut violations = Vec::new();
    let mut committed: HashMap<StockKey, u64> = HashMap::new();
    let mut reserved: HashMap<StockKey, u64> = HashMap::new();
    for order in orders {
        let held = reservation(stores, order).await;
        let status = held.as_ref().map(|r| r.status);
        let expected_held = went_ahead(order.status);
        match (expected_held, status) {
            (true, Some(ReservationStatus::Reserved | ReservationStatus::Committed))
            | (false, None | Some(ReservationStatus::Released)) => {}
            _ => violations.push(format!(
                "order {} is {} but its reservation is {status:?}",
                order.order_id, order.status
            )),
        }
        if let Some(held) = held.as_ref().filter(|_| expected_held)
            && quantities(&order.stock_lines()) != quantities(&held.lines)
        {
            violations.push(format!(
                "order {} names {:?} but its reservation holds {:?}",
                order.order_id,
                order.stock_lines(),
                held.lines
            ));
        }
        for line in held
            .iter()
            .flat_map(|r| r.lines.iter().map(move |l| (r.status, l)))
        {
            let tally = match line.0 {
                ReservationStatus::Committed => &mut committed,
                ReservationStatus::Reserved => &mut reserved,
                ReservationStatus::Released => continue,
            };
            *tally.entry(line.1.key).or_default() += u64::from(line.1.quantity);
        }
    }
    let after = stores
        .stock
        .for_vendor(demo_id("vendor", VENDOR))
        .await
        .unwrap();
    for before in &loaded.rows_before {
        let key = before.key();
        let Some(row) = after.iter().find(|r| r.key() == key) else {
            violations.push(format!("stock row {key:?} vanished"));
            continue;
        };
        let initial = u64::from(before.stock) + u64::from(before.reserved);
        let held = reserved.get(&key).copied().unwrap_or(0);
        let gone = committed.get(&key).copied().unwrap_or(0);
        let now = u64::from(row.stock) + u64::from(row.reserved) + gone;
        if now != initial || u64::from(row.reserved) != held + u64::from(before.reserved) {
            violations.push(format!(
                "stock not conserved on {key:?}: stock {} + reserved {} + committed {gone} = {now}, was {initial}; reservations hold {held}",
                row.stock, row.reserved
            ));
        }
    }
    violations
}

/// charged − refunded by the gateway's own record = the totals of the orders that went
/// ahead; the payment records agree with the gateway.
async fn money_conserved(
    run: &Run,
    stores: &milkrun_store::Stores,
    orders: &[Order],
) -> ((u64, u64, u64), Vec<String>) {
    let gateway = lock(&run.faulty.gateway)
        .clone()
        .expect("the host built one");
    let mut violations = Vec::new();
    let (mut charged, mut refunded, mut ahead) = (0, 0, 0);
    for order in orders {
        let at_gateway = gateway.payment_for(order.order_id).await.unwrap();
        let recorded = stores.payments.for_order(order.order_id).await.unwrap();
        if let Some(payment) = &at_gateway {
            match payment.status {
                PaymentStatus::Succeeded => charged += payment.amount.amount,
                PaymentStatus::Refunded => {
                    charged += payment.amount.amount;
                    refunded += payment.amount.amount;
                }
                _ => {}
            }
        }
        let kept = at_gateway
            .as_ref()
            .filter(|p| p.status == PaymentStatus::Succeeded)
            .map_or(0, |p| p.amount.amount);
        if went_ahead(order.status) {
            ahead += order.total.amount;
            if kept != order.total.amount {
                violations.push(format!(
                    "order {} went ahead ({}) for {} paise but the gateway holds {kept}",
                    order.order_id, order.status, order.total.amount
                ));
            }
        } else if kept != 0 {
            violations.push(format!(
                "order {} is {} yet the gateway holds {kept} paise of it (charged, never refunded)",
                order.order_id, order.status
            ));
        }
        let recorded_status = recorded.as_ref().map(|p| p.status);
        let gateway_status = at_gateway.as_ref().map(|p| p.status);
        let agree = match (recorded_status, gateway_status) {
            (Some(r), Some(g)) => {
                r == g || (r == PaymentStatus::Failed && g != PaymentStatus::Succeeded)
            }
            (None, None | Some(PaymentStatus::Pending | PaymentStatus::Failed)) => true,
            _ => false,
        };
        if !agree {
            violations.push(format!(
                "order {} ({}): the payment record says {recorded_status:?}, the gateway {gateway_status:?}; {}",
                order.order_id, order.status, history(order)
            ));
        }
    }
    ((charged, refunded, ahead), violations)
}

/// Every event the relay took from the outbox reached every consumer subscribed to its
/// topic that wants its type; nothing is left in the outbox or the dead-letter list.
async fn events_delivered(
    run: &Run,
    stores: &milkrun_store::Stores,
) -> (usize, usize, Vec<String>) {
    let mut violations = Vec::new();
    let pending = stores.outbox.pending(10).await.unwrap();
    if !pending.is_empty() {
        violations.push(format!(
            "{} or more events still in the outbox",
            pending.len()
        ));
    }
    let letters = stores.dead_letters.list(100).await.unwrap();
    for letter in &letters {
        violations.push(format!(
            "dead letter left after replay: {} {} ({})",
            letter.consumer, letter.event.event_id, letter.error
        ));
    }
    let mut events: Vec<_> = lock(&run.faulty.offered).clone();
    events.sort_by_key(|e| e.event_id);
    events.dedup_by_key(|e| e.event_id);
    let handled = lock(&run.handled).clone();
    let mut due = 0;
    let mut missed = 0;
    for event in &events {
        for (topics, handler) in &run.consumers {
            if !topics.contains(&event.topic()) || !handler.wants(event.event_type) {
                continue;
            }
            due += 1;
            if !handled.contains(&(handler.name(), event.event_id)) {
                missed += 1;
                if missed <= 10 {
                    violations.push(format!(
                        "event {} ({}) never reached {}",
                        event.event_id,
                        event.event_type.as_str(),
                        handler.name()
                    ));
                }
            }
        }
    }
    if missed > 10 {
        violations.push(format!("… {missed} deliveries missed in all, of {due}"));
    }
    (events.len(), due, violations)
}

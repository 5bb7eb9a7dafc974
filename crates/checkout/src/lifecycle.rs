//! What every path of an order's life shares and which is no checkout step: its deliveries
//! scheduled (ScheduleDelivery, an admin's move to PREPARING) and called off, its payment
//! refunded, and the one settlement of what its status asks of its stock and money, used
//! by the checkout's MarkFailed, a cancel (the owner's, a manager's rejection, an admin's
//! forced move) and a delivery that FAILED.

use chrono::Utc;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::delivery::{Delivery, DeliveryStatus};
use milkrun_domain::error::TaskError;
use milkrun_domain::events::{
    DeliveryNews, DeliveryScheduled, DeliveryUpdated, OrderConfirmed, OrderNews,
};
use milkrun_domain::inventory::StockSettlement;
use milkrun_domain::money::Money;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::payment::{Payment, PaymentStatus};
use milkrun_domain::{DomainError, Effects, StoreError};
use milkrun_store::retry::retry_on_conflict;
use serde_json::json;
use uuid::Uuid;

use crate::records::{attach_paid, change_order, checkout_actor, order_effects, record_payment};
use crate::steps::CheckoutPorts;

/// What an order's status asks of its stock and money, each part idempotent, so a repeated
/// or interrupted settlement finishes the job: DELIVERED commits the reserved stock;
/// FAILED, or waiting for another payment, releases it; CANCELLED gives back what did not
/// leave and the money ([`settle_cancelled`]). Moves are recorded as made `by` `actor`.
pub async fn settle(
    ports: &CheckoutPorts,
    order: Order,
    by: &str,
    actor: &AuditContext,
) -> Result<Order, DomainError> {
    let stock = &ports.stock;
    match order.status {
        OrderStatus::Delivered => {
            stock
                .commit(order.order_id, &StockSettlement::audited(actor))
                .await?;
        }
        OrderStatus::Failed | OrderStatus::PaymentFailed => {
            stock
                .release(order.order_id, &StockSettlement::audited(actor))
                .await?;
        }
        OrderStatus::Cancelled => {
            return settle_cancelled(ports, order, by, actor, PAYMENT_REFUNDED).await;
        }
        _ => {}
    }
    Ok(order)
}

/// Why a cancelled order became REFUNDED when nobody said why.
pub(crate) const PAYMENT_REFUNDED: &str = "PAYMENT_REFUNDED";

/// Calls off a CANCELLED order's deliveries still on a round, gives back the stock of
/// every vendor that did not deliver (what was delivered left the shelf) and the money of
/// their lines (what was delivered is kept), and marks it REFUNDED (`refunded_reason` in
/// its timeline) when money was returned. Any other order is answered as it is.
pub(crate) async fn settle_cancelled(
    ports: &CheckoutPorts,
    order: Order,
    by: &str,
    actor: &AuditContext,
    refunded_reason: &str,
) -> Result<Order, DomainError> {
    if order.status != OrderStatus::Cancelled {
        return Ok(order);
    }
    let delivered_by = give_back_undelivered_stock(ports, &order, by, actor).await?;
    // Then the money: whatever fails after it, the customer has been paid back.
    let refunded = refund_undelivered(ports, &order, &delivered_by)
        .await
        .map_err(|error| DomainError::Internal(error.to_string()))?;
    if !refunded {
        return Ok(order);
    }
    let now = Utc::now();
    change_order(ports.orders.as_ref(), order.order_id, actor, &|order| {
        if order.status != OrderStatus::Cancelled {
            return Ok(false);
        }
        let reason = Some(refunded_reason.to_owned());
        order.move_to(OrderStatus::Refunded, by, reason, now)?;
        Ok(true)
    })
    .await
}

/// Calls off a cancelled order's deliveries still on a round, then gives back the stock
/// of every vendor that did not deliver (what was delivered left the shelf), audited:
/// the vendors who delivered.
async fn give_back_undelivered_stock(
    ports: &CheckoutPorts,
    order: &Order,
    by: &str,
    actor: &AuditContext,
) -> Result<Vec<Uuid>, DomainError> {
    // First, so that no delivery becomes DELIVERED after the stock is settled.
    let deliveries = call_off_deliveries(ports, order, by, actor).await?;
    let delivered_by: Vec<Uuid> = deliveries
        .iter()
        .filter(|d| d.status == DeliveryStatus::Delivered)
        .map(|d| d.vendor_id)
        .collect();
    let settlement = StockSettlement::audited(actor);
    ports
        .stock
        .release_undelivered(order.order_id, &delivered_by, &settlement)
        .await?;
    Ok(delivered_by)
}

/// What an ended order's status asks of its stock, leaving its money as it is: a CANCELLED
/// order's deliveries still on a round called off and the stock of every vendor that did
/// not deliver given back ([`settle_cancelled`]'s first half), a FAILED order's stock
/// released. Any other order is answered as it is.
pub async fn give_back_stock(
    ports: &CheckoutPorts,
    order: Order,
    by: &str,
    actor: &AuditContext,
) -> Result<Order, DomainError> {
    match order.status {
        OrderStatus::Cancelled => {
            give_back_undelivered_stock(ports, &order, by, actor).await?;
        }
        OrderStatus::Failed => {
            ports
                .stock
                .release(order.order_id, &StockSettlement::audited(actor))
                .await?;
        }
        _ => {}
    }
    Ok(order)
}

/// Refunds the order's payment in full if it was taken, and records it: whether it is
/// refunded now (false for COD, a declined payment, or none).
pub async fn refund_order_payment(
    ports: &CheckoutPorts,
    order_id: Uuid,
) -> Result<bool, TaskError> {
    refund_payment(ports, order_id, &|payment| payment.amount, "ORDER_REFUNDED").await
}

/// Refunds what of a cancelled order was not delivered: the lines of every vendor but
/// `delivered_by` ([`Order::refund_due`]), recorded on the payment (in full: REFUNDED; in
/// part: SUCCEEDED with its `refunds`). Whether money went back (false for COD, a declined
/// payment, none, or nothing left to give back).
async fn refund_undelivered(
    ports: &CheckoutPorts,
    order: &Order,
    delivered_by: &[Uuid],
) -> Result<bool, TaskError> {
    let reason = if delivered_by.is_empty() {
        "ORDER_CANCELLED"
    } else {
        "UNDELIVERED_LINES"
    };
    let due = |payment: &Payment| order.refund_due(payment.amount, delivered_by);
    refund_payment(ports, order.order_id, &due, reason).await
}

/// Gives `due` of the order's taken payment back (once: a payment refunded already is
/// answered as it is) and records it; whether any money went back.
async fn refund_payment(
    ports: &CheckoutPorts,
    order_id: Uuid,
    due: &(dyn Fn(&Payment) -> Money + Send + Sync),
    reason: &str,
) -> Result<bool, TaskError> {
    let stored = ports
        .payments
        .for_order(order_id)
        .await
        .map_err(DomainError::from)?;
    let taken = match stored {
        Some(payment) if payment.status == PaymentStatus::Succeeded => payment,
        Some(payment) if payment.status == PaymentStatus::Refunded => return Ok(true),
        // No record of a capture: yet the charge may have gone through with its answer
        // lost (a timeout after the charge, or the record's write failing), so the
        // gateway's own record decides. COD and declined orders find nothing to give back.
        _ => match ports.gateway.payment_for(order_id).await? {
            Some(payment)
                if matches!(
                    payment.status,
                    PaymentStatus::Succeeded | PaymentStatus::Refunded
                ) =>
            {
                payment
            }
            _ => return Ok(false),
        },
    };
    if taken.refunds.is_empty() && due(&taken).amount == 0 {
        return Ok(false);
    }
    // The gateway refunds a payment once: one it refunded already is answered as it is.
    let answered = ports.gateway.refund(&taken, due(&taken), reason).await?;
    let actor = checkout_actor(order_id);
    let recorded = record_payment(&ports.payments, &answered, &actor).await?;
    Ok(recorded.refunded_amount.amount > 0)
}

/// A PAYMENT_PENDING order found paid (SPEC §5 step 7, checked by ConfirmOrder), to be
/// confirmed on its way to PREPARING: the payment that paid it (`None`: cash on delivery).
#[derive(Debug, Clone, Copy)]
pub struct Paid(pub Option<Uuid>);

/// SPEC §5 step 8 for a CONFIRMED order: CONFIRMED → PREPARING (moved `by`) with its
/// deliveries (one per vendor, ids derived from the order and vendor) and a
/// DELIVERY_SCHEDULED event each (the vendor's assignment), in one transaction, so a cancel
/// landing meanwhile leaves no delivery behind. With `paid`, a PAYMENT_PENDING order is
/// confirmed in the same write (step 7: the payment named, its token dropped, CONFIRMED in
/// its history, ORDER_CONFIRMED with the deliveries' events, one audit entry for both
/// moves). Then SPEC §5 step 7's account update, once, by whoever prepared it. Answers the
/// order as it is (any other status: untouched).
pub async fn schedule_deliveries(
    ports: &CheckoutPorts,
    order_id: Uuid,
    by: &str,
    actor: &AuditContext,
    paid: Option<Paid>,
) -> Result<Order, DomainError> {
    let orders = ports.orders.clone();
    let (order, prepared) = retry_on_conflict("order", || async {
        let mut order = orders
            .get(order_id)
            .await?
            .ok_or(DomainError::NotFound("order"))?;
        let now = Utc::now();
        let (before, confirmed) = (order.status, confirm_paid(&mut order, paid, by, now)?);
        if order.status != OrderStatus::Confirmed {
            return Ok((order, false));
        }
        let deliveries = Delivery::schedule_for(&order, by, now);
        order.delivery_ids = deliveries.iter().map(|d| d.delivery_id).collect();
        order.move_to(OrderStatus::Preparing, by, None, now)?;
        let mut moved = order_effects(before, &order, actor);
        if let Some(news) = confirmed {
            moved = moved.with_event(&OrderConfirmed(news), &actor.correlation_id);
        }
        let effects = moved.clone().and(scheduled_effects(&deliveries, actor));
        let order = match orders
            .update_with_deliveries(order.clone(), &deliveries, &effects)
            .await
        {
            // Written with their events, before the move, by a version that wrote them
            // apart (their ids are the same): the move alone.
            Err(StoreError::AlreadyExists) => orders.update(order, &moved).await?,
            written => written?,
        };
        Ok((order, true))
    })
    .await?;
    if prepared {
        milkrun_metrics::checkout_outcome(OrderStatus::Preparing);
        count_order(ports, &order).await?;
    }
    Ok(order)
}

/// Ends each delivery of a cancelled order still on a round as FAILED (`ORDER_CANCELLED`,
/// moved `by`), so no vendor loads or moves it any more; answers the order's deliveries as
/// they end.
pub async fn call_off_deliveries(
    ports: &CheckoutPorts,
    order: &Order,
    by: &str,
    actor: &AuditContext,
) -> Result<Vec<Delivery>, DomainError> {
    let mut deliveries = ports.deliveries.for_order(order).await?;
    for delivery in deliveries.iter_mut().filter(|d| !d.status.is_final()) {
        let delivery_id = delivery.delivery_id;
        *delivery = retry_on_conflict("delivery", || async {
            let current = ports.deliveries.get(delivery_id).await?;
            let mut current = current.ok_or(DomainError::NotFound("delivery"))?;
            if current.status.is_final() {
                return Ok(current);
            }
            let reason = Some("ORDER_CANCELLED".to_owned());
            current.move_to(DeliveryStatus::Failed, by, reason, Utc::now())?;
            let entry = actor.entry("DELIVERY_UPDATED", "DELIVERY", delivery_id);
            let effects = Effects::audited(entry.with_changes(json!({ "status": "FAILED" })))
                .with_event(
                    &DeliveryUpdated(DeliveryNews::of(&current)),
                    &actor.correlation_id,
                );
            Ok(ports.deliveries.update(current, &effects).await?)
        })
        .await?;
    }
    Ok(deliveries)
}

/// One more order on the customer's account, and its method as their preferred one: only
/// by the call that prepared the order, so a repeated step never counts twice (a crash
/// between the two loses the count, which only feeds the fraud rules' history and the
/// profile).
pub async fn count_order(ports: &CheckoutPorts, order: &Order) -> Result<(), DomainError> {
    let users = ports.users.clone();
    retry_on_conflict("user", || async {
        let Some(mut user) = users.by_id(order.user_id).await? else {
            return Ok(());
        };
        user.order_count += 1;
        user.preferred_payment_method = Some(order.payment_method);
        users.update(user, &Effects::none()).await?;
        Ok(())
    })
    .await
}

/// Confirms a PAYMENT_PENDING order found `paid` (naming its payment, dropping the spent
/// token): the news ORDER_CONFIRMED tells, of the order as confirmed. Any other order, or
/// none paid, is left as it is.
fn confirm_paid(
    order: &mut Order,
    paid: Option<Paid>,
    by: &str,
    now: chrono::DateTime<Utc>,
) -> Result<Option<OrderNews>, DomainError> {
    let (OrderStatus::PaymentPending, Some(Paid(payment))) = (order.status, paid) else {
        return Ok(None);
    };
    if let Some(payment_id) = payment {
        attach_paid(order, payment_id);
    }
    order.move_to(OrderStatus::Confirmed, by, None, now)?;
    Ok(Some(OrderNews::of(order)))
}

/// A DELIVERY_SCHEDULED event (the vendor's assignment) and an audit entry per delivery.
fn scheduled_effects(deliveries: &[Delivery], actor: &AuditContext) -> Effects {
    deliveries
        .iter()
        .fold(Effects::none(), |effects, delivery| {
            let entry = actor.entry("DELIVERY_SCHEDULED", "DELIVERY", delivery.delivery_id);
            let mut effects = effects.with_event(
                &DeliveryScheduled(DeliveryNews::of(delivery)),
                &actor.correlation_id,
            );
            effects.audit.push(entry);
            effects
        })
}

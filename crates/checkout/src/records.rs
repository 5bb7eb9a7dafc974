//! What an order's and a payment's changes bring with them (SPEC §7 events, an audit entry
//! each), and the moves every path shares: a compare-and-swap order change and the payment
//! record's outcomes. The checkout steps and the HTTP actions (cancel, approve, a delivery's
//! update) write through these, so an order moves the same way and says so the same way
//! whoever moves it.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::events::{
    FraudSuspected, OrderCancelled, OrderConfirmed, OrderFailed, OrderNeedsAttention, OrderNews,
    OrderOnHold, PaymentFailed, PaymentNews, PaymentRefunded, PaymentSucceeded,
};
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::payment::{Payment, PaymentStatus};
use milkrun_domain::ports::{OrderStore, PaymentStore};
use milkrun_domain::{DomainError, Effects, StoreError};
use milkrun_store::retry::retry_on_conflict;
use serde_json::json;
use uuid::Uuid;

const ORDER: &str = "ORDER";

/// The reason of an order whose resumed runs kept dying, ended by the sweep.
pub const CHECKOUT_STALLED: &str = "CHECKOUT_STALLED";
/// The reason of an order CANCELLED whose refund kept failing: its money is still taken.
pub const REFUND_FAILED: &str = "REFUND_FAILED";
/// Reasons the checkout ends an order with that a person must look at: the move alerts
/// admins (ORDER_NEEDS_ATTENTION on admin-alerts) in its own transaction.
pub const NEEDS_ATTENTION: [&str; 2] = [CHECKOUT_STALLED, REFUND_FAILED];
const PAYMENT: &str = "PAYMENT";

/// The audit context of the checkout's own steps: correlated by the order, so an order's
/// whole checkout reads as one story in the audit trail and the events.
pub fn checkout_actor(order_id: Uuid) -> AuditContext {
    AuditContext::system(&order_id.to_string(), "checkout")
}

/// The effects of an order change from `before`: an `ORDER_<STATUS>` audit entry when the
/// status moved (`ORDER_UPDATED` otherwise) and the status's event, if it has one
/// (PAYMENT_FAILED is told by the payment's own event; an ON_HOLD order alerts managers, and
/// a move for one of the [`NEEDS_ATTENTION`] reasons alerts admins).
pub fn order_effects(before: OrderStatus, order: &Order, actor: &AuditContext) -> Effects {
    let effects = status_effects(before, order, actor);
    let news = OrderNews::of(order);
    match news.reason.as_deref() {
        Some(reason) if before != order.status && NEEDS_ATTENTION.contains(&reason) => {
            effects.with_event(&OrderNeedsAttention(news), &actor.correlation_id)
        }
        _ => effects,
    }
}

fn status_effects(before: OrderStatus, order: &Order, actor: &AuditContext) -> Effects {
    let moved = before != order.status;
    let action = match moved {
        true => format!("ORDER_{}", order.status),
        false => "ORDER_UPDATED".to_owned(),
    };
    let changes = json!({ "status": { "before": before, "after": order.status } });
    let entry = actor.entry(&action, ORDER, order.order_id);
    let effects = Effects::audited(entry.with_changes(changes));
    if !moved {
        return effects;
    }
    let news = OrderNews::of(order);
    let correlation = actor.correlation_id.as_str();
    match order.status {
        OrderStatus::Confirmed => effects.with_event(&OrderConfirmed(news), correlation),
        OrderStatus::Failed => effects.with_event(&OrderFailed(news), correlation),
        OrderStatus::Cancelled => effects.with_event(&OrderCancelled(news), correlation),
        OrderStatus::OnHold => {
            let alert = FraudSuspected {
                order_id: order.order_id,
                user_id: order.user_id,
                total: order.total,
                reasons: news
                    .reason
                    .iter()
                    .flat_map(|r| r.split(','))
                    .map(str::to_owned)
                    .collect(),
            };
            effects
                .with_event(&OrderOnHold(news), correlation)
                .with_event(&alert, correlation)
        }
        _ => effects,
    }
}

/// Reads the order, applies `edit` (answering whether it changed anything) and writes it
/// back by compare-and-swap with [`order_effects`], from a fresh read after a lost race.
pub async fn change_order(
    orders: &dyn OrderStore,
    order_id: Uuid,
    actor: &AuditContext,
    edit: &(dyn Fn(&mut Order) -> Result<bool, DomainError> + Send + Sync),
) -> Result<Order, DomainError> {
    retry_on_conflict("order", || async move {
        let mut order = orders
            .get(order_id)
            .await?
            .ok_or(DomainError::NotFound("order"))?;
        let before = order.status;
        if !edit(&mut order)? {
            return Ok(order);
        }
        let effects = order_effects(before, &order, actor);
        Ok(orders.update(order, &effects).await?)
    })
    .await
}

/// The effects of a payment reaching `payment.status`, or (`refund`) of a refund of it,
/// in part or whole: PAYMENT_REFUNDED with the amount that went back.
fn payment_effects(payment: &Payment, refund: bool, actor: &AuditContext) -> Effects {
    let status = if refund {
        PaymentStatus::Refunded
    } else {
        payment.status
    };
    let entry = actor.entry(&format!("PAYMENT_{status}"), PAYMENT, payment.payment_id);
    let changes = match (refund, payment.last_refund()) {
        (true, Some(amount)) => json!({
            "orderId": payment.order_id,
            "refunded": amount,
            "refundedAmount": {"after": payment.refunded_amount},
            "status": {"after": payment.status},
        }),
        _ => json!({ "orderId": payment.order_id }),
    };
    let effects = Effects::audited(entry.with_changes(changes));
    let news = PaymentNews::of(payment);
    let correlation = actor.correlation_id.as_str();
    match status {
        PaymentStatus::Succeeded => effects.with_event(&PaymentSucceeded(news), correlation),
        PaymentStatus::Failed => effects.with_event(&PaymentFailed(news), correlation),
        PaymentStatus::Refunded => effects.with_event(&PaymentRefunded(news), correlation),
        PaymentStatus::Pending => effects,
    }
}

/// The order's payment record, kept in step with what the gateway answered: created on the
/// first answer, then moved to each new status (a declined payment retried and taken, a
/// taken one refunded). An answer the record already holds writes nothing, so a repeated
/// step or a duplicate webhook records once.
pub async fn record_payment(
    payments: &Arc<dyn PaymentStore>,
    answered: &Payment,
    actor: &AuditContext,
) -> Result<Payment, DomainError> {
    retry_on_conflict("payment", || async move {
        let Some(mut stored) = payments.for_order(answered.order_id).await? else {
            // Another writer recorded it first: read it again and compare.
            let created = create_payment(payments, answered, actor).await?;
            return created.ok_or_else(|| StoreError::VersionConflict.into());
        };
        let refund = answered.refunds.len() > stored.refunds.len();
        if stored.status == answered.status && stored.attempts >= answered.attempts && !refund {
            return Ok(stored);
        }
        if refund {
            stored.refunded_amount = answered.refunded_amount;
            stored.refunds = answered.refunds.clone();
        }
        stored.status = answered.status;
        // A retry may pay another way, or a smaller total after a partial reservation.
        stored.method = answered.method;
        stored.amount = answered.amount;
        stored.attempts = stored.attempts.max(answered.attempts);
        stored.failure_reason = answered.failure_reason.clone();
        stored.gateway_reference = answered
            .gateway_reference
            .clone()
            .or(stored.gateway_reference);
        stored.updated_at = Utc::now();
        let effects = payment_effects(&stored, refund, actor);
        Ok(payments.update(stored, &effects).await?)
    })
    .await
}

/// Records `answered` as the first payment of its order, for a caller that found none
/// through `for_order`: the create's put-if-absent (under the id derived from the order)
/// refuses a second one, and only then is it compared with the stored one as
/// [`record_payment`] compares. Payments from before derived ids are found by that caller's
/// `for_order` through their claim, and none is written any more.
pub async fn record_first_payment(
    payments: &Arc<dyn PaymentStore>,
    answered: &Payment,
    actor: &AuditContext,
) -> Result<Payment, DomainError> {
    match create_payment(payments, answered, actor).await? {
        Some(created) => Ok(created),
        None => record_payment(payments, answered, actor).await,
    }
}

/// Creates `answered` as its order's payment record; `None` if one was recorded first.
async fn create_payment(
    payments: &Arc<dyn PaymentStore>,
    answered: &Payment,
    actor: &AuditContext,
) -> Result<Option<Payment>, DomainError> {
    let created = Payment {
        version: 0,
        ..answered.clone()
    };
    match payments
        .create(&created, &payment_effects(&created, false, actor))
        .await
    {
        Ok(()) => Ok(Some(created)),
        Err(StoreError::AlreadyExists) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Records on `order` the payment that paid it; the token it was charged with is spent.
pub fn attach_paid(order: &mut Order, payment_id: Uuid) {
    order.payment_id = Some(payment_id);
    order.payment_token = None;
}

/// Puts a taken payment on its PAYMENT_PENDING (or PAYMENT_FAILED, awaiting a retry) order
/// that has none yet, so no step charges it again; the token the customer sent has done its
/// work and is dropped. Any other order is answered as it is (a repeated step, a webhook
/// after the charge step).
pub async fn attach_payment(
    orders: &dyn OrderStore,
    order_id: Uuid,
    payment: &Payment,
    actor: &AuditContext,
) -> Result<Order, DomainError> {
    let now = Utc::now();
    change_order(orders, order_id, actor, &|order| {
        let awaiting = matches!(
            order.status,
            OrderStatus::PaymentPending | OrderStatus::PaymentFailed
        );
        if !awaiting || order.payment_id.is_some() {
            return Ok(false);
        }
        attach_paid(order, payment.payment_id);
        order.updated_at = now;
        Ok(true)
    })
    .await
}

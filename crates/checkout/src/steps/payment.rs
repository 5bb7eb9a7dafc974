//! Step 5, ProcessPayment (the charge, idempotent by order, and its record), and its
//! compensation RefundPayment.

use chrono::Utc;
use milkrun_domain::DomainError;
use milkrun_domain::error::TaskError;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::payment::{ChargeRequest, GatewayError, Payment, PaymentStatus};
use milkrun_domain::values::PaymentMethod;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{CheckoutTasks, Step, answer, out_of_place};
use crate::lifecycle::refund_order_payment;
use crate::records::{checkout_actor, record_first_payment, record_payment};

impl CheckoutTasks {
    /// Charges the order's total through the gateway (idempotent by order) and records the
    /// payment. Declined: `PaymentDeclined`; the gateway unreachable:
    /// `PaymentGatewayUnavailable` (retried by the definition). COD is never charged, nor
    /// is an order whose payment was taken already (SUCCEEDED, or REFUNDED by a compensation
    /// that died before marking the order). The order itself is not written: the payment's
    /// id reaches it with its next move (ScheduleDelivery's, or FraudCheck's hold), one write
    /// of the order and its audit entry fewer a checkout.
    pub(super) async fn process_payment(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        if order.payment_method == PaymentMethod::Cod || order.payment_id.is_some() {
            return Ok(answer(&order));
        }
        if order.status != OrderStatus::PaymentPending {
            return Err(out_of_place(Step::ProcessPayment, order.status));
        }
        // Taken already, and maybe given back since (a compensation that died before
        // marking the order): never charged twice; ConfirmOrder refuses a refunded one.
        let recorded = self.order_payment(&order).await?;
        if let Some(taken) = recorded.as_ref().and_then(taken) {
            return Ok(paid_answer(&order, taken));
        }
        let request = ChargeRequest {
            order_id,
            user_id: order.user_id,
            amount: order.total,
            method: order.payment_method,
            token: order.payment_token.clone(),
        };
        let first = recorded.is_none();
        let payment = match self.ports.gateway.charge(&request).await {
            Ok(payment) => self.record(&payment, first).await?,
            Err(GatewayError::Declined(reason)) => {
                milkrun_metrics::payment_declined();
                let failed = declined(&request, reason.clone(), recorded);
                self.record(&failed, first).await?;
                return Err(GatewayError::Declined(reason).into());
            }
            Err(other) => return Err(other.into()),
        };
        Ok(paid_answer(&order, payment.payment_id))
    }

    /// The order's payment record: the one it names, or (not named yet) the one kept for it.
    pub(super) async fn order_payment(&self, order: &Order) -> Result<Option<Payment>, TaskError> {
        let payments = &self.ports.payments;
        let found = match order.payment_id {
            Some(payment_id) => payments.get(payment_id).await,
            None => payments.for_order(order.order_id).await,
        };
        Ok(found.map_err(DomainError::from)?)
    }

    /// The id of the order's payment if the gateway took it: SUCCEEDED, or REFUNDED since.
    pub(super) async fn taken_payment(&self, order: &Order) -> Result<Option<Uuid>, TaskError> {
        Ok(self.order_payment(order).await?.as_ref().and_then(taken))
    }

    /// Keeps the gateway's answer as the order's payment record. `first`: the step found
    /// none (its claim from before derived ids included), so it is created without a second
    /// look (2 RRU a checkout), and compared with a stored one only if another writer
    /// recorded one since.
    async fn record(&self, answered: &Payment, first: bool) -> Result<Payment, TaskError> {
        let (payments, actor) = (&self.ports.payments, checkout_actor(answered.order_id));
        let recorded = if first {
            record_first_payment(payments, answered, &actor).await
        } else {
            record_payment(payments, answered, &actor).await
        };
        Ok(recorded?)
    }

    /// Refunds the order's payment if the gateway took one; a no-op for COD, for nothing
    /// captured and for a refunded payment.
    pub(super) async fn refund_payment(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let refunded = refund_order_payment(&self.ports, order_id).await?;
        Ok(json!({ "orderId": order_id, "refunded": refunded }))
    }
}

/// `payment`'s id if the gateway took it: SUCCEEDED, or REFUNDED since.
fn taken(payment: &Payment) -> Option<Uuid> {
    matches!(
        payment.status,
        PaymentStatus::Succeeded | PaymentStatus::Refunded
    )
    .then_some(payment.payment_id)
}

/// The payment record of a declined charge: the order's record as the step found it with
/// one more attempt, or a new one (`record_payment` keeps the most attempts either way;
/// should a webhook have counted the same attempt meanwhile, this one records nothing more).
fn declined(request: &ChargeRequest, reason: String, recorded: Option<Payment>) -> Payment {
    let base = recorded.unwrap_or_else(|| request.pending_payment(Utc::now()));
    Payment {
        status: PaymentStatus::Failed,
        attempts: base.attempts + 1,
        failure_reason: Some(reason),
        amount: request.amount,
        method: request.method,
        ..base
    }
}

fn paid_answer(order: &Order, payment_id: Uuid) -> Value {
    json!({ "orderId": order.order_id, "status": order.status, "paymentId": payment_id })
}

//! Step 5, ProcessPayment (the charge, idempotent by order, and its record), and its
//! compensation RefundPayment.

use chrono::Utc;
use milkrun_domain::DomainError;
use milkrun_domain::error::TaskError;
use milkrun_domain::order::OrderStatus;
use milkrun_domain::payment::{ChargeRequest, GatewayError, Payment, PaymentStatus};
use milkrun_domain::values::PaymentMethod;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{CheckoutTasks, Step, answer, out_of_place};
use crate::lifecycle::refund_order_payment;
use crate::records::{attach_payment, checkout_actor, record_payment};

impl CheckoutTasks {
    /// Charges the order's total through the gateway (idempotent by order) and records the
    /// payment's id on the order. Declined: `PaymentDeclined`; the gateway unreachable:
    /// `PaymentGatewayUnavailable` (retried by the definition). COD is never charged.
    pub(super) async fn process_payment(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        if order.payment_method == PaymentMethod::Cod || order.payment_id.is_some() {
            return Ok(answer(&order));
        }
        if order.status != OrderStatus::PaymentPending {
            return Err(out_of_place(Step::ProcessPayment, order.status));
        }
        let request = ChargeRequest {
            order_id,
            user_id: order.user_id,
            amount: order.total,
            method: order.payment_method,
            token: order.payment_token.clone(),
        };
        let payment = match self.ports.gateway.charge(&request).await {
            Ok(payment) => self.record(&payment).await?,
            Err(GatewayError::Declined(reason)) => {
                milkrun_metrics::payment_declined();
                self.record(&self.declined(&request, reason.clone()).await?)
                    .await?;
                return Err(GatewayError::Declined(reason).into());
            }
            Err(other) => return Err(other.into()),
        };
        let actor = checkout_actor(order_id);
        let order = attach_payment(self.ports.orders.as_ref(), order_id, &payment, &actor).await?;
        Ok(json!({
            "orderId": order_id,
            "status": order.status,
            "paymentId": payment.payment_id,
        }))
    }

    /// Keeps the gateway's answer as the order's payment record.
    async fn record(&self, answered: &Payment) -> Result<Payment, TaskError> {
        Ok(record_payment(
            &self.ports.payments,
            answered,
            &checkout_actor(answered.order_id),
        )
        .await?)
    }

    /// The payment record of a declined charge: the order's earlier record with one more
    /// attempt, or a new one.
    async fn declined(
        &self,
        request: &ChargeRequest,
        reason: String,
    ) -> Result<Payment, TaskError> {
        let stored = self
            .ports
            .payments
            .for_order(request.order_id)
            .await
            .map_err(DomainError::from)?;
        let base = stored.unwrap_or_else(|| request.pending_payment(Utc::now()));
        Ok(Payment {
            status: PaymentStatus::Failed,
            attempts: base.attempts + 1,
            failure_reason: Some(reason),
            amount: request.amount,
            method: request.method,
            ..base
        })
    }

    /// Refunds the order's payment if the gateway took one; a no-op for COD, for nothing
    /// captured and for a refunded payment.
    pub(super) async fn refund_payment(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let refunded = refund_order_payment(&self.ports, order_id).await?;
        Ok(json!({ "orderId": order_id, "refunded": refunded }))
    }
}

//! The simulated payment gateway of local mode and tests (SPEC §5 step 5), deterministic by
//! the customer's payment token:
//!
//! - `tok_ok`, or no token: succeeds;
//! - `tok_decline`: declined, every time;
//! - `tok_flaky`: unavailable on the first two charge attempts for an order, then succeeds;
//! - `tok_error`: an answer the gateway should never give (a task failing unexpectedly);
//! - any other token: declined (an unknown card).
//!
//! Payments live in memory, one per order: a charge of an order that already succeeded
//! answers that payment (idempotent by order), and a refund of a refunded payment answers it
//! as it is.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;
use milkrun_domain::money::Money;
use milkrun_domain::payment::{
    ChargeRequest, GatewayError, Payment, PaymentGateway, PaymentStatus,
};
use uuid::Uuid;

pub const TOKEN_OK: &str = "tok_ok";
pub const TOKEN_DECLINE: &str = "tok_decline";
pub const TOKEN_FLAKY: &str = "tok_flaky";
pub const TOKEN_ERROR: &str = "tok_error";
/// Transient failures `tok_flaky` answers for an order before it succeeds.
pub const FLAKY_FAILURES: u32 = 2;

#[derive(Debug, Default)]
pub struct SimulatedGateway {
    /// One payment per order id.
    payments: Mutex<HashMap<Uuid, Payment>>,
}

impl SimulatedGateway {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every charge attempt the gateway saw for `order_id` (0 if none).
    pub fn attempts(&self, order_id: Uuid) -> u32 {
        self.lock().get(&order_id).map_or(0, |p| p.attempts)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Payment>> {
        // A panic while holding the lock leaves the map whole: every change is one insert.
        self.payments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<Payment, GatewayError> {
        let now = Utc::now();
        let mut payments = self.lock();
        let payment = payments
            .entry(request.order_id)
            .or_insert_with(|| request.pending_payment(now));
        if matches!(
            payment.status,
            PaymentStatus::Succeeded | PaymentStatus::Refunded
        ) {
            return Ok(payment.clone());
        }
        payment.attempts += 1;
        payment.updated_at = now;
        // Each attempt charges what it is asked: a retry may pay another way.
        payment.method = request.method;
        payment.amount = request.amount;
        let token = request.token.as_deref().unwrap_or(TOKEN_OK);
        let outcome = match token {
            TOKEN_OK => Ok(()),
            TOKEN_FLAKY if payment.attempts <= FLAKY_FAILURES => Err(GatewayError::Unavailable(
                format!("simulated timeout (attempt {})", payment.attempts),
            )),
            TOKEN_FLAKY => Ok(()),
            TOKEN_DECLINE => Err(GatewayError::Declined("card declined".into())),
            TOKEN_ERROR => Err(GatewayError::Malfunction(
                "unreadable gateway answer".into(),
            )),
            _ => Err(GatewayError::Declined("unknown payment token".into())),
        };
        match outcome {
            Ok(()) => {
                payment.status = PaymentStatus::Succeeded;
                payment.failure_reason = None;
                payment.gateway_reference = Some(format!("sim_{}", payment.payment_id.simple()));
                Ok(payment.clone())
            }
            Err(error) => {
                if let GatewayError::Declined(reason) = &error {
                    payment.status = PaymentStatus::Failed;
                    payment.failure_reason = Some(reason.clone());
                }
                Err(error)
            }
        }
    }

    /// Refunds by the payment record: a payment this process never saw (another Lambda
    /// instance charged it) is refunded as well, the way a real gateway knows every charge.
    async fn refund(
        &self,
        payment: &Payment,
        amount: Money,
        reason: &str,
    ) -> Result<Payment, GatewayError> {
        let mut payments = self.lock();
        let known = payments
            .entry(payment.order_id)
            .or_insert_with(|| payment.clone());
        if known.payment_id != payment.payment_id {
            return Err(GatewayError::NotFound);
        }
        if known.refunds.is_empty() {
            *known = known.clone().refunded(amount, reason, Utc::now());
        }
        Ok(known.clone())
    }

    async fn payment_for(&self, order_id: Uuid) -> Result<Option<Payment>, GatewayError> {
        Ok(self.lock().get(&order_id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use milkrun_domain::money::Money;
    use milkrun_domain::values::PaymentMethod;

    use super::*;

    fn request(token: Option<&str>) -> ChargeRequest {
        ChargeRequest {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            amount: Money::inr(12_000),
            method: PaymentMethod::Card,
            token: token.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn ok_and_no_token_succeed_once_per_order() {
        let gateway = SimulatedGateway::new();
        for token in [Some(TOKEN_OK), None] {
            let request = request(token);
            let first = gateway.charge(&request).await.unwrap();
            assert_eq!(first.status, PaymentStatus::Succeeded);
            let again = gateway.charge(&request).await.unwrap();
            assert_eq!(again, first, "a repeated charge answers the first");
            assert_eq!(gateway.attempts(request.order_id), 1);
        }
    }

    #[tokio::test]
    async fn decline_is_declined_every_time() {
        let gateway = SimulatedGateway::new();
        let request = request(Some(TOKEN_DECLINE));
        for _ in 0..2 {
            assert!(matches!(
                gateway.charge(&request).await,
                Err(GatewayError::Declined(_))
            ));
        }
        let payment = gateway
            .payment_for(request.order_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(payment.status, PaymentStatus::Failed);
    }

    #[tokio::test]
    async fn flaky_fails_twice_then_succeeds_per_order() {
        let gateway = SimulatedGateway::new();
        let request = request(Some(TOKEN_FLAKY));
        for _ in 0..FLAKY_FAILURES {
            assert!(matches!(
                gateway.charge(&request).await,
                Err(GatewayError::Unavailable(_))
            ));
        }
        let payment = gateway.charge(&request).await.unwrap();
        assert_eq!(
            (payment.status, payment.attempts),
            (PaymentStatus::Succeeded, 3)
        );
        let other = self::request(Some(TOKEN_FLAKY));
        assert!(gateway.charge(&other).await.is_err(), "counted per order");
    }

    #[tokio::test]
    async fn a_refund_is_made_once() {
        let gateway = SimulatedGateway::new();
        let payment = gateway.charge(&request(None)).await.unwrap();
        let refunded = gateway.refund(&payment, payment.amount, "ORDER_CANCELLED");
        let refunded = refunded.await.unwrap();
        assert_eq!(refunded.status, PaymentStatus::Refunded);
        assert_eq!(refunded.refunded_amount, payment.amount);
        let again = gateway.refund(&payment, payment.amount, "ORDER_CANCELLED");
        assert_eq!(again.await.unwrap(), refunded);
        let stranger = Payment {
            payment_id: Uuid::now_v7(),
            ..payment.clone()
        };
        let refused = gateway.refund(&stranger, payment.amount, "ORDER_CANCELLED");
        assert_eq!(refused.await, Err(GatewayError::NotFound));
    }

    #[tokio::test]
    async fn a_part_refunded_leaves_the_payment_succeeded_with_the_part_recorded() {
        let gateway = SimulatedGateway::new();
        let payment = gateway.charge(&request(None)).await.unwrap();
        let part = Money::inr(4_000);
        let refunded = gateway.refund(&payment, part, "UNDELIVERED_LINES");
        let refunded = refunded.await.unwrap();
        assert_eq!(refunded.status, PaymentStatus::Succeeded);
        assert_eq!(refunded.refunded_amount, part);
        assert_eq!(refunded.refunds.len(), 1);
        assert_eq!(
            (
                refunded.refunds[0].amount,
                refunded.refunds[0].reason.as_str()
            ),
            (part, "UNDELIVERED_LINES")
        );
        let again = gateway.refund(&payment, payment.amount, "ORDER_REFUNDED");
        assert_eq!(again.await.unwrap(), refunded, "refunded once");
    }
}

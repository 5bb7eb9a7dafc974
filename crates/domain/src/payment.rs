//! Payments (SPEC §3) and the payment gateway port checkout charges through (SPEC §5 step 5).

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::money::Money;
use crate::values::{InvalidValue, PaymentMethod, closed_set};

closed_set!(
    /// Where a payment is.
    PaymentStatus { Pending => "PENDING", Succeeded => "SUCCEEDED", Failed => "FAILED", Refunded => "REFUNDED" }
    "must be one of PENDING, SUCCEEDED, FAILED, REFUNDED"
);

/// One order's payment, as the gateway answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub amount: Money,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    /// Charge attempts the gateway saw for the order, failed ones included.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// 0 until a scoring model exists; the fraud rules decide on their own.
    #[serde(default)]
    pub fraud_score: u32,
    /// What went back to the customer so far, the sum of `refunds` (at most `amount`). A
    /// payment is REFUNDED only when all of `amount` went back; a part given back (the
    /// undelivered lines of a cancelled order) leaves it SUCCEEDED with this above zero.
    #[serde(default = "no_money")]
    pub refunded_amount: Money,
    /// Each refund made of it, oldest first.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The stored version, for compare-and-swap saves (0 until first saved).
    #[serde(default)]
    #[schema(ignore)]
    pub version: u64,
}

/// One refund of a payment: how much went back, when, and why (e.g. `ORDER_CANCELLED`,
/// `UNDELIVERED_LINES`, `ORDER_REFUNDED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub amount: Money,
    pub at: DateTime<Utc>,
    pub reason: String,
}

fn no_money() -> Money {
    Money::inr(0)
}

impl Payment {
    /// The id of `order_id`'s payment: an order has one, whatever its method and however
    /// many attempts, so its id is derived from the order, and the payment's own
    /// put-if-absent refuses a second (payments before it were random ids, each with a claim
    /// naming it; `PaymentReads::for_order` still finds those).
    pub fn id_for(order_id: Uuid) -> Uuid {
        Uuid::new_v5(&order_id, b"PAYMENT")
    }

    /// This SUCCEEDED payment with `amount` (at most what is left of it) given back for
    /// `reason` at `at`: REFUNDED when nothing is left, else still SUCCEEDED. A payment in
    /// any other status, or nothing to give back, is answered as it is.
    pub fn refunded(mut self, amount: Money, reason: &str, at: DateTime<Utc>) -> Self {
        let left = self
            .amount
            .amount
            .saturating_sub(self.refunded_amount.amount);
        let amount = amount.amount.min(left);
        if self.status != PaymentStatus::Succeeded || amount == 0 {
            return self;
        }
        self.refunded_amount.amount += amount;
        self.refunds.push(Refund {
            amount: Money {
                amount,
                ..self.amount
            },
            at,
            reason: reason.to_owned(),
        });
        if self.refunded_amount.amount == self.amount.amount {
            self.status = PaymentStatus::Refunded;
        }
        self.updated_at = at;
        self
    }

    /// The latest refund's amount, if any was made.
    pub fn last_refund(&self) -> Option<Money> {
        self.refunds.last().map(|refund| refund.amount)
    }
}

/// What a charge asks of the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeRequest {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub amount: Money,
    pub method: PaymentMethod,
    /// The customer's payment token; `None` is the gateway's default.
    pub token: Option<String>,
}

impl ChargeRequest {
    /// The order's payment record before any attempt: PENDING, nothing charged, under the
    /// order's payment id.
    pub fn pending_payment(&self, now: DateTime<Utc>) -> Payment {
        Payment {
            payment_id: Payment::id_for(self.order_id),
            order_id: self.order_id,
            user_id: self.user_id,
            amount: self.amount,
            method: self.method,
            status: PaymentStatus::Pending,
            attempts: 0,
            gateway_reference: None,
            failure_reason: None,
            fraud_score: 0,
            refunded_amount: Money::inr(0),
            refunds: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }
}

/// Why the gateway did not take the money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The payment was refused for good (card declined): retrying will not help.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The gateway could not answer now; the same charge may succeed later.
    #[error("payment gateway unavailable: {0}")]
    Unavailable(String),
    /// No such payment (a refund of a payment the gateway never made).
    #[error("no such payment")]
    NotFound,
    /// The gateway answered something this code does not understand: nobody knows whether
    /// money moved, so checkout compensates (refund what is recorded, release the stock).
    #[error("payment gateway malfunction: {0}")]
    Malfunction(String),
}

/// The payment gateway. Charges are idempotent by order: charging an order that was
/// charged answers that payment and takes no money twice.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    async fn charge(&self, request: &ChargeRequest) -> Result<Payment, GatewayError>;
    /// Gives `amount` of a succeeded payment back (all of it: REFUNDED; a part: still
    /// SUCCEEDED, the part in `refundedAmount` and `refunds`), once: a payment that was
    /// refunded already, in whole or in part, is answered as it is.
    async fn refund(
        &self,
        payment: &Payment,
        amount: Money,
        reason: &str,
    ) -> Result<Payment, GatewayError>;
    /// The payment of `order_id`, if the gateway made one.
    async fn payment_for(&self, order_id: Uuid) -> Result<Option<Payment>, GatewayError>;
}

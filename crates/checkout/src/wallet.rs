//! WALLET payments through the payment gateway port: a charge is one conditional debit of
//! the customer's wallet with its ledger entry (SPEC §6), a refund credits back what was
//! debited, once. Every other method goes on to the card gateway. Checkout, a retry through
//! POST /payments and every refund path reach the wallet this one way.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use milkrun_domain::DomainError;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::money::Money;
use milkrun_domain::payment::{
    ChargeRequest, GatewayError, Payment, PaymentGateway, PaymentStatus,
};
use milkrun_domain::ports::WalletStore;
use milkrun_domain::values::PaymentMethod;
use milkrun_domain::wallet::{Cause, LedgerEntry, WalletRefusal, entry_effects};
use uuid::Uuid;

/// The decline reason of a wallet that does not cover the order; the customer's message
/// and the order's timeline say how much to top up after it.
pub const INSUFFICIENT_BALANCE: &str = "INSUFFICIENT_BALANCE";

pub struct WalletPayments {
    wallets: Arc<dyn WalletStore>,
    cards: Arc<dyn PaymentGateway>,
}

impl WalletPayments {
    pub fn new(wallets: Arc<dyn WalletStore>, cards: Arc<dyn PaymentGateway>) -> Self {
        Self { wallets, cards }
    }
}

fn store_trouble(error: milkrun_domain::StoreError) -> GatewayError {
    GatewayError::Unavailable(format!("wallet store: {error}"))
}

fn actor(order_id: Uuid) -> AuditContext {
    AuditContext::system(&order_id.to_string(), "checkout")
}

#[async_trait]
impl PaymentGateway for WalletPayments {
    async fn charge(&self, request: &ChargeRequest) -> Result<Payment, GatewayError> {
        if request.method != PaymentMethod::Wallet {
            return self.cards.charge(request).await;
        }
        let (user_id, order_id) = (request.user_id, request.order_id);
        let refunded = self.wallets.entry(user_id, Cause::Refund { order_id });
        if refunded.await.map_err(store_trouble)?.is_some() {
            // Paid once and given back: this order is not paid from the wallet again.
            return Err(GatewayError::Declined(
                "the order was refunded already".into(),
            ));
        }
        let effects = |entry: &_| entry_effects(user_id, entry, &actor(order_id));
        let reason = format!("Order {order_id}");
        let cause = Cause::Debit { order_id };
        let applied = self
            .wallets
            .apply(user_id, cause, request.amount, &reason, &effects);
        match applied.await.map_err(store_trouble)? {
            Ok(applied) => {
                // Under the order's payment id, as a card payment: one per order.
                let mut payment = request.pending_payment(applied.entry.at);
                payment.status = PaymentStatus::Succeeded;
                payment.attempts = 1;
                payment.gateway_reference = Some(format!("wallet:{}", applied.entry.entry_id));
                Ok(payment)
            }
            Err(refusal @ WalletRefusal::InsufficientBalance { .. }) => Err(
                GatewayError::Declined(format!("{INSUFFICIENT_BALANCE}: {refusal}")),
            ),
            Err(refusal @ WalletRefusal::TooLarge) => {
                Err(GatewayError::Malfunction(refusal.to_string()))
            }
        }
    }

    async fn refund(
        &self,
        payment: &Payment,
        amount: Money,
        reason: &str,
    ) -> Result<Payment, GatewayError> {
        if payment.method != PaymentMethod::Wallet {
            return self.cards.refund(payment, amount, reason).await;
        }
        if !payment.refunds.is_empty() {
            return Ok(payment.clone());
        }
        // What the payment gives back (capped at what is left of it) is what is credited.
        let answered = payment.clone().refunded(amount, reason, Utc::now());
        let Some(credit) = answered.last_refund() else {
            return Ok(answered);
        };
        let (user_id, order_id) = (payment.user_id, payment.order_id);
        let effects = |entry: &_| entry_effects(user_id, entry, &actor(order_id));
        let reason = format!("Order {order_id} refunded");
        let cause = Cause::Refund { order_id };
        let applied = self
            .wallets
            .apply(user_id, cause, credit, &reason, &effects);
        match applied.await.map_err(store_trouble)? {
            Ok(_) => Ok(answered),
            Err(refusal) => Err(GatewayError::Malfunction(refusal.to_string())),
        }
    }

    /// The card gateway's record; a wallet payment is known from the payments table.
    async fn payment_for(&self, order_id: Uuid) -> Result<Option<Payment>, GatewayError> {
        self.cards.payment_for(order_id).await
    }
}

/// Credits a top-up whose charge succeeded, once however often it is told: the answer to
/// POST /wallet/topups and the gateway's webhook both come here, whichever is first.
pub async fn credit_topup(
    wallets: &dyn WalletStore,
    payment: &Payment,
    actor: &AuditContext,
) -> Result<LedgerEntry, DomainError> {
    let user_id = payment.user_id;
    let effects = |entry: &LedgerEntry| entry_effects(user_id, entry, actor);
    let cause = Cause::Topup {
        payment_id: payment.payment_id,
    };
    let applied = wallets.apply(user_id, cause, payment.amount, "Top-up", &effects);
    match applied.await.map_err(DomainError::from)? {
        Ok(applied) => Ok(applied.entry),
        Err(refusal) => Err(refusal.into()),
    }
}

//! The payment service's use cases, free of HTTP.
//!
//! - Paying (again) never charges here: a PAYMENT_FAILED order gets the method and token the
//!   customer sent and its checkout starts again ([`CheckoutRun::PaymentRetry`]), whose
//!   ReserveStock takes the stock back and whose ProcessPayment is the one step that takes
//!   money. A PAYMENT_PENDING order is being charged already: nothing changes, nothing starts.
//!   Requests racing for one PAYMENT_FAILED order (with different keys, or none) start one
//!   retry: the compare-and-swap that records its start wins it, and for
//!   [`milkrun_domain::order::RETRY_LEASE`] the others find it under way.
//! - A gateway webhook records what the gateway says ([`record_payment`]: an answer the
//!   record holds already writes nothing, so a duplicate delivery records once) and, for a
//!   succeeded payment of a PAYMENT_PENDING order that has none yet, puts the payment's id on
//!   the order (a compare-and-swap), so ProcessPayment skips charging. It never moves the
//!   order: the checkout is the only confirmer (ConfirmOrder checks, ScheduleDelivery
//!   writes the move), so a webhook racing those steps can neither charge nor confirm twice.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use milkrun_checkout::records::{attach_payment, change_order, record_payment};
use milkrun_checkout::wallet::credit_topup;
use milkrun_checkout::{CheckoutPorts, OrderActions, refund_order_payment};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::payment::{Payment, PaymentStatus};
use milkrun_domain::ports::{CheckoutRun, IdempotencyStore, OrderStore, PaymentStore, WalletStore};
use milkrun_domain::values::{PaymentMethod, Role};
use milkrun_domain::{DomainError, ErrorCode};
use milkrun_platform::{Adapters, WebhookSecret};
use uuid::Uuid;

use crate::signature;

/// How far a webhook's timestamp may be from the server's clock, either way: an older
/// delivery is refused as a replay (a replay inside the window records nothing new).
pub const WEBHOOK_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// A checked `POST /payments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayOrder {
    pub order_id: Uuid,
    pub method: PaymentMethod,
    /// The gateway token to charge with; `None` is the gateway's default.
    pub token: Option<String>,
}

/// What `POST /payments` did: the order as it is now, its payment (if it has one), and the
/// retry started, if any.
#[derive(Debug, Clone)]
pub struct PaymentAccepted {
    pub order: Order,
    pub payment_id: Option<Uuid>,
    pub retry: Option<u32>,
}

/// A checked, signed webhook: what the gateway says about an order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayNotice {
    /// The payment's id, when the gateway knows ours; it must be the order's payment.
    pub payment_id: Option<Uuid>,
    pub order_id: Uuid,
    /// SUCCEEDED, FAILED or REFUNDED.
    pub status: PaymentStatus,
    pub gateway_reference: Option<String>,
    /// When the gateway sent it.
    pub sent_at: DateTime<Utc>,
}

/// The reason kept on a payment the gateway reports FAILED without one of ours.
const REPORTED_FAILED: &str = "declined (reported by the payment gateway)";
/// The reason of a refund the gateway reported by webhook.
const REPORTED_REFUNDED: &str = "REFUNDED_AT_GATEWAY";

#[derive(Clone)]
pub struct PaymentService {
    orders: Arc<dyn OrderStore>,
    payments: Arc<dyn PaymentStore>,
    idempotency: Arc<dyn IdempotencyStore>,
    actions: OrderActions,
    webhook_secret: Option<WebhookSecret>,
    wallets: Arc<dyn WalletStore>,
}

fn not_payable(status: OrderStatus) -> DomainError {
    DomainError::refused(
        ErrorCode::InvalidTransition,
        format!(
            "Only a PAYMENT_FAILED or PAYMENT_PENDING order can be paid; this one is {status}."
        ),
    )
}

/// How far along its life a payment is: a webhook never moves it back (a late FAILED
/// after the retry succeeded, anything after a refund).
fn rank(status: PaymentStatus) -> u8 {
    match status {
        PaymentStatus::Pending => 0,
        PaymentStatus::Failed => 1,
        PaymentStatus::Succeeded => 2,
        PaymentStatus::Refunded => 3,
    }
}

/// The retry's number: how often the order has become PAYMENT_FAILED. It grows with every
/// declined execution and stays the same while the order waits, so a repeated request
/// names the same execution (which runs once) and the next retry a new one.
pub fn retry_attempt(order: &Order) -> u32 {
    let failures = order
        .status_history
        .iter()
        .filter(|change| change.status == OrderStatus::PaymentFailed)
        .count();
    u32::try_from(failures).unwrap_or(u32::MAX)
}

impl PaymentService {
    pub fn new(
        orders: Arc<dyn OrderStore>,
        payments: Arc<dyn PaymentStore>,
        idempotency: Arc<dyn IdempotencyStore>,
        actions: OrderActions,
        webhook_secret: Option<WebhookSecret>,
        wallets: Arc<dyn WalletStore>,
    ) -> Self {
        Self {
            orders,
            payments,
            idempotency,
            actions,
            webhook_secret,
            wallets,
        }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        let stores = &adapters.stores;
        let ports = CheckoutPorts::from_stores(stores, adapters.gateway.clone());
        Self::new(
            stores.orders.clone(),
            stores.payments.clone(),
            stores.idempotency.clone(),
            OrderActions::new(ports, adapters.checkout.clone()),
            adapters.settings.webhook_secret.clone(),
            stores.wallets.clone(),
        )
    }

    pub fn idempotency(&self) -> &dyn IdempotencyStore {
        self.idempotency.as_ref()
    }

    /// The caller's order (another's is as unknown as a missing one: 404).
    async fn own_order(&self, user_id: Uuid, order_id: Uuid) -> Result<Order, DomainError> {
        self.orders
            .get(order_id)
            .await?
            .filter(|order| order.user_id == user_id)
            .ok_or(DomainError::NotFound("order"))
    }

    /// Pays for the caller's order again (see the module's notes): 409 `INVALID_TRANSITION`
    /// unless it is PAYMENT_FAILED or PAYMENT_PENDING.
    pub async fn pay(
        &self,
        actor: &AuditContext,
        request: PayOrder,
    ) -> Result<PaymentAccepted, DomainError> {
        let user_id = actor.user_id.ok_or(DomainError::Unauthorized)?;
        let order = self.own_order(user_id, request.order_id).await?;
        match order.status {
            OrderStatus::PaymentPending => return self.accepted(order, None).await,
            OrderStatus::PaymentFailed => {}
            status => return Err(not_payable(status)),
        }
        let now = Utc::now();
        // A retry days later must not charge for a morning that has gone by.
        milkrun_domain::checkout::check_delivery_date(order.delivery_date, now).map_err(
            |problem| {
                DomainError::conflict(format!(
                    "The order's deliveryDate {}; place a new order.",
                    problem.0
                ))
            },
        )?;
        // Nor for a product withdrawn, or a vendor that stopped serving, since it was placed.
        self.actions.check_still_sold(&order).await?;
        let order = change_order(self.orders.as_ref(), order.order_id, actor, &|order| {
            match order.status {
                // Another request started the retry meanwhile (with another key, or none):
                // it is being charged, with what that request sent.
                OrderStatus::PaymentFailed if order.retry_under_way(now) => Ok(false),
                OrderStatus::PaymentFailed => {
                    order.payment_method = request.method;
                    order.payment_token = request.token.clone();
                    order.retry_started_at = Some(now);
                    order.updated_at = now;
                    Ok(true)
                }
                OrderStatus::PaymentPending => Ok(false),
                status => Err(not_payable(status)),
            }
        })
        .await?;
        // Only the request whose compare-and-swap took the retry starts it.
        if order.status != OrderStatus::PaymentFailed || order.retry_started_at != Some(now) {
            return self.accepted(order, None).await;
        }
        let attempt = retry_attempt(&order);
        self.actions
            .continue_checkout(&order, CheckoutRun::PaymentRetry { attempt })
            .await?;
        tracing::info!(order_id = %order.order_id, attempt, "payment retry started");
        self.accepted(order, Some(attempt)).await
    }

    async fn accepted(
        &self,
        order: Order,
        retry: Option<u32>,
    ) -> Result<PaymentAccepted, DomainError> {
        let payment_id = match order.payment_id {
            Some(id) => Some(id),
            None => self
                .payments
                .for_order(order.order_id)
                .await?
                .map(|p| p.payment_id),
        };
        Ok(PaymentAccepted {
            order,
            payment_id,
            retry,
        })
    }

    /// One payment, for its owner, managers and admins; anyone else hears it does not
    /// exist.
    pub async fn payment(
        &self,
        viewer: Uuid,
        role: Role,
        payment_id: Uuid,
    ) -> Result<Payment, DomainError> {
        let payment = self
            .payments
            .get(payment_id)
            .await?
            .ok_or(DomainError::NotFound("payment"))?;
        let allowed = match role {
            Role::Manager | Role::Admin => true,
            Role::Customer => payment.user_id == viewer,
            Role::Vendor => false,
        };
        match allowed {
            true => Ok(payment),
            false => Err(DomainError::NotFound("payment")),
        }
    }

    /// `Unauthorized` unless `header` signs `body` with the webhook secret (and always
    /// without a secret: nothing can be told apart from a forgery then).
    pub fn verify_signature(&self, header: Option<&str>, body: &[u8]) -> Result<(), DomainError> {
        let Some(secret) = &self.webhook_secret else {
            tracing::error!("a webhook arrived but this host has no webhook secret");
            return Err(DomainError::Unauthorized);
        };
        match signature::verify(secret.expose(), header, body) {
            true => Ok(()),
            false => Err(DomainError::Unauthorized),
        }
    }

    /// A webhook about a wallet top-up's charge: recorded like an order's payment, and a
    /// SUCCEEDED one credited (once, whether this or the top-up's own answer comes first).
    /// A charge nobody recorded is a 404, as an unknown order is.
    async fn topup_notice(
        &self,
        actor: &AuditContext,
        notice: &GatewayNotice,
    ) -> Result<Payment, DomainError> {
        let stored = self.payments.for_order(notice.order_id).await?;
        // Matched by the charge: the gateway may name the payment by its own id.
        let stored = stored.ok_or(DomainError::NotFound("order"))?;
        let recorded = match rank(notice.status) > rank(stored.status) {
            true => {
                let reported = Payment {
                    status: notice.status,
                    gateway_reference: notice
                        .gateway_reference
                        .clone()
                        .or(stored.gateway_reference.clone()),
                    ..stored
                };
                record_payment(&self.payments, &reported, actor).await?
            }
            false => stored,
        };
        if recorded.status == PaymentStatus::Succeeded {
            credit_topup(self.wallets.as_ref(), &recorded, actor).await?;
        }
        Ok(recorded)
    }

    /// Records a signed webhook's news as of `now` (see the module's notes). A timestamp
    /// more than [`WEBHOOK_TOLERANCE`] from `now` is `Unauthorized` (a replay); an unknown
    /// order (or top-up charge) 404; a `paymentId` that is not the order's payment 409
    /// `CONFLICT`. Answers the payment record as it is now.
    pub async fn notify(
        &self,
        actor: &AuditContext,
        notice: GatewayNotice,
        now: DateTime<Utc>,
    ) -> Result<Payment, DomainError> {
        if (now - notice.sent_at).abs() > WEBHOOK_TOLERANCE {
            tracing::warn!(sent_at = %notice.sent_at, "webhook refused: timestamp outside the window");
            return Err(DomainError::Unauthorized);
        }
        let Some(order) = self.orders.get(notice.order_id).await? else {
            // No order: a wallet top-up's charge (its id stands where an order's would).
            return self.topup_notice(actor, &notice).await;
        };
        let stored = self.payments.for_order(order.order_id).await?;
        let not_its_payment = || {
            DomainError::conflict(
                "The paymentId is not the payment of this order; nothing was recorded.",
            )
        };
        let answered = match (stored, notice.payment_id) {
            (Some(stored), Some(id)) if stored.payment_id != id => return Err(not_its_payment()),
            (Some(stored), _) if rank(notice.status) <= rank(stored.status) => {
                if notice.status != stored.status {
                    tracing::info!(
                        order_id = %order.order_id, stored = %stored.status, reported = %notice.status,
                        "webhook ignored: the payment is further along already"
                    );
                }
                stored
            }
            (Some(stored), _) => {
                let failure_reason = match notice.status {
                    PaymentStatus::Failed => stored
                        .failure_reason
                        .clone()
                        .or_else(|| Some(REPORTED_FAILED.to_owned())),
                    _ => None,
                };
                let gateway_reference = notice
                    .gateway_reference
                    .clone()
                    .or(stored.gateway_reference.clone());
                let answered = match notice.status {
                    // Refunded at the gateway: it was taken (whatever was recorded), and
                    // what was left of it went back, kept as a refund so that
                    // refundedAmount and refunds say so.
                    PaymentStatus::Refunded => Payment {
                        status: PaymentStatus::Succeeded,
                        failure_reason: None,
                        gateway_reference,
                        ..stored.clone()
                    }
                    .refunded(stored.amount, REPORTED_REFUNDED, now),
                    status => Payment {
                        status,
                        failure_reason,
                        gateway_reference,
                        ..stored
                    },
                };
                record_payment(&self.payments, &answered, actor).await?
            }
            (None, payment_id) => {
                // An order's payment has the id derived from it (we name it to the gateway
                // when charging), so a notice naming another is about no payment of ours.
                let own = Payment::id_for(order.order_id);
                if payment_id.is_some_and(|id| id != own) {
                    return Err(not_its_payment());
                }
                let refunded = notice.status == PaymentStatus::Refunded;
                let taken = Payment {
                    payment_id: own,
                    order_id: order.order_id,
                    user_id: order.user_id,
                    amount: order.total,
                    method: order.payment_method,
                    // A refund reported first: taken, then given back in full.
                    status: match refunded {
                        true => PaymentStatus::Succeeded,
                        false => notice.status,
                    },
                    attempts: 1,
                    gateway_reference: notice.gateway_reference.clone(),
                    failure_reason: (notice.status == PaymentStatus::Failed)
                        .then(|| REPORTED_FAILED.to_owned()),
                    fraud_score: 0,
                    refunded_amount: milkrun_domain::money::Money::inr(0),
                    refunds: Vec::new(),
                    created_at: now,
                    updated_at: now,
                    version: 0,
                };
                let answered = match refunded {
                    true => taken.refunded(order.total, REPORTED_REFUNDED, now),
                    false => taken,
                };
                record_payment(&self.payments, &answered, actor).await?
            }
        };
        if answered.status == PaymentStatus::Succeeded {
            self.mark_paid(&order, &answered, actor).await?;
        }
        Ok(answered)
    }

    /// What a succeeded payment means for its order: one awaiting payment gets its id, so the
    /// checkout's ProcessPayment never charges again; one that no longer goes ahead (the
    /// gateway answered after checkout gave up) gets the money back. Done again by a
    /// repeated delivery, so a crash after recording loses nothing.
    async fn mark_paid(
        &self,
        order: &Order,
        payment: &Payment,
        actor: &AuditContext,
    ) -> Result<(), DomainError> {
        let order_id = order.order_id;
        match order.status {
            OrderStatus::Cancelled => {
                let reason = Some("LATE_PAYMENT_REFUNDED".to_owned());
                self.actions
                    .force(order_id, OrderStatus::Refunded, actor, reason)
                    .await?;
            }
            OrderStatus::Failed | OrderStatus::Refunded => {
                refund_order_payment(self.actions.ports(), order_id)
                    .await
                    .map_err(|error| DomainError::Internal(error.to_string()))?;
            }
            _ => {
                attach_payment(self.orders.as_ref(), order_id, payment, actor).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_never_moves_a_payment_back() {
        use PaymentStatus::*;
        assert!(rank(Succeeded) > rank(Failed), "a retry that succeeds");
        assert!(rank(Refunded) > rank(Succeeded), "a refund");
        assert!(rank(Failed) < rank(Succeeded), "a late failure is ignored");
        assert!(rank(Succeeded) < rank(Refunded), "nothing after a refund");
    }
}

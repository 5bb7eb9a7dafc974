//! What people do to an order after checkout started (SPEC §3, §4): a manager's approve or
//! reject of an ON_HOLD order, a cancel, an admin's forced move, and the moves a delivery's
//! progress makes. Each is a compare-and-swap move along the one transition table with its
//! audit entry and event ([`crate::records`]); cancelling then gives back what the order
//! holds (reserved stock, then money), each part once, so a repeated or interrupted cancel
//! finishes the job.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::delivery::{follow_one_step, order_moves};
use milkrun_domain::order::{Order, OrderStatus, transition};
use milkrun_domain::ports::{CheckoutRun, CheckoutRunner, CheckoutStart};
use milkrun_domain::values::Role;
use milkrun_domain::{DomainError, ErrorCode};

use crate::lifecycle::{
    PAYMENT_REFUNDED, refund_order_payment, schedule_deliveries, settle, settle_cancelled,
};
use crate::records::change_order;
use crate::steps::CheckoutPorts;

/// Who acted, as the status history names them: the user's id.
fn by(actor: &AuditContext) -> String {
    actor
        .user_id
        .map_or_else(|| "system".to_owned(), |id| id.to_string())
}

fn refused(code: ErrorCode, message: String) -> DomainError {
    DomainError::refused(code, message)
}

#[derive(Clone)]
pub struct OrderActions {
    ports: CheckoutPorts,
    runner: Arc<dyn CheckoutRunner>,
}

impl OrderActions {
    pub fn new(ports: CheckoutPorts, runner: Arc<dyn CheckoutRunner>) -> Self {
        Self { ports, runner }
    }

    pub fn ports(&self) -> &CheckoutPorts {
        &self.ports
    }

    /// Moves `order_id` to `to` where the table allows it from where it is now (else 409
    /// `INVALID_TRANSITION`); a move to where it is already changes nothing.
    async fn move_order(
        &self,
        order_id: uuid::Uuid,
        to: OrderStatus,
        actor: &AuditContext,
        reason: Option<String>,
        allowed: &(dyn Fn(&Order) -> Result<(), DomainError> + Send + Sync),
    ) -> Result<Order, DomainError> {
        let now = Utc::now();
        change_order(self.ports.orders.as_ref(), order_id, actor, &|order| {
            if order.status == to {
                return Ok(false);
            }
            allowed(order)?;
            order.move_to(to, by(actor), reason.clone(), now)?;
            Ok(true)
        })
        .await
    }

    /// A manager's approval of an ON_HOLD order: CONFIRMED by them (the recorded approval
    /// ConfirmOrder relies on), then the checkout continues at ConfirmOrder to schedule the
    /// deliveries.
    pub async fn approve(
        &self,
        order_id: uuid::Uuid,
        actor: &AuditContext,
    ) -> Result<Order, DomainError> {
        let order = self
            .move_order(
                order_id,
                OrderStatus::Confirmed,
                actor,
                Some("APPROVED".into()),
                &|order| match order.status {
                    OrderStatus::OnHold => Ok(()),
                    status => Err(refused(
                        ErrorCode::InvalidTransition,
                        format!("Only an ON_HOLD order can be approved; this one is {status}."),
                    )),
                },
            )
            .await?;
        self.continue_checkout(&order, CheckoutRun::Approved)
            .await?;
        Ok(order)
    }

    /// Starts (again) the checkout execution of `order`.
    pub async fn continue_checkout(
        &self,
        order: &Order,
        run: CheckoutRun,
    ) -> Result<(), DomainError> {
        let start = CheckoutStart {
            order_id: order.order_id,
            payment_method: order.payment_method,
            run,
        };
        Ok(self.runner.start(&start).await?)
    }

    /// Refuses (409 `CONFLICT`) to go on with `order` when it can no longer be sold as
    /// placed ([`milkrun_domain::checkout::no_longer_sold`]): a payment retry asks before
    /// it starts, so a withdrawn product or a vendor that stopped serving is never charged.
    pub async fn check_still_sold(&self, order: &Order) -> Result<(), DomainError> {
        let mut product_ids: Vec<uuid::Uuid> = order.items.iter().map(|i| i.product_id).collect();
        product_ids.sort_unstable();
        product_ids.dedup();
        let catalog = self.ports.products.get_many(&product_ids).await?;
        let vendors = match order.vendor_ids() {
            ids if ids.is_empty() => Vec::new(),
            ids => self.ports.vendors.get_many(&ids).await?,
        };
        match milkrun_domain::checkout::no_longer_sold(order, &catalog, &vendors) {
            None => Ok(()),
            Some(why) => Err(DomainError::conflict(format!(
                "The order cannot be paid again: {why}. Place a new order."
            ))),
        }
    }

    /// A manager's rejection of an ON_HOLD order: cancelled, its stock released, its payment
    /// refunded.
    pub async fn reject(
        &self,
        order_id: uuid::Uuid,
        actor: &AuditContext,
    ) -> Result<Order, DomainError> {
        let held = |order: &Order| match order.status {
            OrderStatus::OnHold => Ok(()),
            status => Err(refused(
                ErrorCode::InvalidTransition,
                format!("Only an ON_HOLD order can be rejected; this one is {status}."),
            )),
        };
        self.cancel_as(order_id, actor, Some("REJECTED".into()), &held)
            .await
    }

    /// A cancel by the owner (until the order leaves with a driver) or an admin (wherever
    /// the table allows it).
    pub async fn cancel(
        &self,
        order_id: uuid::Uuid,
        actor: &AuditContext,
    ) -> Result<Order, DomainError> {
        let admin = actor.role == Some(Role::Admin);
        let allowed = move |order: &Order| {
            if !admin && !order.status.is_cancellable_by_owner() {
                return Err(refused(
                    ErrorCode::InvalidTransition,
                    format!("A {} order can no longer be cancelled.", order.status),
                ));
            }
            Ok(())
        };
        self.cancel_as(
            order_id,
            actor,
            Some("CANCELLED_BY_REQUEST".into()),
            &allowed,
        )
        .await
    }

    /// CANCELLED (if `allowed`), then the reserved stock back and the money back; a cancel
    /// interrupted after the move finishes the rest when repeated.
    async fn cancel_as(
        &self,
        order_id: uuid::Uuid,
        actor: &AuditContext,
        reason: Option<String>,
        allowed: &(dyn Fn(&Order) -> Result<(), DomainError> + Send + Sync),
    ) -> Result<Order, DomainError> {
        let order = self
            .move_order(order_id, OrderStatus::Cancelled, actor, reason, allowed)
            .await?;
        self.settle(order, actor).await
    }

    /// An admin's forced move (the route admits admins only), along the table and with
    /// what the same move brings when the workflow makes it: to CANCELLED it is a cancel
    /// (stock and money back); to REFUNDED the money goes back first (of a cancelled order,
    /// what was not delivered, as the cancel gives back); ON_HOLD → CONFIRMED
    /// is an approval (the checkout continues); to PREPARING the deliveries are scheduled
    /// with it; to DELIVERED the reserved stock is committed; to FAILED or PAYMENT_FAILED it
    /// is released. The moves only the checkout makes, once it has reserved stock or taken
    /// the payment, are refused (409).
    pub async fn force(
        &self,
        order_id: uuid::Uuid,
        to: OrderStatus,
        actor: &AuditContext,
        reason: Option<String>,
    ) -> Result<Order, DomainError> {
        let current = self.load(order_id).await?;
        if current.status == to {
            // A repeat finishes what an interrupted one left undone.
            return self.settle(current, actor).await;
        }
        transition(current.status, to)?;
        checkout_only(current.status, to)?;
        let any = |_: &Order| Ok(());
        match (current.status, to) {
            (_, OrderStatus::Cancelled) => self.cancel_as(order_id, actor, reason, &any).await,
            // A cancel's money back is what was not delivered, however late it is given
            // (its refund failed, or the payment came after checkout gave up): the cancel's
            // own settlement moves the order to REFUNDED, with this move's reason, when
            // money goes back; the move below then finds it there.
            (OrderStatus::Cancelled, OrderStatus::Refunded) => {
                let why = reason.as_deref().unwrap_or(PAYMENT_REFUNDED);
                settle_cancelled(&self.ports, current, &by(actor), actor, why).await?;
                self.move_order(order_id, to, actor, reason, &any).await
            }
            (_, OrderStatus::Refunded) => {
                refund_order_payment(&self.ports, order_id)
                    .await
                    .map_err(|error| DomainError::Internal(error.to_string()))?;
                self.move_order(order_id, to, actor, reason, &any).await
            }
            (OrderStatus::OnHold, OrderStatus::Confirmed) => self.approve(order_id, actor).await,
            (_, OrderStatus::Preparing) => {
                schedule_deliveries(&self.ports, order_id, &by(actor), actor, None).await
            }
            _ => {
                let order = self.move_order(order_id, to, actor, reason, &any).await?;
                self.settle(order, actor).await
            }
        }
    }

    /// [`settle`] as this actor.
    async fn settle(&self, order: Order, actor: &AuditContext) -> Result<Order, DomainError> {
        settle(&self.ports, order, &by(actor), actor).await
    }

    async fn load(&self, order_id: uuid::Uuid) -> Result<Order, DomainError> {
        self.ports
            .orders
            .get(order_id)
            .await?
            .ok_or(DomainError::NotFound("order"))
    }

    /// Follows the order's deliveries (SPEC §4 PATCH /deliveries): OUT_FOR_DELIVERY when one
    /// is IN_TRANSIT, DELIVERED when all are (committing the reserved stock), CANCELLED
    /// and refunded when one FAILED.
    pub async fn follow_deliveries(
        &self,
        order_id: uuid::Uuid,
        actor: &AuditContext,
    ) -> Result<Order, DomainError> {
        // The order names its deliveries. It is read again after them, so that a follower
        // that has nothing left to move writes nothing, and settles the order as it is now.
        let named = self.load(order_id).await?;
        let deliveries = self.ports.deliveries.for_order(&named).await?;
        let statuses: Vec<_> = deliveries.iter().map(|d| d.status).collect();
        let mut order = self.load(order_id).await?;
        // Each move is worked out inside the order's conditional write, from the order as
        // that write reads it (another vendor's follower may have moved it since), one step
        // a write until the order as written has no move left.
        let who = by(actor);
        while !order_moves(order.status, &statuses).is_empty() {
            let step = |o: &mut Order| follow_one_step(o, &statuses, &who, Utc::now());
            order = change_order(self.ports.orders.as_ref(), order_id, actor, &step).await?;
        }
        // Settling is idempotent, so it is done whatever moved: a crash (or a store error)
        // after the move is finished by the next update, a repeated one included. It is
        // also what a cancel brings: the stock and the money of what was not delivered.
        self.settle(order, actor).await
    }
}

/// The moves only the checkout's own steps make: ReserveStock's (it holds the stock
/// first), and ProcessPayment's and FraudCheck's (the charge and the fraud rules come
/// first). Forced, they would skip what makes them safe, and an execution still running
/// would meet an order it does not expect.
fn checkout_only(from: OrderStatus, to: OrderStatus) -> Result<(), DomainError> {
    use OrderStatus::*;
    let why = match (from, to) {
        (Pending | PaymentFailed, PaymentPending) => {
            "Only the checkout moves an order to PAYMENT_PENDING, once it holds the stock; a PAYMENT_FAILED order is paid again with POST /payments."
        }
        (PaymentPending, Confirmed | OnHold) => {
            "Only the checkout moves a PAYMENT_PENDING order on, once the payment and the fraud check are done."
        }
        _ => return Ok(()),
    };
    Err(refused(ErrorCode::InvalidTransition, why.to_owned()))
}

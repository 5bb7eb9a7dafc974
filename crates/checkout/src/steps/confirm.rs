//! Step 7, ConfirmOrder: that a PAYMENT_PENDING order was paid (its move to CONFIRMED is
//! written by ScheduleDelivery, with its move to PREPARING), and the checks a started-again
//! run makes of an order already CONFIRMED.

use milkrun_domain::ErrorCode;
use milkrun_domain::error::TaskError;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::payment::PaymentStatus;
use milkrun_domain::values::PaymentMethod;
use serde_json::Value;
use uuid::Uuid;

use super::{CheckoutTasks, Step, answer, out_of_place, refused};

impl CheckoutTasks {
    /// A PAYMENT_PENDING order must have been paid (or be cash on delivery) to go ahead. Its
    /// move to CONFIRMED is not written here: ScheduleDelivery writes it with the move to
    /// PREPARING, both in the order's history, with ORDER_CONFIRMED beside the deliveries'
    /// events, so a checkout writes the order, its status listing and an audit entry once
    /// fewer (as ProcessPayment leaves its payment's id to the next move). An ON_HOLD
    /// order is confirmed only by a manager's approval (POST /orders/{id}/approve records it
    /// and resumes here), never by this step. A run entering here at an order already
    /// CONFIRMED (approved, or started again) checks that the payment and the stock it was
    /// confirmed on are still there before ScheduleDelivery prepares it.
    pub(super) async fn confirm_order(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        match order.status {
            OrderStatus::PaymentPending => {
                self.check_paid(&order).await?;
            }
            OrderStatus::Confirmed => {
                self.check_paid(&order).await?;
                self.hold_stock(&order).await?;
            }
            OrderStatus::Preparing | OrderStatus::OutForDelivery | OrderStatus::Delivered => {}
            status => return Err(out_of_place(Step::ConfirmOrder, status)),
        }
        Ok(answer(&order))
    }

    /// The order's payment went through (or it is cash on delivery): its id, which the
    /// order is confirmed with (ProcessPayment leaves it to the move ScheduleDelivery
    /// writes, which asks here again). A checkout started
    /// again after a compensation that died before marking the order (RefundPayment done,
    /// MarkFailed not) finds the payment REFUNDED here and fails into the compensation
    /// again, instead of going ahead unpaid.
    pub(super) async fn check_paid(&self, order: &Order) -> Result<Option<Uuid>, TaskError> {
        if order.payment_method == PaymentMethod::Cod {
            return Ok(None);
        }
        let payment = self.order_payment(order).await?;
        match payment.map(|p| (p.status, p.payment_id)) {
            Some((PaymentStatus::Succeeded, payment_id)) => Ok(Some(payment_id)),
            None => Err(refused(
                ErrorCode::Conflict,
                "The order cannot be confirmed before it is paid.".into(),
            )
            .into()),
            Some((status, _)) => Err(refused(
                ErrorCode::Conflict,
                format!("The order's payment is {status}; it cannot go ahead."),
            )
            .into()),
        }
    }
}

//! Step 7, ConfirmOrder: PAYMENT_PENDING → CONFIRMED once paid, and the checks a
//! started-again run makes of an order already CONFIRMED.

use chrono::Utc;
use milkrun_domain::ErrorCode;
use milkrun_domain::error::TaskError;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::payment::PaymentStatus;
use milkrun_domain::values::PaymentMethod;
use serde_json::Value;
use uuid::Uuid;

use super::{BY, CheckoutTasks, Step, answer, out_of_place, refused};
use crate::records::attach_paid;

impl CheckoutTasks {
    /// PAYMENT_PENDING → CONFIRMED; a paid method must have been charged first. An ON_HOLD
    /// order is confirmed only by a manager's approval (POST /orders/{id}/approve records it
    /// and resumes here), never by this step. A run entering here at an order already
    /// CONFIRMED (approved, or started again) checks that the payment and the stock it was
    /// confirmed on are still there before ScheduleDelivery prepares it.
    pub(super) async fn confirm_order(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        match order.status {
            OrderStatus::PaymentPending => {}
            OrderStatus::Confirmed => {
                self.check_paid(&order).await?;
                self.hold_stock(&order).await?;
                return Ok(answer(&order));
            }
            OrderStatus::Preparing | OrderStatus::OutForDelivery | OrderStatus::Delivered => {
                return Ok(answer(&order));
            }
            status => return Err(out_of_place(Step::ConfirmOrder, status)),
        }
        let paid = self.check_paid(&order).await?;
        let now = Utc::now();
        let order = self
            .change(order_id, &|order| {
                if order.status != OrderStatus::PaymentPending {
                    return Ok(false);
                }
                if let Some(payment_id) = paid {
                    attach_paid(order, payment_id);
                }
                order.move_to(OrderStatus::Confirmed, BY, None, now)?;
                Ok(true)
            })
            .await?;
        Ok(answer(&order))
    }

    /// The order's payment went through (or it is cash on delivery): its id, which the
    /// order is confirmed with (ProcessPayment leaves it to this move). A checkout started
    /// again after a compensation that died before marking the order (RefundPayment done,
    /// MarkFailed not) finds the payment REFUNDED here and fails into the compensation
    /// again, instead of going ahead unpaid.
    async fn check_paid(&self, order: &Order) -> Result<Option<Uuid>, TaskError> {
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

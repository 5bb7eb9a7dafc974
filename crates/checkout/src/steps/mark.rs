//! The ends of a failed checkout: MarkPaymentFailed (a declined payment, waiting for
//! another), MarkFailed (FAILED or CANCELLED with the caught error as the reason, then
//! settled like any cancel: [`crate::lifecycle::settle`]) and MarkRefundFailed (the same
//! end when the refund itself kept failing: the stock given back, the money left for a
//! person, admins alerted).

use chrono::Utc;
use milkrun_domain::ErrorCode;
use milkrun_domain::error::TaskError;
use milkrun_domain::order::{Order, OrderStatus};
use serde_json::Value;
use uuid::Uuid;

use super::{BY, CaughtError, CheckoutTasks, Moved, answer};
use crate::lifecycle::{give_back_stock, settle};
use crate::records::{REFUND_FAILED, checkout_actor};

/// The reason MarkFailed records when the execution gave no error.
const UNKNOWN_REASON: &str = "CHECKOUT_FAILED";

impl CheckoutTasks {
    /// PAYMENT_PENDING → PAYMENT_FAILED (declined; the stock was released before).
    pub(super) async fn mark_payment_failed(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let now = Utc::now();
        let moved = Moved::default();
        let order = self
            .change(order_id, &|order| match order.status {
                OrderStatus::PaymentFailed => moved.to(None),
                _ => {
                    let reason = ErrorCode::PaymentDeclined.as_str().to_owned();
                    order.move_to(OrderStatus::PaymentFailed, BY, Some(reason), now)?;
                    moved.to(Some(OrderStatus::PaymentFailed))
                }
            })
            .await?;
        moved.count_outcome();
        Ok(answer(&order))
    }

    /// FAILED with the caught error as the reason where the table allows it (from
    /// PENDING), else CANCELLED (later statuses); an order already FAILED, CANCELLED or
    /// REFUNDED stays, and one the table lets do neither (DELIVERED) is left as it is. Then
    /// settled as its status asks, like a cancel: a CANCELLED order's deliveries called
    /// off (a step after ScheduleDelivery wrote them, then failed), what it holds given
    /// back (RefundPayment and ReleaseStock did so before, so this is a check) and REFUNDED
    /// when its money went back.
    pub(super) async fn mark_failed(
        &self,
        order_id: Uuid,
        caught: Option<&CaughtError>,
    ) -> Result<Value, TaskError> {
        let reason = caught
            .map(|c| reason_code(&c.error))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| UNKNOWN_REASON.to_owned());
        let order = self.end_failed(order_id, reason).await?;
        let order = settle(&self.ports, order, BY, &checkout_actor(order_id)).await?;
        Ok(answer(&order))
    }
}

impl CheckoutTasks {
    /// RefundPayment's Catch: ended as MarkFailed ends it, with the reason REFUND_FAILED,
    /// whose move alerts admins (ORDER_NEEDS_ATTENTION) in its own transaction; the stock
    /// goes back (and deliveries are called off) now, while the money, which the gateway
    /// would not return, waits for a person: the order stays CANCELLED with its payment
    /// SUCCEEDED until an admin's move to REFUNDED refunds it. Never tries the refund again,
    /// so it cannot fail the way the step before it did.
    pub(super) async fn mark_refund_failed(
        &self,
        order_id: Uuid,
        caught: Option<&CaughtError>,
    ) -> Result<Value, TaskError> {
        if let Some(caught) = caught {
            tracing::error!(%order_id, error = %caught.error, cause = %caught.cause,
                "the refund kept failing; the order is left for a person");
        }
        let order = self.end_failed(order_id, REFUND_FAILED.to_owned()).await?;
        let order = give_back_stock(&self.ports, order, BY, &checkout_actor(order_id)).await?;
        Ok(answer(&order))
    }
}

impl CheckoutTasks {
    /// Moves the order to where a failed checkout ends it ([`failed_status`]) with `reason`,
    /// counting the outcome once; an order that ended already is answered as it is.
    async fn end_failed(&self, order_id: Uuid, reason: String) -> Result<Order, TaskError> {
        let now = Utc::now();
        let moved = Moved::default();
        let order = self
            .change(order_id, &|order| {
                let Some(to) = failed_status(order.status) else {
                    return moved.to(None);
                };
                order.move_to(to, BY, Some(reason.clone()), now)?;
                moved.to(Some(to))
            })
            .await?;
        moved.count_outcome();
        Ok(order)
    }
}

/// Where a checkout that failed ends an order in `status`: FAILED where the table allows it
/// (from PENDING), else CANCELLED (later statuses); `None` for an order that ended already
/// (FAILED, CANCELLED, REFUNDED) or that the table lets do neither (DELIVERED: left as it is).
pub(crate) fn failed_status(status: OrderStatus) -> Option<OrderStatus> {
    match status {
        OrderStatus::Failed | OrderStatus::Cancelled | OrderStatus::Refunded => None,
        status if status.can_become(OrderStatus::Failed) => Some(OrderStatus::Failed),
        status if status.can_become(OrderStatus::Cancelled) => Some(OrderStatus::Cancelled),
        status => {
            tracing::warn!(%status, "a failed checkout leaves the order as it is");
            None
        }
    }
}

/// The caught error's name as the status history's reason: a SPEC error type as its code
/// (`OutOfStock` → `OUT_OF_STOCK`, from [`ErrorCode`]'s one list), any other name (a
/// Step Functions error such as `States.TaskFailed`, `PaymentGatewayUnavailable`) in the
/// same SCREAMING_SNAKE_CASE (`STATES_TASK_FAILED`).
fn reason_code(error_name: &str) -> String {
    match ErrorCode::from_error_type(error_name) {
        Some(code) => code.as_str().to_owned(),
        None => screaming_snake(error_name),
    }
}

/// `PaymentGatewayUnavailable` → `PAYMENT_GATEWAY_UNAVAILABLE`, `States.Timeout` →
/// `STATES_TIMEOUT`: a word at each capital after a lower-case letter or digit, and at
/// each run of other characters.
fn screaming_snake(name: &str) -> String {
    let mut code = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower {
                code.push('_');
            }
            code.push(c.to_ascii_uppercase());
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !code.ends_with('_') {
                code.push('_');
            }
            previous_lower = false;
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caught_error_names_become_reason_codes() {
        assert_eq!(reason_code("OutOfStock"), "OUT_OF_STOCK");
        assert_eq!(reason_code("ProfileIncomplete"), "PROFILE_INCOMPLETE");
        assert_eq!(reason_code("NoVendorAvailable"), "NO_VENDOR_AVAILABLE");
        assert_eq!(reason_code("States.TaskFailed"), "STATES_TASK_FAILED");
        assert_eq!(reason_code("PaymentDeclined"), "PAYMENT_DECLINED");
        assert_eq!(
            reason_code("PaymentGatewayUnavailable"),
            "PAYMENT_GATEWAY_UNAVAILABLE"
        );
        assert_eq!(reason_code("UnknownStep"), "UNKNOWN_STEP");
    }

    #[test]
    fn every_error_code_is_its_own_reason() {
        for code in ErrorCode::ALL {
            assert_eq!(reason_code(code.error_type()), code.as_str());
            // The one list and the old munging agree, so no reason changed with the list.
            assert_eq!(screaming_snake(code.error_type()), code.as_str());
        }
    }
}

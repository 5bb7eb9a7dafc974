//! Step 8, ScheduleDelivery: the order's deliveries, through the lifecycle's
//! [`schedule_deliveries`] (which an admin's forced move to PREPARING uses too).

use milkrun_domain::error::TaskError;
use milkrun_domain::order::OrderStatus;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{BY, CheckoutTasks, Step, out_of_place};
use crate::lifecycle::{Paid, schedule_deliveries};
use crate::records::checkout_actor;

impl CheckoutTasks {
    /// One delivery per vendor of the fulfilled items, their ids derived from the order and
    /// vendor (so a repeat names the same ones) and kept on the order; CONFIRMED →
    /// PREPARING, and a PAYMENT_PENDING order that ConfirmOrder let through (paid, checked
    /// again here) PAYMENT_PENDING → CONFIRMED → PREPARING in the same write.
    pub(super) async fn schedule_delivery(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let actor = checkout_actor(order_id);
        let order = self.load(order_id).await?;
        let paid = match order.status {
            OrderStatus::PaymentPending => Some(Paid(self.check_paid(&order).await?)),
            _ => None,
        };
        let order = schedule_deliveries(&self.ports, order_id, BY, &actor, paid).await?;
        match order.status {
            OrderStatus::Preparing | OrderStatus::OutForDelivery | OrderStatus::Delivered => {
                Ok(json!({ "orderId": order_id, "status": order.status,
                           "deliveryIds": order.delivery_ids }))
            }
            status => Err(out_of_place(Step::ScheduleDelivery, status)),
        }
    }
}

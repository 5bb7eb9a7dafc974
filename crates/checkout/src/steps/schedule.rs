//! Step 8, ScheduleDelivery: the order's deliveries, through the lifecycle's
//! [`schedule_deliveries`] (which an admin's forced move to PREPARING uses too).

use milkrun_domain::error::TaskError;
use milkrun_domain::order::OrderStatus;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{BY, CheckoutTasks, Step, out_of_place};
use crate::lifecycle::schedule_deliveries;
use crate::records::checkout_actor;

impl CheckoutTasks {
    /// One delivery per vendor of the fulfilled items, their ids derived from the order and
    /// vendor (so a repeat names the same ones) and kept on the order; CONFIRMED →
    /// PREPARING.
    pub(super) async fn schedule_delivery(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let actor = checkout_actor(order_id);
        let order = schedule_deliveries(&self.ports, order_id, BY, &actor).await?;
        match order.status {
            OrderStatus::Preparing | OrderStatus::OutForDelivery | OrderStatus::Delivered => {
                Ok(json!({ "orderId": order_id, "status": order.status,
                           "deliveryIds": order.delivery_ids }))
            }
            status => Err(out_of_place(Step::ScheduleDelivery, status)),
        }
    }
}

//! Step 6, FraudCheck: SPEC §5's rules over the customer's history; a flagged order waits
//! ON_HOLD for a manager. The rules' limit is read once at start.

use chrono::Utc;
use milkrun_domain::DomainError;
use milkrun_domain::checkout::{self, FraudInput, FraudRules, PastOrder};
use milkrun_domain::error::TaskError;
use milkrun_domain::order::OrderStatus;
use milkrun_domain::page::{MAX_PAGE_SIZE, PageRequest};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{BY, CheckoutTasks, Moved, Step, out_of_place};
use crate::records::attach_paid;

/// `MILKRUN_FRAUD_LIMIT` is not a whole number of paise.
#[derive(Debug, thiserror::Error)]
#[error("MILKRUN_FRAUD_LIMIT must be a whole number of paise, got {0:?}")]
pub struct ConfigError(String);

/// The fraud rules from `MILKRUN_FRAUD_LIMIT` (paise; SPEC §5 gives 500000 as the default
/// when it is unset). Read once at start; a malformed value is an error, not the default.
pub fn fraud_rules_from_env() -> Result<FraudRules, ConfigError> {
    match std::env::var("MILKRUN_FRAUD_LIMIT") {
        Err(_) => Ok(FraudRules::default()),
        Ok(raw) => raw
            .trim()
            .parse::<u64>()
            .map(|limit_paise| FraudRules { limit_paise })
            .map_err(|_| ConfigError(raw)),
    }
}

impl CheckoutTasks {
    /// SPEC §5 step 6 over the customer's earlier orders and their most recently used
    /// device. Flagged: `flags.fraudFlag`, order ON_HOLD with the reasons, answers
    /// `{"onHold": true}`; else `{"onHold": false}`.
    pub(super) async fn fraud_check(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        match order.status {
            OrderStatus::PaymentPending => {}
            OrderStatus::OnHold => return Ok(json!({ "orderId": order_id, "onHold": true })),
            OrderStatus::Confirmed
            | OrderStatus::Preparing
            | OrderStatus::OutForDelivery
            | OrderStatus::Delivered => {
                return Ok(json!({ "orderId": order_id, "onHold": false }));
            }
            status => return Err(out_of_place(Step::FraudCheck, status)),
        }
        let user = self.customer_of(&order).await?;
        let earlier = self
            .ports
            .orders
            .for_user(order.user_id, &PageRequest::first(MAX_PAGE_SIZE))
            .await
            .map_err(DomainError::from)?;
        let previous_orders: Vec<PastOrder> = earlier
            .items
            .iter()
            .filter(|o| o.order_id != order_id && o.created_at <= order.created_at)
            // An order that never went ahead is no spending pattern.
            .filter(|o| o.status != OrderStatus::Failed)
            .map(|o| PastOrder {
                total: o.total,
                created_at: o.created_at,
                planned: o.subscription_id.is_some(),
            })
            .collect();
        let device_first_seen_at = user.as_ref().and_then(|user| {
            user.devices
                .iter()
                .max_by_key(|d| d.last_seen_at)
                .map(|d| d.first_seen_at)
        });
        let now = Utc::now();
        let reasons = checkout::fraud_reasons(
            &FraudInput {
                total: order.total,
                previous_orders,
                device_first_seen_at,
                now,
                planned: order.subscription_id.is_some(),
            },
            &self.fraud,
        );
        if reasons.is_empty() {
            return Ok(json!({ "orderId": order_id, "onHold": false, "reasons": [] }));
        }
        let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
        let reason = names.join(",");
        let paid = self.taken_payment(&order).await?;
        let moved = Moved::default();
        self.change(order_id, &|order| {
            if order.status != OrderStatus::PaymentPending {
                return moved.to(None);
            }
            if let Some(payment_id) = paid {
                attach_paid(order, payment_id);
            }
            order.flags.fraud_flag = true;
            order.move_to(OrderStatus::OnHold, BY, Some(reason.clone()), now)?;
            moved.to(Some(OrderStatus::OnHold))
        })
        .await?;
        moved.count_outcome();
        Ok(json!({ "orderId": order_id, "onHold": true, "reasons": names }))
    }
}

//! Steps 1 and 2: the customer can be delivered to (ValidateProfile) and the order can be
//! sold as written (ValidateOrder). Both only read; a failure ends in MarkFailed.

use chrono::Utc;
use milkrun_domain::checkout::{self, OrderLine};
use milkrun_domain::error::TaskError;
use milkrun_domain::order::OrderStatus;
use milkrun_domain::{DomainError, ErrorCode, FieldErrors};
use serde_json::Value;
use uuid::Uuid;

use super::{CheckoutTasks, answer, product_ids, refused};

impl CheckoutTasks {
    /// The customer has a phone and an address (SPEC §3 isProfileComplete), else
    /// `ProfileIncomplete` naming what is missing; MarkFailed fails the order.
    pub(super) async fn validate_profile(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        if order.status != OrderStatus::Pending {
            return Ok(answer(&order));
        }
        let user = self.customer_of(&order).await?;
        let Some(user) = user else {
            return Err(refused(
                ErrorCode::ProfileIncomplete,
                "The customer's account no longer exists.".into(),
            )
            .into());
        };
        let mut missing = Vec::new();
        if user.phone.is_none() {
            missing.push("a phone number");
        }
        if user.addresses.is_empty() {
            missing.push("an address");
        }
        if !missing.is_empty() || !user.is_profile_complete {
            let what = match missing.is_empty() {
                true => String::new(),
                false => format!(": add {}", missing.join(" and ")),
            };
            return Err(refused(
                ErrorCode::ProfileIncomplete,
                format!("The profile is incomplete{what}."),
            )
            .into());
        }
        Ok(answer(&order))
    }

    /// Products active, variants exist, quantities 1–100, delivery date after today and at
    /// most 30 days ahead; else `ValidationError` naming each problem.
    pub(super) async fn validate_order(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        if order.status != OrderStatus::Pending {
            return Ok(answer(&order));
        }
        let lines: Vec<OrderLine> = order
            .items
            .iter()
            .map(|item| OrderLine {
                product_id: item.product_id,
                variant_id: item.variant_id,
                quantity: item.quantity,
            })
            .collect();
        checkout::check_lines(&lines)?;
        let catalog = self
            .ports
            .products
            .get_many(&product_ids(&order))
            .await
            .map_err(DomainError::from)?;
        checkout::price(&lines, &catalog)?;
        checkout::check_delivery_date(order.delivery_date, Utc::now()).map_err(|problem| {
            DomainError::Validation(FieldErrors::single("deliveryDate", problem.0))
        })?;
        Ok(answer(&order))
    }
}

//! The checkout steps (SPEC §5), one method each, dispatched by the state's name.
//!
//! A failing step does not mark the order: the definition catches the error, compensates
//! (RefundPayment, ReleaseStock) and ends in MarkPaymentFailed or MarkFailed, which record
//! the outcome with the caught error's name as the reason.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::checkout::{
    self, FraudInput, FraudRules, OrderLine, PastOrder, VendorCandidate, rank_vendors,
};
use milkrun_domain::delivery::{Delivery, DeliveryStatus};
use milkrun_domain::events::{DeliveryNews, DeliveryScheduled, DeliveryUpdated};
use milkrun_domain::inventory::{ReservationRefusal, StockKey, VendorDay};
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::page::{MAX_PAGE_SIZE, PageRequest};
use milkrun_domain::payment::Payment;
use milkrun_domain::payment::{ChargeRequest, GatewayError, PaymentGateway, PaymentStatus};
use milkrun_domain::ports::{
    DeliveryStore, InventoryStore, OrderStore, PaymentStore, ProductReads, UserStore, VendorReads,
};
use milkrun_domain::values::PaymentMethod;
use milkrun_domain::vendor::Vendor;
use milkrun_domain::{DomainError, Effects, ErrorCode, FieldErrors, StoreError};
use milkrun_store::Stores;
use milkrun_store::retry::retry_on_conflict;

use crate::records::{attach_payment, change_order, checkout_actor, order_effects, record_payment};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Who the order's status history says moved it.
const BY: &str = "checkout";
/// A transient gateway failure: the definition retries it with backoff.
pub const PAYMENT_GATEWAY_UNAVAILABLE: &str = "PaymentGatewayUnavailable";
/// A step name the handler does not know: a definition and handler out of step.
pub const UNKNOWN_STEP: &str = "UnknownStep";
/// The reason MarkFailed records when the execution gave no error.
const UNKNOWN_REASON: &str = "CHECKOUT_FAILED";

/// How a step failed: `name` is the Lambda `errorType` the definition's Retry and Catch
/// match (`OutOfStock`, `PaymentDeclined`, ...), `message` its `Cause`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct TaskError {
    pub name: String,
    pub message: String,
}

impl TaskError {
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
        }
    }
}

/// A domain error fails the task with its code's Lambda error type (error.rs), so an
/// `ErrorEquals` reads like the SPEC.
impl From<DomainError> for TaskError {
    fn from(error: DomainError) -> Self {
        let name = error.code().error_type();
        let message = match &error {
            DomainError::Validation(fields) => {
                let fields: Vec<String> = fields
                    .fields()
                    .iter()
                    .map(|(field, problem)| format!("{field} {problem}"))
                    .collect();
                format!("The order is not valid: {}.", fields.join("; "))
            }
            other => other.to_string(),
        };
        Self::new(name, message)
    }
}

impl From<GatewayError> for TaskError {
    fn from(error: GatewayError) -> Self {
        let name = match &error {
            GatewayError::Declined(_) => ErrorCode::PaymentDeclined.error_type(),
            GatewayError::Unavailable(_) => PAYMENT_GATEWAY_UNAVAILABLE,
            GatewayError::NotFound => ErrorCode::NotFound.error_type(),
            GatewayError::Malfunction(_) => ErrorCode::InternalError.error_type(),
        };
        Self::new(name, error.to_string())
    }
}

/// The error a Catch put at `$.error`, passed to the Mark steps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// A Task state's `Parameters`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInput {
    pub step: String,
    pub order_id: Uuid,
    #[serde(default)]
    pub error: Option<CaughtError>,
}

/// Every step the definition names, by its state name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    ValidateProfile,
    ValidateOrder,
    AssignVendors,
    ReserveStock,
    ProcessPayment,
    FraudCheck,
    ConfirmOrder,
    ScheduleDelivery,
    NotifyCustomer,
    NotifyVendors,
    RecordAnalytics,
    RefundPayment,
    ReleaseStock,
    MarkPaymentFailed,
    MarkFailed,
}

impl Step {
    pub const ALL: [Step; 15] = [
        Self::ValidateProfile,
        Self::ValidateOrder,
        Self::AssignVendors,
        Self::ReserveStock,
        Self::ProcessPayment,
        Self::FraudCheck,
        Self::ConfirmOrder,
        Self::ScheduleDelivery,
        Self::NotifyCustomer,
        Self::NotifyVendors,
        Self::RecordAnalytics,
        Self::RefundPayment,
        Self::ReleaseStock,
        Self::MarkPaymentFailed,
        Self::MarkFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidateProfile => "ValidateProfile",
            Self::ValidateOrder => "ValidateOrder",
            Self::AssignVendors => "AssignVendors",
            Self::ReserveStock => "ReserveStock",
            Self::ProcessPayment => "ProcessPayment",
            Self::FraudCheck => "FraudCheck",
            Self::ConfirmOrder => "ConfirmOrder",
            Self::ScheduleDelivery => "ScheduleDelivery",
            Self::NotifyCustomer => "NotifyCustomer",
            Self::NotifyVendors => "NotifyVendors",
            Self::RecordAnalytics => "RecordAnalytics",
            Self::RefundPayment => "RefundPayment",
            Self::ReleaseStock => "ReleaseStock",
            Self::MarkPaymentFailed => "MarkPaymentFailed",
            Self::MarkFailed => "MarkFailed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == name)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// What the steps read and write through.
#[derive(Clone)]
pub struct CheckoutPorts {
    pub orders: Arc<dyn OrderStore>,
    pub users: Arc<dyn UserStore>,
    pub vendors: Arc<dyn VendorReads>,
    pub products: Arc<dyn ProductReads>,
    pub stock: Arc<dyn InventoryStore>,
    pub payments: Arc<dyn PaymentStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub gateway: Arc<dyn PaymentGateway>,
}

impl CheckoutPorts {
    pub fn from_stores(stores: &Stores, gateway: Arc<dyn PaymentGateway>) -> Self {
        Self {
            orders: stores.orders.clone(),
            users: stores.users.clone(),
            vendors: stores.vendors.clone(),
            products: stores.products.clone(),
            stock: stores.stock.clone(),
            payments: stores.payments.clone(),
            deliveries: stores.deliveries.clone(),
            gateway,
        }
    }
}

/// The checkout task handler.
#[derive(Clone)]
pub struct CheckoutTasks {
    ports: CheckoutPorts,
    fraud: FraudRules,
}

/// The usual answer of a step: the order and where it now is.
fn answer(order: &Order) -> Value {
    json!({ "orderId": order.order_id, "status": order.status })
}

fn refused(code: ErrorCode, message: String) -> DomainError {
    DomainError::refused(code, message)
}

/// A step asked of an order in a status it does not apply to (e.g. ConfirmOrder of a
/// FAILED order).
fn out_of_place(step: Step, status: OrderStatus) -> TaskError {
    refused(
        ErrorCode::InvalidTransition,
        format!("{step} does not apply to an order in {status}."),
    )
    .into()
}

/// `OutOfStock` → `OUT_OF_STOCK`: the caught error's name as the status history's reason.
fn reason_code(error_name: &str) -> String {
    let mut code = String::with_capacity(error_name.len() + 4);
    let mut previous_lower = false;
    for c in error_name.chars() {
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

type Edit<'a> = dyn Fn(&mut Order) -> Result<bool, DomainError> + Send + Sync + 'a;

impl CheckoutTasks {
    pub fn new(ports: CheckoutPorts, fraud: FraudRules) -> Self {
        Self { ports, fraud }
    }

    /// Runs `step` for `order_id`.
    pub async fn run(&self, step: &str, order_id: Uuid) -> Result<Value, TaskError> {
        self.run_step(step, order_id, None).await
    }

    /// Runs a Task state's input: its step, its order and (for the Mark steps) the caught
    /// error.
    pub async fn run_input(&self, input: &TaskInput) -> Result<Value, TaskError> {
        self.run_step(&input.step, input.order_id, input.error.as_ref())
            .await
    }

    async fn run_step(
        &self,
        name: &str,
        order_id: Uuid,
        caught: Option<&CaughtError>,
    ) -> Result<Value, TaskError> {
        let Some(step) = Step::parse(name) else {
            return Err(TaskError::new(
                UNKNOWN_STEP,
                format!("The checkout task has no step named {name:?}."),
            ));
        };
        let result = match step {
            Step::ValidateProfile => self.validate_profile(order_id).await,
            Step::ValidateOrder => self.validate_order(order_id).await,
            Step::AssignVendors => self.assign_vendors(order_id).await,
            Step::ReserveStock => self.reserve_stock(order_id).await,
            Step::ProcessPayment => self.process_payment(order_id).await,
            Step::FraudCheck => self.fraud_check(order_id).await,
            Step::ConfirmOrder => self.confirm_order(order_id).await,
            Step::ScheduleDelivery => self.schedule_delivery(order_id).await,
            Step::NotifyCustomer | Step::NotifyVendors | Step::RecordAnalytics => {
                self.not_yet_published(order_id).await
            }
            Step::RefundPayment => self.refund_payment(order_id).await,
            Step::ReleaseStock => self.release_stock(order_id).await,
            Step::MarkPaymentFailed => self.mark_payment_failed(order_id).await,
            Step::MarkFailed => self.mark_failed(order_id, caught).await,
        };
        match &result {
            Ok(_) => tracing::info!(%order_id, %step, "checkout step done"),
            Err(error) => tracing::warn!(
                %order_id, %step, error = %error.name, cause = %error.message,
                "checkout step failed"
            ),
        }
        result
    }

    async fn load(&self, order_id: Uuid) -> Result<Order, DomainError> {
        self.ports
            .orders
            .get(order_id)
            .await?
            .ok_or(DomainError::NotFound("order"))
    }

    /// Reads the order, applies `edit` (which answers whether it changed anything) and
    /// writes it back by compare-and-swap with its audit entry and event, from a fresh read
    /// after a lost race.
    async fn change(&self, order_id: Uuid, edit: &Edit<'_>) -> Result<Order, DomainError> {
        let actor = checkout_actor(order_id);
        change_order(self.ports.orders.as_ref(), order_id, &actor, edit).await
    }

    // --- 1. ValidateProfile -----------------------------------------------------------

    /// The customer has a phone and an address (SPEC §3 isProfileComplete), else
    /// `ProfileIncomplete` naming what is missing; MarkFailed fails the order.
    async fn validate_profile(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        if order.status != OrderStatus::Pending {
            return Ok(answer(&order));
        }
        let user = self
            .ports
            .users
            .by_id(order.user_id)
            .await
            .map_err(DomainError::from)?;
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

    // --- 2. ValidateOrder -------------------------------------------------------------

    /// Products active, variants exist, quantities 1–100, delivery date after today and at
    /// most 30 days ahead; else `ValidationError` naming each problem.
    async fn validate_order(&self, order_id: Uuid) -> Result<Value, TaskError> {
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

    // --- 3. AssignVendors -------------------------------------------------------------

    /// For each item without a vendor, the best vendor serving the pincode that sells the
    /// product, has a free place that day and the stock (higher rating, then lower load).
    /// When no such vendor has the stock, the best one without it is assigned, so that
    /// ReserveStock settles the shortage (OUT_OF_STOCK, or a partial order); when none could
    /// deliver at all, `NoVendorAvailable`.
    async fn assign_vendors(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        if order.status != OrderStatus::Pending {
            return Ok(answer(&order));
        }
        let open: Vec<usize> = (0..order.items.len())
            .filter(|&i| order.items[i].fulfilled && order.items[i].vendor_id.is_none())
            .collect();
        if open.is_empty() {
            return Ok(answer(&order));
        }
        let candidates = self.candidates(&order, &open).await?;
        let mut choices = Vec::with_capacity(open.len());
        for (&index, candidates) in open.iter().zip(candidates) {
            let item = &order.items[index];
            let vendor_id = match checkout::pick_vendor(item, &candidates) {
                Ok(vendor_id) => vendor_id,
                Err(none) => {
                    let stock_blind: Vec<VendorCandidate> = candidates
                        .into_iter()
                        .map(|c| VendorCandidate {
                            stock: u32::MAX,
                            ..c
                        })
                        .collect();
                    *rank_vendors(&stock_blind, item.quantity)
                        .first()
                        .ok_or(none)?
                }
            };
            choices.push((index, vendor_id));
        }
        let order = self
            .change(order_id, &|order| {
                if order.status != OrderStatus::Pending {
                    return Ok(false);
                }
                for &(index, vendor_id) in &choices {
                    order.items[index].vendor_id = Some(vendor_id);
                }
                Ok(true)
            })
            .await?;
        Ok(answer(&order))
    }

    /// For each of `items` (indexes into the order's items), every vendor serving the
    /// order's pincode as a candidate, with its stock of the item and its load that day as
    /// read now.
    async fn candidates(
        &self,
        order: &Order,
        items: &[usize],
    ) -> Result<Vec<Vec<VendorCandidate>>, TaskError> {
        let pincode = &order.delivery_address.pincode;
        let vendors = self
            .ports
            .vendors
            .serving(pincode)
            .await
            .map_err(DomainError::from)?;
        let catalog = self
            .ports
            .products
            .get_many(&product_ids(order))
            .await
            .map_err(DomainError::from)?;
        let key = |vendor_id: Uuid, index: usize| StockKey {
            vendor_id,
            product_id: order.items[index].product_id,
            variant_id: order.items[index].variant_id,
        };
        let keys: Vec<StockKey> = vendors
            .iter()
            .flat_map(|vendor| items.iter().map(|&i| key(vendor.vendor_id, i)))
            .collect();
        let stock: HashMap<StockKey, u32> = match keys.is_empty() {
            true => HashMap::new(),
            false => self
                .ports
                .stock
                .get_many(&keys)
                .await
                .map_err(DomainError::from)?
                .into_iter()
                .map(|row| (row.key(), row.stock))
                .collect(),
        };
        let mut taken = HashMap::new();
        for vendor in &vendors {
            let orders = self
                .ports
                .stock
                .orders_taken(vendor.vendor_id, order.delivery_date)
                .await
                .map_err(DomainError::from)?;
            taken.insert(vendor.vendor_id, orders);
        }
        let mut all = Vec::with_capacity(items.len());
        for &index in items {
            let item = &order.items[index];
            let product = catalog
                .iter()
                .find(|p| p.product_id == item.product_id)
                .ok_or(DomainError::NotFound("product"))?;
            let candidates = vendors
                .iter()
                .map(|vendor| {
                    let units = stock
                        .get(&key(vendor.vendor_id, index))
                        .copied()
                        .unwrap_or(0);
                    let load = taken.get(&vendor.vendor_id).copied().unwrap_or(0);
                    VendorCandidate::new(vendor, product, pincode, units, load)
                })
                .collect();
            all.push(candidates);
        }
        Ok(all)
    }

    /// After a reservation was refused by `vendor_id` (its day full, or out of the item),
    /// moves the refused items to the best other vendor that has the stock and room now,
    /// never back to one refused before. Answers whether every refused item found one
    /// (the reservation is then tried again).
    async fn reassign(
        &self,
        working: &mut Order,
        refused: &[usize],
        excluded: &[(usize, Uuid)],
    ) -> Result<bool, TaskError> {
        let candidates = self.candidates(working, refused).await?;
        for (&index, candidates) in refused.iter().zip(candidates) {
            let open: Vec<VendorCandidate> = candidates
                .into_iter()
                .filter(|c| !excluded.contains(&(index, c.vendor_id)))
                .collect();
            match checkout::pick_vendor(&working.items[index], &open) {
                Ok(vendor_id) => working.items[index].vendor_id = Some(vendor_id),
                Err(_) => return Ok(false),
            }
        }
        Ok(true)
    }

    // --- 4. ReserveStock --------------------------------------------------------------

    /// Reserves every fulfilled item's units and one order of each vendor's day, all or
    /// nothing (idempotent by order in the store). A short item: with `allowPartial` it
    /// becomes `fulfilled: false`, the totals are recomputed and the rest is reserved;
    /// without, `OutOfStock` and nothing is taken. A full vendor day: `NoVendorAvailable`.
    /// Then PENDING → PAYMENT_PENDING.
    async fn reserve_stock(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        match order.status {
            OrderStatus::Pending | OrderStatus::PaymentFailed => {}
            OrderStatus::Failed | OrderStatus::Cancelled | OrderStatus::Refunded => {
                return Err(out_of_place(Step::ReserveStock, order.status));
            }
            OrderStatus::PaymentPending => {
                self.hold_stock(&order).await?;
                return Ok(answer(&order));
            }
            _ => return Ok(answer(&order)),
        }
        if order.stock_lines().is_empty() {
            return Err(refused(
                ErrorCode::NoVendorAvailable,
                "No item of the order has a vendor assigned.".into(),
            )
            .into());
        }
        let mut vendors = self
            .ports
            .vendors
            .get_many(&order.vendor_ids())
            .await
            .map_err(DomainError::from)?;
        let mut working = order.clone();
        let mut short: Vec<(Uuid, Uuid)> = Vec::new();
        let (mut excluded, mut reassignments) = (Vec::new(), 0);
        loop {
            let capacity = vendor_days(&working, &vendors);
            let refusal = self
                .ports
                .stock
                .reserve_for_date(
                    order_id,
                    &working.stock_lines(),
                    &capacity,
                    &Effects::none(),
                )
                .await
                .map_err(DomainError::from)?;
            // Another checkout may have taken the vendor's last units or last place of the
            // day since vendors were assigned: try the next best vendor first, a few times.
            let refused_by = match &refusal {
                Ok(_) => None,
                Err(ReservationRefusal::OutOfStock(key)) => Some((key.vendor_id, Some(*key))),
                Err(ReservationRefusal::VendorFull { vendor_id, .. }) => Some((*vendor_id, None)),
            };
            if let Some((vendor_id, key)) = refused_by
                && reassignments < MAX_REASSIGNMENTS
            {
                let items: Vec<usize> = (0..working.items.len())
                    .filter(|&i| {
                        let item = &working.items[i];
                        item.fulfilled
                            && item.vendor_id == Some(vendor_id)
                            && key.is_none_or(|k| item.is_line(k.product_id, k.variant_id))
                    })
                    .collect();
                excluded.extend(items.iter().map(|&i| (i, vendor_id)));
                reassignments += 1;
                if self.reassign(&mut working, &items, &excluded).await? {
                    vendors = self
                        .ports
                        .vendors
                        .get_many(&working.vendor_ids())
                        .await
                        .map_err(DomainError::from)?;
                    continue;
                }
                working = with_vendors_of(&order, &working, &items);
            }
            match refusal {
                Ok(_) => break,
                Err(ReservationRefusal::OutOfStock(key)) => {
                    let line = (key.product_id, key.variant_id);
                    let before = working.stock_lines();
                    checkout::settle_shortage(&mut working, &[line], order.allow_partial)?;
                    if working.stock_lines() == before {
                        return Err(refused(
                            ErrorCode::OutOfStock,
                            "Not enough stock for the order.".into(),
                        )
                        .into());
                    }
                    short.push(line);
                }
                Err(ReservationRefusal::VendorFull { vendor_id, date }) => {
                    return Err(vendor_full(vendor_id, date));
                }
            }
        }
        let now = Utc::now();
        let order = self
            .change(order_id, &|order| {
                if !matches!(
                    order.status,
                    OrderStatus::Pending | OrderStatus::PaymentFailed
                ) {
                    return Ok(false);
                }
                for (item, reserved) in order.items.iter_mut().zip(&working.items) {
                    item.vendor_id = reserved.vendor_id;
                }
                if !short.is_empty() {
                    checkout::settle_shortage(order, &short, true)?;
                }
                let reason = (!short.is_empty()).then(|| "PARTIAL_FULFILLMENT".to_owned());
                order.move_to(OrderStatus::PaymentPending, BY, reason, now)?;
                Ok(true)
            })
            .await?;
        Ok(answer(&order))
    }

    // --- 5. ProcessPayment ------------------------------------------------------------

    /// Charges the order's total through the gateway (idempotent by order) and records the
    /// payment's id on the order. Declined: `PaymentDeclined`; the gateway unreachable:
    /// `PaymentGatewayUnavailable` (retried by the definition). COD is never charged.
    async fn process_payment(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        if order.payment_method == PaymentMethod::Cod || order.payment_id.is_some() {
            return Ok(answer(&order));
        }
        if order.status != OrderStatus::PaymentPending {
            return Err(out_of_place(Step::ProcessPayment, order.status));
        }
        let request = ChargeRequest {
            order_id,
            user_id: order.user_id,
            amount: order.total,
            method: order.payment_method,
            token: order.payment_token.clone(),
        };
        let payment = match self.ports.gateway.charge(&request).await {
            Ok(payment) => self.record(&payment).await?,
            Err(GatewayError::Declined(reason)) => {
                self.record(&self.declined(&request, reason.clone()).await?)
                    .await?;
                return Err(GatewayError::Declined(reason).into());
            }
            Err(other) => return Err(other.into()),
        };
        let actor = checkout_actor(order_id);
        let order = attach_payment(self.ports.orders.as_ref(), order_id, &payment, &actor).await?;
        Ok(json!({
            "orderId": order_id,
            "status": order.status,
            "paymentId": payment.payment_id,
        }))
    }

    /// Keeps the gateway's answer as the order's payment record.
    async fn record(&self, answered: &Payment) -> Result<Payment, TaskError> {
        Ok(record_payment(
            &self.ports.payments,
            answered,
            &checkout_actor(answered.order_id),
        )
        .await?)
    }

    /// The payment record of a declined charge: the order's earlier record with one more
    /// attempt, or a new one.
    async fn declined(
        &self,
        request: &ChargeRequest,
        reason: String,
    ) -> Result<Payment, TaskError> {
        let stored = self
            .ports
            .payments
            .for_order(request.order_id)
            .await
            .map_err(DomainError::from)?;
        let base = stored.unwrap_or_else(|| request.pending_payment(Utc::now()));
        Ok(Payment {
            status: PaymentStatus::Failed,
            attempts: base.attempts + 1,
            failure_reason: Some(reason),
            amount: request.amount,
            method: request.method,
            ..base
        })
    }

    // --- 6. FraudCheck ----------------------------------------------------------------

    /// SPEC §5 step 6 over the customer's earlier orders and their most recently used
    /// device. Flagged: `flags.fraudFlag`, order ON_HOLD with the reasons, answers
    /// `{"onHold": true}`; else `{"onHold": false}`.
    async fn fraud_check(&self, order_id: Uuid) -> Result<Value, TaskError> {
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
        let user = self
            .ports
            .users
            .by_id(order.user_id)
            .await
            .map_err(DomainError::from)?;
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
            },
            &self.fraud,
        );
        if reasons.is_empty() {
            return Ok(json!({ "orderId": order_id, "onHold": false, "reasons": [] }));
        }
        let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
        let reason = names.join(",");
        self.change(order_id, &|order| {
            if order.status != OrderStatus::PaymentPending {
                return Ok(false);
            }
            order.flags.fraud_flag = true;
            order.move_to(OrderStatus::OnHold, BY, Some(reason.clone()), now)?;
            Ok(true)
        })
        .await?;
        Ok(json!({ "orderId": order_id, "onHold": true, "reasons": names }))
    }

    // --- 7. ConfirmOrder --------------------------------------------------------------

    /// PAYMENT_PENDING → CONFIRMED; a paid method must have been charged first. An ON_HOLD
    /// order is confirmed only by a manager's approval (POST /orders/{id}/approve records it
    /// and resumes here), never by this step. A run entering here at an order already
    /// CONFIRMED (approved, or started again) checks that the payment and the stock it was
    /// confirmed on are still there before ScheduleDelivery prepares it.
    async fn confirm_order(&self, order_id: Uuid) -> Result<Value, TaskError> {
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
        self.check_paid(&order).await?;
        let now = Utc::now();
        let order = self
            .change(order_id, &|order| {
                if order.status != OrderStatus::PaymentPending {
                    return Ok(false);
                }
                order.move_to(OrderStatus::Confirmed, BY, None, now)?;
                Ok(true)
            })
            .await?;
        Ok(answer(&order))
    }

    /// The order's payment went through (or it is cash on delivery). A checkout started
    /// again after a compensation that died before marking the order (RefundPayment done,
    /// MarkFailed not) finds the payment REFUNDED here and fails into the compensation
    /// again, instead of going ahead unpaid.
    async fn check_paid(&self, order: &Order) -> Result<(), TaskError> {
        if order.payment_method == PaymentMethod::Cod {
            return Ok(());
        }
        let payment = match order.payment_id {
            Some(payment_id) => self
                .ports
                .payments
                .get(payment_id)
                .await
                .map_err(DomainError::from)?,
            None => None,
        };
        match payment.map(|p| p.status) {
            Some(PaymentStatus::Succeeded) => Ok(()),
            None => Err(refused(
                ErrorCode::Conflict,
                "The order cannot be confirmed before it is paid.".into(),
            )
            .into()),
            Some(status) => Err(refused(
                ErrorCode::Conflict,
                format!("The order's payment is {status}; it cannot go ahead."),
            )
            .into()),
        }
    }

    /// Holds the order's stock and vendor days as assigned: nothing more while it holds
    /// them, reserved again if a compensation gave them back and died before marking the
    /// order (a checkout started again must not go ahead on stock it no longer holds). Only
    /// on the entries a started-again run takes (ReserveStock and ConfirmOrder meeting an
    /// order already past them), not on a first run's way through.
    async fn hold_stock(&self, order: &Order) -> Result<(), TaskError> {
        let vendors = self
            .ports
            .vendors
            .get_many(&order.vendor_ids())
            .await
            .map_err(DomainError::from)?;
        let capacity = vendor_days(order, &vendors);
        let held = self
            .ports
            .stock
            .reserve_for_date(
                order.order_id,
                &order.stock_lines(),
                &capacity,
                &Effects::none(),
            )
            .await
            .map_err(DomainError::from)?;
        match held {
            Ok(_) => Ok(()),
            Err(ReservationRefusal::OutOfStock(_)) => Err(refused(
                ErrorCode::OutOfStock,
                "Not enough stock for the order any more.".into(),
            )
            .into()),
            Err(ReservationRefusal::VendorFull { vendor_id, date }) => {
                Err(vendor_full(vendor_id, date))
            }
        }
    }

    // --- 8. ScheduleDelivery ----------------------------------------------------------

    /// One delivery per vendor of the fulfilled items, their ids derived from the order and
    /// vendor (so a repeat names the same ones) and kept on the order; CONFIRMED →
    /// PREPARING.
    async fn schedule_delivery(&self, order_id: Uuid) -> Result<Value, TaskError> {
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

    // --- 9. NotifyCustomer, NotifyVendors, RecordAnalytics ----------------------------

    /// The messages go out from events committed with the changes themselves
    /// (ORDER_CONFIRMED with the confirmation, DELIVERY_SCHEDULED with each delivery), so a
    /// crash can lose none of them and these steps add none twice: they read the order, to
    /// fail on an unknown one like every step, and answer.
    async fn not_yet_published(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        Ok(answer(&order))
    }

    // --- Compensation -----------------------------------------------------------------

    /// Refunds the order's payment if the gateway took one; a no-op for COD, for nothing
    /// captured and for a refunded payment.
    async fn refund_payment(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let refunded = refund_order_payment(&self.ports, order_id).await?;
        Ok(json!({ "orderId": order_id, "refunded": refunded }))
    }

    /// Gives back the order's reserved stock and vendor day, once; a no-op when nothing
    /// is reserved.
    async fn release_stock(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let released = self
            .ports
            .stock
            .release(order_id, &Effects::none())
            .await
            .map_err(DomainError::from)?;
        Ok(json!({ "orderId": order_id, "released": released.is_some() }))
    }

    /// PAYMENT_PENDING → PAYMENT_FAILED (declined; the stock was released before).
    async fn mark_payment_failed(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let now = Utc::now();
        let order = self
            .change(order_id, &|order| match order.status {
                OrderStatus::PaymentFailed => Ok(false),
                _ => {
                    let reason = ErrorCode::PaymentDeclined.as_str().to_owned();
                    order.move_to(OrderStatus::PaymentFailed, BY, Some(reason), now)?;
                    Ok(true)
                }
            })
            .await?;
        Ok(answer(&order))
    }

    /// FAILED with the caught error as the reason where the table allows it (from
    /// PENDING), else CANCELLED (later statuses), then REFUNDED when the payment was
    /// refunded. An order already FAILED, CANCELLED or REFUNDED stays; one the table lets
    /// do neither (DELIVERED) is left as it is.
    async fn mark_failed(
        &self,
        order_id: Uuid,
        caught: Option<&CaughtError>,
    ) -> Result<Value, TaskError> {
        let reason = caught
            .map(|c| reason_code(&c.error))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| UNKNOWN_REASON.to_owned());
        let now = Utc::now();
        let order = self
            .change(order_id, &|order| {
                let to = match order.status {
                    OrderStatus::Failed | OrderStatus::Cancelled | OrderStatus::Refunded => {
                        return Ok(false);
                    }
                    status if status.can_become(OrderStatus::Failed) => OrderStatus::Failed,
                    status if status.can_become(OrderStatus::Cancelled) => OrderStatus::Cancelled,
                    status => {
                        tracing::warn!(%order_id, %status, "MarkFailed leaves the order as it is");
                        return Ok(false);
                    }
                };
                order.move_to(to, BY, Some(reason.clone()), now)?;
                Ok(true)
            })
            .await?;
        if order.status != OrderStatus::Cancelled {
            return Ok(answer(&order));
        }
        // A step after ScheduleDelivery failed (its move written, then it died): the
        // deliveries it wrote must leave the vendors' rounds too.
        call_off_deliveries(&self.ports, order_id, BY, &checkout_actor(order_id)).await?;
        let refunded = matches!(
            self.ports.payments.for_order(order_id).await.map_err(DomainError::from)?,
            Some(payment) if payment.status == PaymentStatus::Refunded
        );
        if !refunded {
            return Ok(answer(&order));
        }
        let order = self
            .change(order_id, &|order| {
                if order.status != OrderStatus::Cancelled {
                    return Ok(false);
                }
                order.move_to(
                    OrderStatus::Refunded,
                    BY,
                    Some("PAYMENT_REFUNDED".into()),
                    now,
                )?;
                Ok(true)
            })
            .await?;
        Ok(answer(&order))
    }
}

/// Refunds the order's payment if it was taken, and records it: whether it is refunded now
/// (false for COD, a declined payment, or none).
pub async fn refund_order_payment(
    ports: &CheckoutPorts,
    order_id: Uuid,
) -> Result<bool, TaskError> {
    let stored = ports
        .payments
        .for_order(order_id)
        .await
        .map_err(DomainError::from)?;
    match stored {
        Some(payment) if payment.status == PaymentStatus::Succeeded => {
            let answered = ports.gateway.refund(&payment).await?;
            let actor = checkout_actor(order_id);
            let recorded = record_payment(&ports.payments, &answered, &actor).await?;
            Ok(recorded.status == PaymentStatus::Refunded)
        }
        Some(payment) => Ok(payment.status == PaymentStatus::Refunded),
        None => Ok(false),
    }
}

/// Reassignments ReserveStock tries after lost races before it settles for the refusal.
const MAX_REASSIGNMENTS: u32 = 3;

/// `working` with `items` given back the vendors they had in `order`: a reassignment that
/// found no other vendor leaves the refusal to speak for the original one.
fn with_vendors_of(order: &Order, working: &Order, items: &[usize]) -> Order {
    let mut restored = working.clone();
    for &index in items {
        restored.items[index].vendor_id = order.items[index].vendor_id;
    }
    restored
}

/// The order's products, each once.
fn product_ids(order: &Order) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = order.items.iter().map(|i| i.product_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// SPEC §5 step 8 for a CONFIRMED order: CONFIRMED → PREPARING (moved `by`) with its
/// deliveries (one per vendor, ids derived from the order and vendor) and a
/// DELIVERY_SCHEDULED event each (the vendor's assignment), in one transaction, so a cancel
/// landing meanwhile leaves no delivery behind. Then SPEC §5 step 7's account update, once,
/// by whoever prepared it. Answers the order as it is (any other status: untouched).
pub async fn schedule_deliveries(
    ports: &CheckoutPorts,
    order_id: Uuid,
    by: &str,
    actor: &AuditContext,
) -> Result<Order, DomainError> {
    let orders = ports.orders.clone();
    let (order, prepared) = retry_on_conflict("order", || async {
        let mut order = orders
            .get(order_id)
            .await?
            .ok_or(DomainError::NotFound("order"))?;
        if order.status != OrderStatus::Confirmed {
            return Ok((order, false));
        }
        let now = Utc::now();
        let deliveries = Delivery::schedule_for(&order, by, now);
        order.delivery_ids = deliveries.iter().map(|d| d.delivery_id).collect();
        order.move_to(OrderStatus::Preparing, by, None, now)?;
        let moved = order_effects(OrderStatus::Confirmed, &order, actor);
        let effects = moved.clone().and(scheduled_effects(&deliveries, actor));
        let order = match orders
            .update_with_deliveries(order.clone(), &deliveries, &effects)
            .await
        {
            // Written with their events, before the move, by a version that wrote them
            // apart (their ids are the same): the move alone.
            Err(StoreError::AlreadyExists) => orders.update(order, &moved).await?,
            written => written?,
        };
        Ok((order, true))
    })
    .await?;
    if prepared {
        count_order(ports, &order).await?;
    }
    Ok(order)
}

/// Ends each delivery of a cancelled order still on a round as FAILED (`ORDER_CANCELLED`,
/// moved `by`), so no vendor loads or moves it any more; answers the order's deliveries as
/// they end.
pub async fn call_off_deliveries(
    ports: &CheckoutPorts,
    order_id: Uuid,
    by: &str,
    actor: &AuditContext,
) -> Result<Vec<Delivery>, DomainError> {
    let mut deliveries = ports.deliveries.for_order(order_id).await?;
    for delivery in deliveries.iter_mut().filter(|d| !d.status.is_final()) {
        let delivery_id = delivery.delivery_id;
        *delivery = retry_on_conflict("delivery", || async {
            let current = ports.deliveries.get(delivery_id).await?;
            let mut current = current.ok_or(DomainError::NotFound("delivery"))?;
            if current.status.is_final() {
                return Ok(current);
            }
            let reason = Some("ORDER_CANCELLED".to_owned());
            current.move_to(DeliveryStatus::Failed, by, reason, Utc::now())?;
            let entry = actor.entry("DELIVERY_UPDATED", "DELIVERY", delivery_id);
            let effects = Effects::audited(entry.with_changes(json!({ "status": "FAILED" })))
                .with_event(
                    &DeliveryUpdated(DeliveryNews::of(&current)),
                    &actor.correlation_id,
                );
            Ok(ports.deliveries.update(current, &effects).await?)
        })
        .await?;
    }
    Ok(deliveries)
}

/// One more order on the customer's account, and its method as their preferred one: only
/// by the call that prepared the order, so a repeated step never counts twice (a crash
/// between the two loses the count, which only feeds the fraud rules' history and the
/// profile).
async fn count_order(ports: &CheckoutPorts, order: &Order) -> Result<(), DomainError> {
    let users = ports.users.clone();
    retry_on_conflict("user", || async {
        let Some(mut user) = users.by_id(order.user_id).await? else {
            return Ok(());
        };
        user.order_count += 1;
        user.preferred_payment_method = Some(order.payment_method);
        users.update(user, &Effects::none()).await?;
        Ok(())
    })
    .await
}

/// A reservation refused because `vendor_id` has taken its last order for `date`.
fn vendor_full(vendor_id: Uuid, date: NaiveDate) -> TaskError {
    refused(
        ErrorCode::NoVendorAvailable,
        format!("Vendor {vendor_id} takes no more orders for {date}."),
    )
    .into()
}

/// One order of each assigned vendor's day, for the reservation's capacity.
fn vendor_days(order: &Order, vendors: &[Vendor]) -> Vec<VendorDay> {
    let assigned = order.vendor_ids();
    vendors
        .iter()
        .filter(|v| assigned.contains(&v.vendor_id))
        .map(|v| VendorDay {
            vendor_id: v.vendor_id,
            date: order.delivery_date,
            daily_order_limit: v.capacity.daily_order_limit,
        })
        .collect()
}

/// A DELIVERY_SCHEDULED event (the vendor's assignment) and an audit entry per delivery.
fn scheduled_effects(deliveries: &[Delivery], actor: &AuditContext) -> Effects {
    deliveries
        .iter()
        .fold(Effects::none(), |effects, delivery| {
            let entry = actor.entry("DELIVERY_SCHEDULED", "DELIVERY", delivery.delivery_id);
            let mut effects = effects.with_event(
                &DeliveryScheduled(DeliveryNews::of(delivery)),
                &actor.correlation_id,
            );
            effects.audit.push(entry);
            effects
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_round_trips_through_its_name() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
        assert_eq!(Step::parse("validateProfile"), None);
    }

    #[test]
    fn caught_error_names_become_reason_codes() {
        assert_eq!(reason_code("OutOfStock"), "OUT_OF_STOCK");
        assert_eq!(reason_code("ProfileIncomplete"), "PROFILE_INCOMPLETE");
        assert_eq!(reason_code("NoVendorAvailable"), "NO_VENDOR_AVAILABLE");
        assert_eq!(reason_code("States.TaskFailed"), "STATES_TASK_FAILED");
    }

    #[test]
    fn domain_and_gateway_errors_keep_their_stable_names() {
        let out: TaskError =
            DomainError::refused(ErrorCode::OutOfStock, "Not enough stock.").into();
        assert_eq!(out.name, "OutOfStock");
        let invalid: TaskError =
            DomainError::Validation(FieldErrors::single("deliveryDate", "must be after today"))
                .into();
        assert_eq!(invalid.name, "ValidationError");
        assert!(
            invalid.message.contains("deliveryDate"),
            "{}",
            invalid.message
        );
        let declined: TaskError = GatewayError::Declined("card declined".into()).into();
        assert_eq!(declined.name, "PaymentDeclined");
        let flaky: TaskError = GatewayError::Unavailable("timeout".into()).into();
        assert_eq!(flaky.name, "PaymentGatewayUnavailable");
    }
}

//! The order service's use cases, free of HTTP.
//!
//! Placing an order is one transaction: the PENDING order, its ORDER_PLACED event and
//! audit entry, the idempotency key's stored answer, and (for an order from the cart) the
//! emptied cart; so a retried request finds either all of it or none. The checkout execution
//! starts after the commit: every step is idempotent by order, so a start repeated by a
//! retry does no harm, and an order whose start was lost stays PENDING, where the local host
//! (and a redrive in AWS) starts it again.

use chrono::{NaiveDate, Utc};
use milkrun_checkout::{CheckoutPorts, OrderActions};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::checkout::{self, OrderLine};
use milkrun_domain::delivery::Delivery;
use milkrun_domain::events::{OrderNews, OrderPlaced};
use milkrun_domain::idempotency::StoredResponse;
use milkrun_domain::order::{NewOrder, Order, OrderStatus};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::payment::Payment;
use milkrun_domain::ports::{
    CartStore, CheckoutRun, DeliveryReads, OrderReads, PaymentReads, ProductReads, UserLookup,
};
use milkrun_domain::user::{Address, User};
use milkrun_domain::values::{AddressLabel, DeliverySlot, PaymentMethod, Role};
use milkrun_domain::{DomainError, Effects, ErrorCode, FieldErrors};
use milkrun_http::AuthUser;
use milkrun_http::idempotency::{Answer, Completion};
use milkrun_platform::Adapters;
use milkrun_store::Stores;
use milkrun_store::effects::{Refused, commit};
use serde_json::json;
use uuid::Uuid;

/// Where the order goes: an address sent with it, one of the customer's by label, or
/// their default.
#[derive(Debug, Clone)]
pub enum AddressChoice {
    Given(Address),
    Label(AddressLabel),
    Default,
}

/// A checked `POST /orders`; `lines: None` takes the cart.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub lines: Option<Vec<OrderLine>>,
    pub address: AddressChoice,
    pub delivery_date: NaiveDate,
    pub delivery_slot: DeliverySlot,
    pub payment_method: PaymentMethod,
    pub allow_partial: bool,
    pub payment_token: Option<String>,
}

/// An order with its payment and deliveries (`GET /orders/{id}`).
pub struct OrderDetail {
    pub order: Order,
    pub payment: Option<Payment>,
    pub deliveries: Vec<Delivery>,
}

#[derive(Clone)]
pub struct OrderService {
    stores: Stores,
    actions: OrderActions,
}

/// The order as clients see it: the payment token the customer sent is never shown, nor
/// the bookkeeping of its payment retries.
pub fn shown(order: Order) -> Order {
    Order {
        payment_token: None,
        retry_started_at: None,
        ..order
    }
}

fn refused(code: ErrorCode, message: impl Into<String>) -> DomainError {
    DomainError::refused(code, message.into())
}

fn profile_incomplete(what: &str) -> DomainError {
    refused(
        ErrorCode::ProfileIncomplete,
        format!("Add {what} to your profile first."),
    )
}

/// The delivery address the request chose, from the customer's profile where it names one.
fn choose_address(user: &User, choice: AddressChoice) -> Result<Address, DomainError> {
    match choice {
        AddressChoice::Given(address) => Ok(address),
        AddressChoice::Label(label) => user
            .addresses
            .iter()
            .find(|a| a.label == label)
            .cloned()
            .ok_or_else(|| {
                DomainError::Validation(FieldErrors::single(
                    "addressLabel",
                    "is not one of your addresses",
                ))
            }),
        AddressChoice::Default => user
            .addresses
            .iter()
            .find(|a| a.is_default)
            .or(user.addresses.first())
            .cloned()
            .ok_or_else(|| profile_incomplete("a delivery address")),
    }
}

impl OrderService {
    pub fn new(stores: Stores, actions: OrderActions) -> Self {
        Self { stores, actions }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        let ports = CheckoutPorts::from_stores(&adapters.stores, adapters.gateway.clone());
        let actions = OrderActions::new(ports, adapters.checkout.clone());
        Self::new(adapters.stores.clone(), actions)
    }

    pub fn actions(&self) -> &OrderActions {
        &self.actions
    }

    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The lines to order: the request's, or the cart's (with the cart, to empty it).
    async fn lines(
        &self,
        user_id: Uuid,
        lines: Option<Vec<OrderLine>>,
    ) -> Result<(Vec<OrderLine>, Option<milkrun_domain::cart::Cart>), DomainError> {
        if let Some(lines) = lines {
            return Ok((lines, None));
        }
        let cart = self.stores.carts.get(user_id).await?;
        let cart = cart.filter(|c| !c.items.is_empty()).ok_or_else(|| {
            DomainError::Validation(FieldErrors::single(
                "items",
                "is required when the cart is empty",
            ))
        })?;
        let lines: Vec<OrderLine> = cart.items.iter().map(OrderLine::from).collect();
        checkout::check_lines(&lines)?;
        Ok((lines, Some(cart)))
    }

    /// Prices the request from the catalog and writes the PENDING order (see the module
    /// documentation), then starts its checkout.
    pub async fn place(
        &self,
        actor: &AuditContext,
        request: PlaceOrder,
        completion: Option<Completion>,
    ) -> Result<Answer, DomainError> {
        let user_id = actor.user_id.ok_or(DomainError::Unauthorized)?;
        let user = self.stores.users.by_id(user_id).await?;
        let user = user.ok_or(DomainError::Unauthorized)?;
        let address = choose_address(&user, request.address.clone())?;
        let (lines, cart) = self.lines(user_id, request.lines.clone()).await?;
        let order = self
            .priced_order(user_id, &request, address, &lines, &completion)
            .await?;
        let body = json!({ "orderId": order.order_id, "status": order.status });
        self.write_placed(actor, &order, &body, cart, &completion)
            .await?;
        if let Err(error) = self
            .actions
            .continue_checkout(&order, CheckoutRun::Placed)
            .await
        {
            tracing::error!(order_id = %order.order_id, %error,
                "the order is placed but its checkout did not start; it stays PENDING until started again");
        }
        Ok(Answer::completed(axum::http::StatusCode::CREATED, body))
    }

    async fn priced_order(
        &self,
        user_id: Uuid,
        request: &PlaceOrder,
        address: Address,
        lines: &[OrderLine],
        completion: &Option<Completion>,
    ) -> Result<Order, DomainError> {
        let mut ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let catalog = self.stores.products.get_many(&ids).await?;
        let priced = checkout::price(lines, &catalog)?;
        let new = NewOrder {
            order_id: Uuid::now_v7(),
            user_id,
            items: priced.items,
            totals: priced.totals,
            delivery_date: request.delivery_date,
            delivery_slot: request.delivery_slot,
            delivery_address: address,
            payment_method: request.payment_method,
            subscription_id: None,
            idempotency_key: completion.as_ref().map(|c| c.key.key.to_string()),
        };
        let mut order = Order::place(new, user_id.to_string(), Utc::now());
        order.allow_partial = request.allow_partial;
        order.payment_token = request.payment_token.clone();
        Ok(order)
    }

    /// One transaction: the order, its effects, the stored answer and the emptied cart.
    async fn write_placed(
        &self,
        actor: &AuditContext,
        order: &Order,
        body: &serde_json::Value,
        cart: Option<milkrun_domain::cart::Cart>,
        completion: &Option<Completion>,
    ) -> Result<(), DomainError> {
        let mut writes = self.stores.orders.create_writes(order)?;
        let answer_at = writes.len();
        if let Some(claim) = completion {
            let stored = StoredResponse {
                status: 201,
                body: body.clone(),
            };
            writes.push(self.stores.idempotency.complete_in(
                &claim.key,
                &claim.fingerprint,
                &stored,
            ));
        }
        if let Some(mut cart) = cart {
            cart.clear();
            cart.updated_at = order.created_at;
            writes.push(self.stores.carts.save_write(&cart)?);
        }
        let entry = actor.entry("ORDER_PLACED", "ORDER", order.order_id);
        let effects = Effects::audited(entry.with_changes(json!({ "total": order.total })))
            .with_event(&OrderPlaced(OrderNews::of(order)), &actor.correlation_id);
        match commit(self.stores.items.as_ref(), writes, &effects).await? {
            Ok(()) => Ok(()),
            Err(Refused::Change(index)) if completion.is_some() && index == answer_at => {
                Err(refused(
                    ErrorCode::IdempotencyInProgress,
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                ))
            }
            Err(_) => Err(DomainError::conflict(
                "Your cart changed while the order was being placed; try again.",
            )),
        }
    }

    /// An order the caller may see: its owner, managers and admins (anyone else is told it
    /// does not exist).
    pub async fn visible(&self, caller: &AuthUser, order_id: Uuid) -> Result<Order, DomainError> {
        let order = self.stores.orders.get(order_id).await?;
        let staff = matches!(caller.role, Role::Manager | Role::Admin);
        order
            .filter(|o| staff || (caller.role == Role::Customer && o.user_id == caller.user_id))
            .ok_or(DomainError::NotFound("order"))
    }

    pub async fn detail(
        &self,
        caller: &AuthUser,
        order_id: Uuid,
    ) -> Result<OrderDetail, DomainError> {
        let order = self.visible(caller, order_id).await?;
        let payment = self.stores.payments.for_order(order_id).await?;
        let deliveries = self.stores.deliveries.for_order(order_id).await?;
        Ok(OrderDetail {
            order: shown(order),
            payment,
            deliveries,
        })
    }

    /// A customer's own orders, or (staff) every order or one status's.
    pub async fn list(
        &self,
        caller: &AuthUser,
        status: Option<OrderStatus>,
        page: &PageRequest,
    ) -> Result<Page<Order>, DomainError> {
        let page = match caller.role {
            Role::Customer => self.stores.orders.for_user(caller.user_id, page).await?,
            _ => self.stores.orders.by_status(status, page).await?,
        };
        Ok(page.map(shown))
    }

    /// Cancels an order the caller sees (the route admits owners and admins; the status
    /// rule is the action's).
    pub async fn cancel(
        &self,
        caller: &AuthUser,
        actor: &AuditContext,
        order_id: Uuid,
    ) -> Result<Order, DomainError> {
        let order = self.visible(caller, order_id).await?;
        Ok(shown(self.actions.cancel(order.order_id, actor).await?))
    }
}

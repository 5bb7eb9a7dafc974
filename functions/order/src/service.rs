//! The order service's use cases, free of HTTP: placing an order is
//! [`milkrun_checkout::place`]'s (shared with the jobs that place orders); the reads, and
//! what people do to an order afterwards, are here and in [`OrderActions`].

use milkrun_checkout::{CheckoutPorts, OrderActions, OrderPlacement};
use milkrun_domain::DomainError;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::delivery::Delivery;
use milkrun_domain::order::{Order, OrderStatus};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::payment::Payment;
use milkrun_domain::ports::{DeliveryReads, OrderReads, PaymentReads};
use milkrun_domain::values::Role;
use milkrun_http::AuthUser;
use milkrun_platform::Adapters;
use milkrun_store::Stores;
use uuid::Uuid;

pub use milkrun_checkout::place::{AddressChoice, PlaceOrder, Placed, PlacedBy};

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
    placement: OrderPlacement,
}

/// The order as clients see it: the payment token the customer sent is never shown, nor
/// the bookkeeping of its payment retries and resumed checkouts.
pub fn shown(order: Order) -> Order {
    Order {
        payment_token: None,
        retry_started_at: None,
        resumes: 0,
        ..order
    }
}

impl OrderService {
    pub fn new(stores: Stores, actions: OrderActions, placement: OrderPlacement) -> Self {
        Self {
            stores,
            actions,
            placement,
        }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        let ports = CheckoutPorts::from_stores(&adapters.stores, adapters.gateway.clone());
        let actions = OrderActions::new(ports, adapters.checkout.clone());
        let placement = OrderPlacement::new(adapters.stores.clone(), adapters.checkout.clone());
        Self::new(adapters.stores.clone(), actions, placement)
    }

    /// Placing orders (`POST /orders`).
    pub fn placement(&self) -> &OrderPlacement {
        &self.placement
    }

    pub fn actions(&self) -> &OrderActions {
        &self.actions
    }

    pub fn stores(&self) -> &Stores {
        &self.stores
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
        let deliveries = self.stores.deliveries.for_order(&order).await?;
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

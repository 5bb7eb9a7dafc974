//! Placing an order, the one use case behind `POST /orders` and a job that orders on a
//! customer's behalf (a subscription's nightly run), free of HTTP.
//!
//! Placing is one transaction: the PENDING order, its ORDER_PLACED event and audit entry,
//! the idempotency key's stored answer (a [`Completion`] the caller hands over), and (for
//! an order from the cart) the emptied cart; so a retry finds either all of it or none. The
//! checkout execution starts after the commit: every step is idempotent by order, so a
//! start repeated by a retry does no harm, and an order whose start was lost stays PENDING,
//! where the local host (and a redrive in AWS) starts it again.
//!
//! An order placed with a derived id ([`PlaceOrder::order_id`], e.g.
//! [`subscription_order_id`]) is written only if no order has that id: placing it again
//! answers the order there is, and starts nothing (as a replayed request starts nothing).

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::cart::Cart;
use milkrun_domain::checkout::{self, OrderLine};
use milkrun_domain::clock::{Clock, SystemClock};
use milkrun_domain::cutoff::CutoffTime;
use milkrun_domain::events::{OrderNews, OrderPlaced};
use milkrun_domain::idempotency::{Completion, StoredResponse, in_progress};
use milkrun_domain::order::{NewOrder, Order};
use milkrun_domain::ports::{
    CartStore, CheckoutRun, CheckoutRunner, CheckoutStart, IdempotencyStore, OrderReads,
    ProductReads, UserLookup, VendorReads,
};
use milkrun_domain::user::{Address, User};
use milkrun_domain::values::{AddressLabel, DeliverySlot, PaymentMethod, Pincode};
use milkrun_domain::{DomainError, Effects, ErrorCode, FieldErrors, StoreError};
use milkrun_store::Stores;
use milkrun_store::effects::{Refused, commit};
use serde_json::json;
use uuid::Uuid;

/// Who places the order. Either way it is the customer's order (`user_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacedBy {
    /// The customer, for themselves: their user id starts the order's timeline.
    Customer { user_id: Uuid },
    /// A job on the customer's behalf: `actor` (the job's name) starts the timeline and is
    /// named in the audit entry.
    Job { user_id: Uuid, actor: String },
}

impl PlacedBy {
    /// The customer whose order it is.
    pub fn user_id(&self) -> Uuid {
        match self {
            Self::Customer { user_id } | Self::Job { user_id, .. } => *user_id,
        }
    }

    /// Who the timeline's first entry says placed it.
    fn by(&self) -> String {
        match self {
            Self::Customer { user_id } => user_id.to_string(),
            Self::Job { actor, .. } => actor.clone(),
        }
    }
}

/// Where the order goes: an address sent with it, one of the customer's by label, or
/// their default.
#[derive(Debug, Clone)]
pub enum AddressChoice {
    Given(Address),
    Label(AddressLabel),
    Default,
}

/// An order to place, its fields checked; `lines: None` takes the customer's cart.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub by: PlacedBy,
    pub lines: Option<Vec<OrderLine>>,
    pub address: AddressChoice,
    pub delivery_date: NaiveDate,
    pub delivery_slot: DeliverySlot,
    pub payment_method: PaymentMethod,
    pub allow_partial: bool,
    pub payment_token: Option<String>,
    /// A derived id: the order is written only if no order has it, and placing it again
    /// answers that order. `None` draws a fresh (v7) id.
    pub order_id: Option<Uuid>,
    /// The subscription the order is for, kept on the order.
    pub subscription_id: Option<Uuid>,
}

/// The order a placement answers: the one it wrote (`created`), or the one already there
/// under its derived id.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub order: Order,
    pub created: bool,
}

impl Placed {
    /// The answer's status: created (HTTP's 201), for a repeat too.
    pub const STATUS: u16 = 201;

    /// `{orderId, status}` with [`Self::STATUS`]: what the idempotency key records and every
    /// retry with it replays.
    pub fn answer(&self) -> StoredResponse {
        StoredResponse {
            status: Self::STATUS,
            body: json!({ "orderId": self.order.order_id, "status": self.order.status }),
        }
    }
}

/// The id of a subscription's order for `date`: UUIDv5 of the date (`YYYY-MM-DD`) in the
/// subscription id's namespace, the same on every run.
pub fn subscription_order_id(subscription_id: Uuid, date: NaiveDate) -> Uuid {
    Uuid::new_v5(&subscription_id, date.to_string().as_bytes())
}

/// Places orders: prices them from the catalog, writes them, starts their checkout.
#[derive(Clone)]
pub struct OrderPlacement {
    stores: Stores,
    runner: Arc<dyn CheckoutRunner>,
    clock: Arc<dyn Clock>,
}

/// The cut-off that binds changes for deliveries to `pincode`: the earliest among the
/// active vendors serving it (any of them may be assigned), 21:00 where none does.
pub async fn cutoff_for(
    vendors: &dyn VendorReads,
    pincode: &Pincode,
) -> Result<CutoffTime, StoreError> {
    let serving = vendors.serving(pincode).await?;
    Ok(serving
        .iter()
        .map(|v| v.cutoff_time)
        .min()
        .unwrap_or_default())
}

fn profile_incomplete(what: &str) -> DomainError {
    DomainError::refused(
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

/// How the placing transaction ended.
enum Written {
    Created,
    /// The derived order id was taken: the order is there already.
    Taken,
}

impl OrderPlacement {
    pub fn new(stores: Stores, runner: Arc<dyn CheckoutRunner>) -> Self {
        Self {
            stores,
            runner,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same, telling the time by `clock` (the cut-off of a customer's order).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Prices the request from the catalog and writes the PENDING order, with
    /// `completion`'s answer when given (see the module documentation), then starts its
    /// checkout. With a derived id already placed, answers that order (and records the
    /// answer for `completion`).
    pub async fn place(
        &self,
        audit: &AuditContext,
        request: PlaceOrder,
        completion: Option<Completion>,
    ) -> Result<Placed, DomainError> {
        let user_id = request.by.user_id();
        if let Some(existing) = self.existing(&request).await? {
            return self.repeated(existing, completion.as_ref()).await;
        }
        let user = self.stores.users.by_id(user_id).await?;
        let user = user.ok_or(match request.by {
            PlacedBy::Customer { .. } => DomainError::Unauthorized,
            PlacedBy::Job { .. } => DomainError::NotFound("user"),
        })?;
        if !user.is_active() {
            // A job orders on an account's behalf only while the account may order.
            return Err(DomainError::Forbidden("The account is disabled."));
        }
        let address = choose_address(&user, request.address.clone())?;
        if let PlacedBy::Customer { .. } = request.by {
            // A customer's order closes at the cut-off; the run's own orders come after it
            // by design.
            let cutoff = cutoff_for(self.stores.vendors.as_ref(), &address.pincode).await?;
            cutoff.check(request.delivery_date, self.clock.now())?;
        }
        let (lines, cart) = self.lines(user_id, request.lines.clone()).await?;
        let order = self
            .priced_order(&request, address, &lines, completion.as_ref())
            .await?;
        let placed = Placed {
            order,
            created: true,
        };
        let written = self
            .write_placed(audit, &request, &placed, cart, completion.as_ref())
            .await?;
        if let Written::Taken = written {
            let existing = self.existing(&request).await?;
            let existing = existing.ok_or_else(|| {
                DomainError::conflict("The order changed while it was being placed; try again.")
            })?;
            return self.repeated(existing, completion.as_ref()).await;
        }
        milkrun_metrics::order_placed();
        let order = &placed.order;
        let start = CheckoutStart {
            order_id: order.order_id,
            payment_method: order.payment_method,
            run: CheckoutRun::Placed,
        };
        if let Err(error) = self.runner.start(&start).await {
            tracing::error!(order_id = %order.order_id, %error,
                "the order is placed but its checkout did not start; it stays PENDING until started again");
        }
        Ok(placed)
    }

    /// The order already placed under the request's derived id, if any (another
    /// customer's is a conflict: the id was derived wrongly).
    async fn existing(&self, request: &PlaceOrder) -> Result<Option<Order>, DomainError> {
        let Some(order_id) = request.order_id else {
            return Ok(None);
        };
        let existing = self.stores.orders.get(order_id).await?;
        match existing {
            Some(order) if order.user_id != request.by.user_id() => Err(DomainError::conflict(
                "This order id names another customer's order.",
            )),
            found => Ok(found),
        }
    }

    /// A repeat of a placement: the order there is, its answer recorded for `completion`.
    async fn repeated(
        &self,
        order: Order,
        completion: Option<&Completion>,
    ) -> Result<Placed, DomainError> {
        let placed = Placed {
            order,
            created: false,
        };
        if let Some(claim) = completion {
            let idempotency = self.stores.idempotency.as_ref();
            match idempotency
                .complete(&claim.key, &claim.fingerprint, &placed.answer())
                .await
            {
                Ok(()) => {}
                Err(StoreError::VersionConflict) => return Err(in_progress()),
                Err(other) => return Err(other.into()),
            }
        }
        Ok(placed)
    }

    /// The lines to order: the request's, or the cart's (with the cart, to empty it).
    async fn lines(
        &self,
        user_id: Uuid,
        lines: Option<Vec<OrderLine>>,
    ) -> Result<(Vec<OrderLine>, Option<Cart>), DomainError> {
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

    async fn priced_order(
        &self,
        request: &PlaceOrder,
        address: Address,
        lines: &[OrderLine],
        completion: Option<&Completion>,
    ) -> Result<Order, DomainError> {
        let mut ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let catalog = self.stores.products.get_many(&ids).await?;
        let priced = checkout::price(lines, &catalog)?;
        let user_id = request.by.user_id();
        let new = NewOrder {
            order_id: request.order_id.unwrap_or_else(Uuid::now_v7),
            user_id,
            items: priced.items,
            totals: priced.totals,
            delivery_date: request.delivery_date,
            delivery_slot: request.delivery_slot,
            delivery_address: address,
            payment_method: request.payment_method,
            subscription_id: request.subscription_id,
            idempotency_key: completion.map(|c| c.key.key.to_string()),
        };
        let mut order = Order::place(new, request.by.by(), Utc::now());
        order.allow_partial = request.allow_partial;
        order.payment_token = request.payment_token.clone();
        Ok(order)
    }

    /// One transaction: the order, its effects, the stored answer and the emptied cart.
    async fn write_placed(
        &self,
        audit: &AuditContext,
        request: &PlaceOrder,
        placed: &Placed,
        cart: Option<Cart>,
        completion: Option<&Completion>,
    ) -> Result<Written, DomainError> {
        let order = &placed.order;
        let derived = request.order_id.is_some();
        let mut writes = self.stores.orders.create_writes(order)?;
        let answer_at = writes.len();
        if let Some(claim) = completion {
            writes.push(self.stores.idempotency.complete_in(
                &claim.key,
                &claim.fingerprint,
                &placed.answer(),
            ));
        }
        if let Some(mut cart) = cart {
            cart.clear();
            cart.updated_at = order.created_at;
            writes.push(self.stores.carts.save_write(&cart)?);
        }
        let changes = match &request.by {
            PlacedBy::Customer { .. } => json!({ "total": order.total }),
            PlacedBy::Job { actor, .. } => json!({ "total": order.total, "placedBy": actor }),
        };
        let entry = audit.entry("ORDER_PLACED", "ORDER", order.order_id);
        let effects = Effects::audited(entry.with_changes(changes))
            .with_event(&OrderPlaced(OrderNews::of(order)), &audit.correlation_id);
        match commit(self.stores.items.as_ref(), writes, &effects).await? {
            Ok(()) => Ok(Written::Created),
            // The order's put comes first: its derived id is taken.
            Err(Refused::Change(0)) if derived => Ok(Written::Taken),
            Err(Refused::Change(index)) if completion.is_some() && index == answer_at => {
                Err(in_progress())
            }
            Err(_) => Err(DomainError::conflict(
                "Your cart changed while the order was being placed; try again.",
            )),
        }
    }
}

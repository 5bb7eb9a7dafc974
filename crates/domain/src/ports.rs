//! Port traits, one per capability, so each use case asks only for what it touches.
//!
//! Every write that changes state takes the change's [`Effects`] (its audit entries and
//! events) and commits them in the same transaction: there is no "write, then publish".

use async_trait::async_trait;
use chrono::NaiveDate;
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::cart::Cart;
use crate::delivery::Delivery;
use crate::effects::Effects;
use crate::error::{DomainError, StoreError};
use crate::events::{EventEnvelope, EventType};
use crate::idempotency::{Claim, ClaimKey, Fingerprint, StoredResponse};
use crate::inventory::{
    InventoryRow, Reservation, ReservationRefusal, StockKey, StockLine, StockOperation,
    StockSettlement, VendorDay,
};
use crate::notification::{DeadLetter, Notification, Promotion};
use crate::order::{Order, OrderStatus};
use crate::page::{Page, PageRequest};
use crate::payment::Payment;
use crate::product::{Product, ProductFilter};
use crate::user::User;
use crate::values::{DeliverySlot, Email, Phone, Pincode};
use crate::vendor::Vendor;

/// Creates accounts; the email claim and the user are written atomically.
#[async_trait]
pub trait UserRegistry: Send + Sync {
    /// `StoreError::AlreadyExists` when another user holds the email, however close the race.
    async fn create(&self, user: &User, effects: &Effects) -> Result<(), StoreError>;
}

#[async_trait]
pub trait UserLookup: Send + Sync {
    async fn by_id(&self, user_id: Uuid) -> Result<Option<User>, StoreError>;
    async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
}

/// Saves a changed user only if nobody saved it since it was read.
#[async_trait]
pub trait UserUpdates: Send + Sync {
    /// Writes `user` if the stored version still equals `user.version`; returns it with the
    /// new version, or `StoreError::VersionConflict` (or `NotFound`) without writing.
    async fn update(&self, user: User, effects: &Effects) -> Result<User, StoreError>;
}

/// Lists all users, newest first, for administrators.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    async fn list(&self, page: &PageRequest) -> Result<Page<User>, StoreError>;
}

/// The active customers with `newsletterOptIn`, oldest first (a sparse index: its cost
/// follows the opted-in, not every user).
#[async_trait]
pub trait NewsletterAudience: Send + Sync {
    async fn opted_in(&self, page: &PageRequest) -> Result<Page<User>, StoreError>;
}

/// What an account may do right now. Authorization follows the account, not what a token
/// said at login: a disabled, demoted or moved account loses what it no longer has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub user_id: Uuid,
    pub role: crate::values::Role,
    pub vendor_id: Option<Uuid>,
    pub active: bool,
}

impl Access {
    pub fn of(user: &User) -> Self {
        Self {
            user_id: user.user_id,
            role: user.role,
            vendor_id: user.vendor_id,
            active: user.is_active(),
        }
    }
}

/// Looks up what an account may do now (`None`: no such account).
#[async_trait]
pub trait AccessLookup: Send + Sync {
    async fn access(&self, user_id: Uuid) -> Result<Option<Access>, StoreError>;

    /// The same, for a request whose token was issued at `token_issued_at`: an answer known
    /// from before the token was issued is not good enough, since whatever made the account
    /// log in again (a promotion, say) may have changed it. Sources that always read afresh
    /// need not override it.
    async fn access_for_token(
        &self,
        user_id: Uuid,
        token_issued_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Access>, StoreError> {
        let _ = token_issued_at;
        self.access(user_id).await
    }
}

/// Failed logins, counted per attempter in fixed windows (see [`crate::login`]).
#[async_trait]
pub trait LoginAttempts: Send + Sync {
    /// How many times each of `attempters` failed in `window`.
    async fn failures(
        &self,
        attempters: &[crate::login::Attempter],
        window: crate::login::LoginWindow,
    ) -> Result<Vec<u32>, StoreError>;
    /// Counts one more failure for each of `attempters` (atomically, never read-then-write).
    async fn failed(
        &self,
        attempters: &[crate::login::Attempter],
        window: crate::login::LoginWindow,
    ) -> Result<(), StoreError>;
    /// Forgets an attempter's failures in `window` (after a successful login).
    async fn forget(
        &self,
        attempter: &crate::login::Attempter,
        window: crate::login::LoginWindow,
    ) -> Result<(), StoreError>;
}

/// Everything the user service needs from storage, for wiring one adapter into it.
pub trait UserStore:
    UserRegistry + UserLookup + UserUpdates + UserDirectory + NewsletterAudience
{
}
impl<T: UserRegistry + UserLookup + UserUpdates + UserDirectory + NewsletterAudience> UserStore
    for T
{
}

/// Publishes committed events to their topics (SNS in AWS, the in-process bus locally).
/// Only the outbox publisher calls it: services hand events to a store with their change.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError>;

    /// Publishes every one of `events`, in as few requests as the technology allows (SNS
    /// takes ten a request), and answers each one's outcome, in their order. One failing
    /// does not stop the others: the caller retries from the first that failed, and
    /// consumers take a repeat as nothing new.
    async fn publish_all(&self, events: &[EventEnvelope]) -> Vec<Result<(), StoreError>> {
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            outcomes.push(self.publish(event).await);
        }
        outcomes
    }
}

/// One email: a plain-text body and any files attached to it (the daily report's chart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Email,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<Attachment>,
}

/// A file sent with a mail. `filename` is a plain name (no folders): the local outbox writes
/// it beside the message, so a name with a path separator is refused there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Mail {
    /// A plain-text mail without attachments (every message but the daily report).
    pub fn text(to: Email, subject: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            to,
            subject: subject.into(),
            body: body.into(),
            attachments: Vec::new(),
        }
    }
}

/// One text message to a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub to: Phone,
    pub body: String,
}

/// Sends text messages (SNS in AWS, an `sms/` outbox folder locally).
#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, sms: &Sms) -> Result<(), StoreError>;
}

/// Sends mail (SES in AWS, an outbox folder locally).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), StoreError>;
}

/// Reads stock rows.
#[async_trait]
pub trait StockLevels: Send + Sync {
    async fn get(&self, key: &StockKey) -> Result<Option<InventoryRow>, StoreError>;
    /// One vendor's rows, by product and variant.
    async fn for_vendor(&self, vendor_id: Uuid) -> Result<Vec<InventoryRow>, StoreError>;
    /// The rows that exist among `keys` (in one batched read where the store has one).
    async fn get_many(&self, keys: &[StockKey]) -> Result<Vec<InventoryRow>, StoreError>;
    /// Every row whose stock is under its low-stock threshold (the daily reconcile's sweep).
    async fn below_threshold(&self) -> Result<Vec<InventoryRow>, StoreError>;
}

/// What a stock change commits with it, given the row before (`None`: new) and after.
pub type StockEffects<'a> =
    dyn Fn(Option<&InventoryRow>, &InventoryRow) -> Effects + Send + Sync + 'a;

/// A vendor's change to one row: a compare-and-swap on the row as read, so the change's
/// audit entry knows the stock before and after; a lost race is read and applied again.
#[async_trait]
pub trait StockAdjustments: Send + Sync {
    /// Applies `operation` (and `threshold`, when given) with the effects `effects` names.
    /// SUBTRACT below zero is `StoreError::InsufficientStock`, a result above the maximum
    /// `StoreError::StockLimit`; either way nothing is written.
    async fn adjust(
        &self,
        key: &StockKey,
        operation: StockOperation,
        threshold: Option<u32>,
        effects: &StockEffects<'_>,
    ) -> Result<InventoryRow, StoreError>;
}

/// What a settlement of a reservation (release, commit, release of the undelivered)
/// commits with it, given what it did; nothing is committed when there was nothing to settle.
pub type SettlementEffects<'a> = dyn Fn(&StockSettlement) -> Effects + Send + Sync + 'a;

/// Holds stock for orders, idempotent by order id. Each move is a transaction of
/// conditional writes (`stock >= quantity`), never read-then-write.
#[async_trait]
pub trait StockReservations: Send + Sync {
    /// Takes every line from stock into reserved, all or nothing
    /// (`StoreError::InsufficientStock`). Repeating it for an order that holds stock takes
    /// nothing more; after a release it reserves again (a payment retry).
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: &[StockLine],
        effects: &Effects,
    ) -> Result<Reservation, StoreError> {
        match self.reserve_for_date(order_id, lines, &[], effects).await? {
            Ok(reservation) => Ok(reservation),
            Err(_) => Err(StoreError::InsufficientStock),
        }
    }
    /// As `reserve`, and in the same transaction takes one order of each vendor day's
    /// capacity (`orders < dailyOrderLimit`), all or nothing: refused, it names the short
    /// line (`OutOfStock`) or the full vendor day (`VendorFull`) and takes nothing.
    /// Repeating it for an order that holds stock takes no capacity twice.
    async fn reserve_for_date(
        &self,
        order_id: Uuid,
        lines: &[StockLine],
        capacity: &[VendorDay],
        effects: &Effects,
    ) -> Result<Result<Reservation, ReservationRefusal>, StoreError>;
    /// Orders taken of a vendor's capacity for a date (0 if none).
    async fn orders_taken(&self, vendor_id: Uuid, date: NaiveDate) -> Result<u32, StoreError>;
    /// Gives an order's reserved units (and vendor days) back, once. `None` if it never
    /// reserved.
    async fn release(
        &self,
        order_id: Uuid,
        effects: &SettlementEffects<'_>,
    ) -> Result<Option<Reservation>, StoreError>;
    /// Removes an order's reserved units for good (delivered), once; its vendor days stay
    /// taken.
    async fn commit(
        &self,
        order_id: Uuid,
        effects: &SettlementEffects<'_>,
    ) -> Result<Option<Reservation>, StoreError>;
    /// Settles an order that ends with only some of its vendors' deliveries made (a
    /// cancel after one was DELIVERED): the units of the vendors in `delivered_by` left the
    /// shelf and are committed (their days stay taken); every other vendor's go back to
    /// stock with its day. Once, like `release` and `commit`, whose work it does when
    /// nobody or every vendor delivered; the reservation ends COMMITTED if any of its units
    /// were delivered, else RELEASED.
    async fn release_undelivered(
        &self,
        order_id: Uuid,
        delivered_by: &[Uuid],
        effects: &SettlementEffects<'_>,
    ) -> Result<Option<Reservation>, StoreError>;
}

/// Everything inventory needs from storage.
pub trait InventoryStore: StockLevels + StockAdjustments + StockReservations {}
impl<T: StockLevels + StockAdjustments + StockReservations> InventoryStore for T {}

/// Creates and changes vendors; a vendor's service areas are indexed in the same write.
#[async_trait]
pub trait VendorWrites: Send + Sync {
    async fn create(&self, vendor: &Vendor, effects: &Effects) -> Result<(), StoreError>;
    /// Writes `after` if the stored vendor is still `before` (same version), re-indexing the
    /// service areas that changed between them; else `VersionConflict` (or `NotFound`).
    /// Returns it with the new version.
    async fn update(
        &self,
        before: &Vendor,
        after: Vendor,
        effects: &Effects,
    ) -> Result<Vendor, StoreError>;
}

#[async_trait]
pub trait VendorReads: Send + Sync {
    async fn get(&self, vendor_id: Uuid) -> Result<Option<Vendor>, StoreError>;
    /// The vendors that exist among `vendor_ids` (one batched read), in no order.
    async fn get_many(&self, vendor_ids: &[Uuid]) -> Result<Vec<Vendor>, StoreError>;
    /// Active vendors serving `pincode`, by key (one query), never by scanning all vendors.
    async fn serving(&self, pincode: &Pincode) -> Result<Vec<Vendor>, StoreError>;
    /// Active vendors, newest first.
    async fn list_active(&self, page: &PageRequest) -> Result<Page<Vendor>, StoreError>;
}

pub trait VendorStore: VendorWrites + VendorReads {}
impl<T: VendorWrites + VendorReads> VendorStore for T {}

#[async_trait]
pub trait ProductWrites: Send + Sync {
    async fn create(&self, product: &Product, effects: &Effects) -> Result<(), StoreError>;
    /// Writes `product` if the stored version still equals `product.version`.
    async fn update(&self, product: Product, effects: &Effects) -> Result<Product, StoreError>;
}

#[async_trait]
pub trait ProductReads: Send + Sync {
    async fn get(&self, product_id: Uuid) -> Result<Option<Product>, StoreError>;
    /// The products among `product_ids` that exist (active or not), in one batch read.
    async fn get_many(&self, product_ids: &[Uuid]) -> Result<Vec<Product>, StoreError>;
    /// Active products matching `filter`, newest first.
    async fn list(
        &self,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, StoreError>;
}

pub trait ProductStore: ProductWrites + ProductReads {}

/// Each customer's one cart.
#[async_trait]
pub trait CartStore: Send + Sync {
    /// The cart as last saved; `None` when there is none or it expired.
    async fn get(&self, user_id: Uuid) -> Result<Option<Cart>, StoreError>;
    /// Saves `cart` if nobody saved it since it was read at `cart.version` (a cart read as
    /// `None` is created); answers it at its new version, or `StoreError::VersionConflict`
    /// without writing. Expires `cart::IDLE_DAYS` after this save.
    async fn save(&self, cart: Cart, effects: &Effects) -> Result<Cart, StoreError>;
}
impl<T: ProductWrites + ProductReads> ProductStore for T {}

/// Writes orders. An order's listings (its owner's, its status's, all orders) follow it in
/// the same write, so a status change moves it between listings atomically.
#[async_trait]
pub trait OrderWrites: Send + Sync {
    /// Writes a new order; `StoreError::AlreadyExists` (and nothing written) if its id is
    /// taken.
    async fn create(&self, order: &Order, effects: &Effects) -> Result<(), StoreError>;
    /// Writes `order` if the stored version still equals `order.version`; returns it with
    /// the new version, or `StoreError::VersionConflict` (or `NotFound`) without writing.
    async fn update(&self, order: Order, effects: &Effects) -> Result<Order, StoreError>;
    /// Writes `order` as [`OrderWrites::update`] does and creates its new `deliveries`, in
    /// one transaction with `effects`: an order is never PREPARING without its deliveries,
    /// nor a cancelled one left with fresh ones. `VersionConflict` / `NotFound` if the order
    /// is not as read, `AlreadyExists` if a delivery's id is taken; nothing written either
    /// way.
    async fn update_with_deliveries(
        &self,
        order: Order,
        deliveries: &[Delivery],
        effects: &Effects,
    ) -> Result<Order, StoreError>;
}

#[async_trait]
pub trait OrderReads: Send + Sync {
    async fn get(&self, order_id: Uuid) -> Result<Option<Order>, StoreError>;
    /// One customer's orders, newest first.
    async fn for_user(&self, user_id: Uuid, page: &PageRequest) -> Result<Page<Order>, StoreError>;
    /// Orders in `status` (`None`: every order), newest first: the managers' listing.
    async fn by_status(
        &self,
        status: Option<OrderStatus>,
        page: &PageRequest,
    ) -> Result<Page<Order>, StoreError>;
    /// Orders in any of [`OrderStatus::IN_CHECKOUT`], newest first, as one listing: the
    /// stalled-checkout sweep's.
    async fn in_checkout(&self, page: &PageRequest) -> Result<Page<Order>, StoreError>;
}

pub trait OrderStore: OrderWrites + OrderReads {}
impl<T: OrderWrites + OrderReads> OrderStore for T {}

/// Writes payments: one per order, however close the race.
#[async_trait]
pub trait PaymentWrites: Send + Sync {
    /// Writes a new payment; `StoreError::AlreadyExists` (and nothing written) if its id is
    /// taken or its order has a payment already.
    async fn create(&self, payment: &Payment, effects: &Effects) -> Result<(), StoreError>;
    /// Writes `payment` if the stored version still equals `payment.version`; returns it
    /// with the new version, or `StoreError::VersionConflict` (or `NotFound`) without
    /// writing. A payment stays with the order it was created for.
    async fn update(&self, payment: Payment, effects: &Effects) -> Result<Payment, StoreError>;
}

#[async_trait]
pub trait PaymentReads: Send + Sync {
    async fn get(&self, payment_id: Uuid) -> Result<Option<Payment>, StoreError>;
    /// The one payment of `order_id`, if it has one.
    async fn for_order(&self, order_id: Uuid) -> Result<Option<Payment>, StoreError>;
}

pub trait PaymentStore: PaymentWrites + PaymentReads {}
impl<T: PaymentWrites + PaymentReads> PaymentStore for T {}

/// Writes deliveries. A delivery's round listings follow it in the same write.
#[async_trait]
pub trait DeliveryWrites: Send + Sync {
    /// Writes new deliveries all or nothing (one transaction, with `effects`):
    /// `StoreError::AlreadyExists` and nothing written if any of their ids is taken, so
    /// a repeated schedule writes none twice.
    async fn create_many(
        &self,
        deliveries: &[Delivery],
        effects: &Effects,
    ) -> Result<(), StoreError>;
    /// Writes `delivery` if the stored version still equals `delivery.version`; returns it
    /// with the new version, or `StoreError::VersionConflict` (or `NotFound`) without
    /// writing.
    async fn update(&self, delivery: Delivery, effects: &Effects) -> Result<Delivery, StoreError>;
}

#[async_trait]
pub trait DeliveryReads: Send + Sync {
    async fn get(&self, delivery_id: Uuid) -> Result<Option<Delivery>, StoreError>;
    /// Every delivery of `order`, by delivery id: the ones it names (`delivery_ids`, written
    /// with them in one transaction), read strongly consistent.
    async fn for_order(&self, order: &Order) -> Result<Vec<Delivery>, StoreError>;
    /// The round of `date` and `slot`: one vendor's deliveries (`None`: every vendor's,
    /// for admins), by pincode then delivery id, so a caller groups them by pincode as it
    /// pages.
    async fn round(
        &self,
        vendor_id: Option<Uuid>,
        date: NaiveDate,
        slot: DeliverySlot,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError>;
}

pub trait DeliveryStore: DeliveryWrites + DeliveryReads {}
impl<T: DeliveryWrites + DeliveryReads> DeliveryStore for T {}

/// Idempotency keys (see [`crate::idempotency`]): each claim is one atomic conditional
/// write, never a read followed by a write, so however many requests race for one key,
/// exactly one is `Claimed`.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for the request with `fingerprint`, under a short lease. Takes the key
    /// when no live record has it, or when a request with the same fingerprint held it and
    /// its lease ran out (it crashed); otherwise answers what the record says.
    async fn claim(&self, key: &ClaimKey, fingerprint: &Fingerprint) -> Result<Claim, StoreError>;
    /// Stores the response of the request that holds `key` with `fingerprint`; every later
    /// claim with that fingerprint replays it. `StoreError::VersionConflict` (and nothing
    /// written) if no such claim is held: completed already, released, or another body's.
    async fn complete(
        &self,
        key: &ClaimKey,
        fingerprint: &Fingerprint,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;
    /// Gives up the claim of the request with `fingerprint` that changed nothing, so a retry
    /// runs afresh. A claim no longer held (completed, expired) is left as it is.
    async fn release(&self, key: &ClaimKey, fingerprint: &Fingerprint) -> Result<(), StoreError>;
}

/// Commits effects that come with no other change: a refused login's audit entry, a
/// scheduled job's alerts. Audit entries are only ever added, never changed.
#[async_trait]
pub trait Journal: Send + Sync {
    /// `StoreError::AlreadyExists` (and nothing written) if an entry or event with the same
    /// id is there already.
    async fn commit(&self, effects: &Effects) -> Result<(), StoreError>;
}

/// Reads the audit trail.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// One entity's entries, newest first.
    async fn for_entity(
        &self,
        entity_id: &str,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
}

/// The analytics log (SPEC §6): every domain event, once, read by type and day.
#[async_trait]
pub trait AnalyticsLog: Send + Sync {
    /// Keeps `event` unless an entry with its eventId is kept already: `false` then (a
    /// redelivery), and nothing is written.
    async fn append(&self, event: &crate::analytics::AnalyticsEvent) -> Result<bool, StoreError>;
    /// The entries of one type that occurred on `day` (Asia/Kolkata), newest first.
    async fn of_day(
        &self,
        event_type: EventType,
        day: NaiveDate,
        page: &PageRequest,
    ) -> Result<Page<crate::analytics::AnalyticsEvent>, StoreError>;
}

/// The admin alerts (SPEC §7 admin-alerts): every event that reached that topic, once, for
/// managers and admins to list.
#[async_trait]
pub trait AdminAlerts: Send + Sync {
    /// Keeps `alert` unless one with its eventId is kept already: `false` then (a
    /// redelivery), and nothing is written.
    async fn keep(&self, alert: &crate::analytics::AnalyticsEvent) -> Result<bool, StoreError>;
    /// The alerts (of `event_type` only, when given) that occurred at or after `since`
    /// (when given), newest first.
    async fn alerts(
        &self,
        event_type: Option<EventType>,
        since: Option<chrono::DateTime<chrono::Utc>>,
        page: &PageRequest,
    ) -> Result<Page<crate::analytics::AnalyticsEvent>, StoreError>;
}

/// The outbox as its publisher sees it: events committed but not yet handed on.
#[async_trait]
pub trait PendingEvents: Send + Sync {
    /// Up to `limit` undelivered events, oldest first.
    async fn pending(&self, limit: u32) -> Result<Vec<EventEnvelope>, StoreError>;
    /// Marks an event handed on; it is not offered again.
    async fn delivered(&self, event_id: Uuid) -> Result<(), StoreError>;
}

/// Which events a consumer has handled already, so a redelivery does nothing twice.
#[async_trait]
pub trait ProcessedEvents: Send + Sync {
    async fn seen(&self, consumer: &str, event_id: Uuid) -> Result<bool, StoreError>;
    async fn remember(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError>;
}

/// The notifications kept for their recipients.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Keeps `notification`; `false` if one with its id was kept already (left as it was).
    async fn record(&self, notification: &Notification) -> Result<bool, StoreError>;
    /// Whether `notification` (by its owner, time and id) is kept already.
    async fn kept(&self, notification: &Notification) -> Result<bool, StoreError>;
    /// One user's notifications, newest first.
    async fn for_user(
        &self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Notification>, StoreError>;
}

/// Promotions and their progress.
#[async_trait]
pub trait PromotionStore: Send + Sync {
    /// Writes a new promotion with `effects`; `AlreadyExists` if its id is taken.
    async fn create(&self, promotion: &Promotion, effects: &Effects) -> Result<(), StoreError>;
    async fn get(&self, promotion_id: Uuid) -> Result<Option<Promotion>, StoreError>;
    /// Saves `promotion`'s progress over the version it was read at, with `effects` (the
    /// next batch's event); `VersionConflict` if another run saved first.
    async fn save(&self, promotion: Promotion, effects: &Effects) -> Result<Promotion, StoreError>;
}

/// The local dead-letter list: deliveries that failed every retry, until replayed.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn add(&self, letter: &DeadLetter) -> Result<(), StoreError>;
    /// Oldest first.
    async fn list(&self, limit: u32) -> Result<Vec<DeadLetter>, StoreError>;
    async fn remove(&self, dead_letter_id: Uuid) -> Result<(), StoreError>;
}

/// A consumer of events (an SQS-fed Lambda in AWS, a bus subscriber locally). Handlers may
/// see an event more than once; the host skips events a consumer has processed already.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// A stable name: processed-event records and dead letters are kept per consumer.
    fn name(&self) -> &'static str;
    /// Whether this consumer wants events of this type (its subscription filter).
    fn wants(&self, event_type: EventType) -> bool;
    /// Whether handling an event twice is harmless by itself (its writes are puts-if-absent
    /// keyed by ids derived from the event): then the host keeps no processed-event record
    /// for it, which would cost a read and a write per event to prevent nothing.
    fn deduplicates_itself(&self) -> bool {
        false
    }
    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError>;
}

/// Why an execution of the checkout state machine starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutRun {
    /// A new order, from the first step.
    Placed,
    /// An ON_HOLD order a manager approved: from ConfirmOrder.
    Approved,
    /// A PAYMENT_FAILED order paid again (POST /payments), the `attempt`-th time: from the
    /// start, whose early steps pass an order already validated and assigned.
    PaymentRetry { attempt: u32 },
    /// An order whose checkout stopped with no execution running, started again by the
    /// sweep made at `sweep` (unix seconds): from the start, or from ConfirmOrder for a
    /// CONFIRMED order (`at_confirm`), whose payment and fraud check are behind it.
    Resumed { at_confirm: bool, sweep: i64 },
}

/// One execution to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutStart {
    pub order_id: Uuid,
    pub payment_method: crate::values::PaymentMethod,
    pub run: CheckoutRun,
}

impl CheckoutStart {
    /// The execution's name, unique per order and run, so a start repeated by a retried
    /// request names the same execution (Step Functions refuses a second one by name).
    pub fn execution_name(&self) -> String {
        match self.run {
            CheckoutRun::Placed => self.order_id.to_string(),
            CheckoutRun::Approved => format!("{}-approved", self.order_id),
            CheckoutRun::PaymentRetry { attempt } => format!("{}-retry-{attempt}", self.order_id),
            CheckoutRun::Resumed { sweep, .. } => format!("{}-resumed-{sweep}", self.order_id),
        }
    }

    /// The execution's input (`statemachine/checkout.asl.json`: `orderId`, `paymentMethod`,
    /// and `resume` for a continuation).
    pub fn input(&self) -> serde_json::Value {
        let mut input = serde_json::json!({
            "orderId": self.order_id,
            "paymentMethod": self.payment_method,
        });
        if matches!(
            self.run,
            CheckoutRun::Approved
                | CheckoutRun::Resumed {
                    at_confirm: true,
                    ..
                }
        ) {
            input["resume"] = "ConfirmOrder".into();
        }
        input
    }
}

/// Starts checkout executions: Step Functions in AWS, the local ASL runner in process.
/// Every step is idempotent by order, so a start that happens twice does no harm.
#[async_trait]
pub trait CheckoutRunner: Send + Sync {
    async fn start(&self, start: &CheckoutStart) -> Result<(), StoreError>;
}

/// Subscriptions and each customer's vacation. A subscription is saved by compare-and-swap;
/// a live one (not cancelled, not retired after its end) sits in the run's sparse index,
/// spread over [`crate::subscription::RUN_SHARDS`] partitions, so the nightly run reads what
/// can still be due and never the cancelled or ended past.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    async fn create(
        &self,
        subscription: &crate::subscription::Subscription,
        effects: &Effects,
    ) -> Result<(), StoreError>;
    /// `VersionConflict` (or `NotFound`) when it changed since it was read.
    async fn update(
        &self,
        subscription: crate::subscription::Subscription,
        effects: &Effects,
    ) -> Result<crate::subscription::Subscription, StoreError>;
    async fn get(
        &self,
        subscription_id: Uuid,
    ) -> Result<Option<crate::subscription::Subscription>, StoreError>;
    /// One customer's, newest first.
    async fn for_user(
        &self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<crate::subscription::Subscription>, StoreError>;
    /// Everyone's, newest first (administrators).
    async fn list(
        &self,
        page: &PageRequest,
    ) -> Result<Page<crate::subscription::Subscription>, StoreError>;
    /// One page of the live subscriptions of run shard `shard`.
    async fn live(
        &self,
        shard: u32,
        page: &PageRequest,
    ) -> Result<Page<crate::subscription::Subscription>, StoreError>;
    /// Marks the run's pass over `date`: `lastGeneratedFor`, and a subscription past its
    /// end (or cancelled) leaves the run's index. Bumps the version, so a customer's edit
    /// read before it is retried, never lost.
    async fn mark_generated(
        &self,
        subscription: &crate::subscription::Subscription,
        date: NaiveDate,
    ) -> Result<(), StoreError>;
    async fn vacation(
        &self,
        user_id: Uuid,
    ) -> Result<Option<crate::subscription::Vacation>, StoreError>;
    /// Sets (`Some`) or ends (`None`) the customer's vacation.
    async fn set_vacation(
        &self,
        user_id: Uuid,
        vacation: Option<crate::subscription::Vacation>,
        effects: &Effects,
    ) -> Result<(), StoreError>;
}

/// What applying a cause to a wallet came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub entry: crate::wallet::LedgerEntry,
    /// False when the cause had been applied before (its entry was there): nothing moved.
    pub created: bool,
}

/// Produces a wallet change's effects from its entry (events and audit name the entry).
pub type EntryEffects<'a> = &'a (dyn Fn(&crate::wallet::LedgerEntry) -> Effects + Send + Sync);

/// Wallets and their ledgers. A balance changes only with its entry, in one transaction:
/// the entry is put only if absent (its id is derived from its cause, so a cause applies
/// once) and the balance only at the version it was read.
#[async_trait]
pub trait WalletStore: Send + Sync {
    async fn get(&self, user_id: Uuid) -> Result<Option<crate::wallet::Wallet>, StoreError>;
    /// Applies `cause` once: a repeat answers the entry written the first time.
    async fn apply(
        &self,
        user_id: Uuid,
        cause: crate::wallet::Cause,
        amount: crate::money::Money,
        reason: &str,
        effects: EntryEffects<'_>,
    ) -> Result<Result<Applied, crate::wallet::WalletRefusal>, StoreError>;
    /// The entry `cause` wrote, if it did.
    async fn entry(
        &self,
        user_id: Uuid,
        cause: crate::wallet::Cause,
    ) -> Result<Option<crate::wallet::LedgerEntry>, StoreError>;
    /// Entries written in `[from, until)`, newest first.
    async fn entries(
        &self,
        user_id: Uuid,
        from: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
        page: &PageRequest,
    ) -> Result<Page<crate::wallet::LedgerEntry>, StoreError>;
}

/// What the daily report and a vendor's settlement read: one day's or one vendor's orders
/// and deliveries, never the whole table.
#[async_trait]
pub trait ReportSources: Send + Sync {
    /// Every order whose delivery date is `date`.
    async fn orders_of_day(&self, date: NaiveDate) -> Result<Vec<Order>, StoreError>;
    /// Every vendor's deliveries of `date`.
    async fn deliveries_of_day(&self, date: NaiveDate) -> Result<Vec<Delivery>, StoreError>;
    /// One vendor's deliveries on each of `dates`.
    async fn vendor_deliveries(
        &self,
        vendor_id: Uuid,
        dates: &[NaiveDate],
    ) -> Result<Vec<Delivery>, StoreError>;
    /// The orders among `order_ids` that exist.
    async fn orders(&self, order_ids: &[Uuid]) -> Result<Vec<Order>, StoreError>;
}

/// The stored daily reports, one per delivery date.
#[async_trait]
pub trait DailyReports: Send + Sync {
    /// Stores `report`, replacing the date's earlier one, with `effects` in one transaction.
    async fn save(
        &self,
        report: &crate::report::DailyReport,
        effects: &Effects,
    ) -> Result<(), StoreError>;
    async fn get(&self, date: NaiveDate) -> Result<Option<crate::report::DailyReport>, StoreError>;
}

//! Port traits, one per capability, so each use case asks only for what it touches.

use async_trait::async_trait;
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::error::StoreError;
use crate::events::EventEnvelope;
use crate::inventory::{InventoryRow, Reservation, StockKey, StockLine, StockOperation};
use crate::page::{Page, PageRequest};
use crate::product::{Product, ProductFilter};
use crate::user::User;
use crate::values::{Email, Pincode};
use crate::vendor::Vendor;

/// Creates accounts; the email claim and the user are written atomically.
#[async_trait]
pub trait UserRegistry: Send + Sync {
    /// `StoreError::AlreadyExists` when another user holds the email, however close the race.
    async fn create(&self, user: &User) -> Result<(), StoreError>;
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
    async fn update(&self, user: User) -> Result<User, StoreError>;
}

/// Lists all users, newest first, for administrators.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    async fn list(&self, page: &PageRequest) -> Result<Page<User>, StoreError>;
}

/// Everything the user service needs from storage, for wiring one adapter into it.
pub trait UserStore: UserRegistry + UserLookup + UserUpdates + UserDirectory {}
impl<T: UserRegistry + UserLookup + UserUpdates + UserDirectory> UserStore for T {}

/// Publishes domain events (SNS in AWS, the in-process bus locally).
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError>;
}

/// One plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Email,
    pub subject: String,
    pub body: String,
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

/// Changes one row's sellable stock with a single conditional write, never read-then-write.
#[async_trait]
pub trait StockAdjustments: Send + Sync {
    /// ADD and SET create the row if needed; SUBTRACT below zero is
    /// `StoreError::InsufficientStock` and changes nothing. `threshold` replaces the row's
    /// low-stock threshold when given.
    async fn adjust(
        &self,
        key: &StockKey,
        operation: StockOperation,
        threshold: Option<u32>,
    ) -> Result<InventoryRow, StoreError>;
}

/// Holds stock for orders, idempotent by order id.
#[async_trait]
pub trait StockReservations: Send + Sync {
    /// Takes every line from stock into reserved, all or nothing
    /// (`StoreError::InsufficientStock`). Repeating it for an order that holds stock takes
    /// nothing more; after a release it reserves again (a payment retry).
    async fn reserve(&self, order_id: Uuid, lines: &[StockLine])
    -> Result<Reservation, StoreError>;
    /// Gives an order's reserved units back to stock, once. `None` if it never reserved.
    async fn release(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError>;
    /// Removes an order's reserved units for good (delivered), once.
    async fn commit(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError>;
}

/// Everything inventory needs from storage.
pub trait InventoryStore: StockLevels + StockAdjustments + StockReservations {}
impl<T: StockLevels + StockAdjustments + StockReservations> InventoryStore for T {}

/// Creates and changes vendors; a vendor's service areas are indexed in the same write.
#[async_trait]
pub trait VendorWrites: Send + Sync {
    async fn create(&self, vendor: &Vendor) -> Result<(), StoreError>;
    /// Writes `vendor` if the stored version still equals `vendor.version` (else
    /// `VersionConflict`, or `NotFound`), re-indexing its service areas; returns it with the new version.
    async fn update(&self, vendor: Vendor) -> Result<Vendor, StoreError>;
}

#[async_trait]
pub trait VendorReads: Send + Sync {
    async fn get(&self, vendor_id: Uuid) -> Result<Option<Vendor>, StoreError>;
    /// Active vendors serving `pincode`, by key (one query), never by scanning all vendors.
    async fn serving(&self, pincode: &Pincode) -> Result<Vec<Vendor>, StoreError>;
    /// Active vendors, newest first.
    async fn list_active(&self, page: &PageRequest) -> Result<Page<Vendor>, StoreError>;
}

pub trait VendorStore: VendorWrites + VendorReads {}
impl<T: VendorWrites + VendorReads> VendorStore for T {}

#[async_trait]
pub trait ProductWrites: Send + Sync {
    async fn create(&self, product: &Product) -> Result<(), StoreError>;
    /// Writes `product` if the stored version still equals `product.version`.
    async fn update(&self, product: Product) -> Result<Product, StoreError>;
}

#[async_trait]
pub trait ProductReads: Send + Sync {
    async fn get(&self, product_id: Uuid) -> Result<Option<Product>, StoreError>;
    /// Active products matching `filter`, newest first.
    async fn list(
        &self,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, StoreError>;
}

pub trait ProductStore: ProductWrites + ProductReads {}
impl<T: ProductWrites + ProductReads> ProductStore for T {}

/// The audit trail: entries are appended, never changed or removed.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// `StoreError::AlreadyExists` if an entry with this id exists (it is left as it was).
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// One entity's entries, newest first.
    async fn for_entity(
        &self,
        entity_id: &str,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
}

//! The inventory service's use cases, free of HTTP. Who may touch which vendor's rows is
//! decided by the router before these run.

use std::sync::Arc;

use milkrun_domain::audit::AuditContext;
use milkrun_domain::events::LowStock;
use milkrun_domain::inventory::{InventoryRow, StockKey, StockOperation, went_low};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{InventoryStore, ProductReads, VendorReads};
use milkrun_domain::vendor::Vendor;
use milkrun_domain::{DomainError, Effects, StoreError};
use milkrun_platform::Adapters;
use uuid::Uuid;

const ENTITY: &str = "INVENTORY";

#[derive(Clone)]
pub struct InventoryService {
    stock: Arc<dyn InventoryStore>,
    products: Arc<dyn ProductReads>,
    vendors: Arc<dyn VendorReads>,
}

/// The audit trail's name for one stock row.
pub fn row_entity_id(key: &StockKey) -> String {
    format!("{}:{}:{}", key.vendor_id, key.product_id, key.variant_id)
}

/// Where a page of a vendor's rows resumes: after this (product, variant).
fn row_cursor(row: &InventoryRow) -> String {
    format!("{}:{}", row.product_id, row.variant_id)
}

fn parse_row_cursor(cursor: &str) -> Result<(Uuid, Uuid), StoreError> {
    let (product, variant) = cursor.split_once(':').ok_or(StoreError::InvalidCursor)?;
    let parse = |raw: &str| Uuid::parse_str(raw).map_err(|_| StoreError::InvalidCursor);
    Ok((parse(product)?, parse(variant)?))
}

/// A stock change's effects: its audit entry (operation, quantity, stock before and after)
/// and LOW_STOCK on inventory-events when it took the row under its threshold.
fn stock_effects(
    actor: &AuditContext,
    operation: StockOperation,
    before: Option<&InventoryRow>,
    after: &InventoryRow,
) -> Effects {
    let entry = actor
        .entry("STOCK_ADJUSTED", ENTITY, row_entity_id(&after.key()))
        .with_changes(operation.audit_changes(before, after));
    let effects = Effects::audited(entry);
    if went_low(before, after) {
        effects.with_event(&LowStock::from(after), &actor.correlation_id)
    } else {
        effects
    }
}

impl InventoryService {
    pub fn new(
        stock: Arc<dyn InventoryStore>,
        products: Arc<dyn ProductReads>,
        vendors: Arc<dyn VendorReads>,
    ) -> Self {
        Self {
            stock,
            products,
            vendors,
        }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        let stores = &adapters.stores;
        Self::new(
            stores.stock.clone(),
            stores.products.clone(),
            stores.vendors.clone(),
        )
    }

    async fn require_vendor(&self, vendor_id: Uuid) -> Result<Vendor, DomainError> {
        self.vendors
            .get(vendor_id)
            .await?
            .ok_or(DomainError::NotFound("vendor"))
    }

    /// One vendor's rows by product and variant, a page at a time.
    pub async fn list(
        &self,
        vendor_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<InventoryRow>, DomainError> {
        self.require_vendor(vendor_id).await?;
        let after = page.cursor.as_deref().map(parse_row_cursor).transpose()?;
        let mut rows = self.stock.for_vendor(vendor_id).await?;
        rows.sort_by_key(|r| (r.product_id, r.variant_id));
        let mut rows: Vec<InventoryRow> = rows
            .into_iter()
            .filter(|r| after.is_none_or(|after| (r.product_id, r.variant_id) > after))
            .collect();
        let limit = page.limit as usize;
        let next_cursor = (rows.len() > limit).then(|| row_cursor(&rows[limit - 1]));
        rows.truncate(limit);
        Ok(Page {
            items: rows,
            next_cursor,
        })
    }

    /// Applies `operation` to one row with a compare-and-swap, saved with its audit entry
    /// (and LOW_STOCK, on crossing the threshold). The vendor, the product and its variant
    /// must exist and the product must list the vendor as a seller.
    pub async fn adjust(
        &self,
        key: StockKey,
        operation: StockOperation,
        threshold: Option<u32>,
        actor: &AuditContext,
    ) -> Result<InventoryRow, DomainError> {
        if !self.require_vendor(key.vendor_id).await?.is_active {
            return Err(DomainError::conflict(
                "This vendor is deactivated: its stock cannot change.",
            ));
        }
        let product = self
            .products
            .get(key.product_id)
            .await?
            .ok_or(DomainError::NotFound("product"))?;
        if !product
            .variants
            .iter()
            .any(|v| v.variant_id == key.variant_id)
        {
            return Err(DomainError::NotFound("variant"));
        }
        if !product.vendor_ids.contains(&key.vendor_id) {
            return Err(DomainError::conflict(
                "This vendor does not sell this product; add it to the product's vendorIds first.",
            ));
        }
        let effects = |before: Option<&InventoryRow>, after: &InventoryRow| {
            stock_effects(actor, operation, before, after)
        };
        match self
            .stock
            .adjust(&key, operation, threshold, &effects)
            .await
        {
            Err(StoreError::InsufficientStock) => Err(DomainError::conflict(
                "Not enough stock: SUBTRACT would take it below zero. Nothing was changed.",
            )),
            Err(StoreError::VersionConflict) => Err(DomainError::conflict(
                "The stock row was changed concurrently; try again.",
            )),
            other => Ok(other?),
        }
    }
}

//! The product service's use cases, free of HTTP.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::Effects;
use milkrun_domain::audit::{AuditContext, changed_fields};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{ProductStore, StockLevels, VendorReads};
use milkrun_domain::product::{Product, ProductFilter, ProductInput, VariantAvailability};
use milkrun_domain::values::Pincode;
use milkrun_domain::{DomainError, ErrorCode};
use milkrun_platform::Adapters;
use milkrun_store::retry::retry_on_conflict;
use uuid::Uuid;

const ENTITY: &str = "PRODUCT";

/// A catalog query: the store's filter, plus the two criteria answered through vendors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductSearch {
    pub filter: ProductFilter,
    pub vendor_id: Option<Uuid>,
    /// Sold by a vendor serving this pincode.
    pub pincode: Option<Pincode>,
}

impl ProductSearch {
    /// Names this exact listing, so a cursor is accepted back only with the same filters.
    pub fn scope(&self) -> String {
        format!(
            "products|{:?}|{:?}|{:?}",
            self.filter, self.vendor_id, self.pincode
        )
    }
}

#[derive(Clone)]
pub struct ProductService {
    products: Arc<dyn ProductStore>,
    vendors: Arc<dyn VendorReads>,
    stock: Arc<dyn StockLevels>,
}

fn audited(
    actor: &AuditContext,
    action: &str,
    before: Option<&Product>,
    after: &Product,
) -> Effects {
    let entry = actor.entry(action, ENTITY, after.product_id);
    Effects::audited(entry.with_changes(changed_fields(before, after)))
}

impl ProductService {
    pub fn new(
        products: Arc<dyn ProductStore>,
        vendors: Arc<dyn VendorReads>,
        stock: Arc<dyn StockLevels>,
    ) -> Self {
        Self {
            products,
            vendors,
            stock,
        }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        let stores = &adapters.stores;
        Self::new(
            stores.products.clone(),
            stores.vendors.clone(),
            stores.stock.clone(),
        )
    }

    /// Active products matching `search`, newest first. A pincode becomes the set of vendors
    /// serving it (one key lookup); no vendor there means an empty page without a scan.
    pub async fn list(
        &self,
        search: ProductSearch,
        page: &PageRequest,
    ) -> Result<Page<Product>, DomainError> {
        let mut filter = search.filter;
        if let Some(vendor_id) = search.vendor_id {
            // A deactivated vendor sells nothing: its products do not list under it.
            let active = self
                .vendors
                .get(vendor_id)
                .await?
                .is_some_and(|v| v.is_active);
            filter.vendor_ids = Some(if active {
                BTreeSet::from([vendor_id])
            } else {
                BTreeSet::new()
            });
        }
        if let Some(pincode) = &search.pincode {
            let serving: BTreeSet<Uuid> = self
                .vendors
                .serving(pincode)
                .await?
                .into_iter()
                .map(|v| v.vendor_id)
                .collect();
            filter.vendor_ids = Some(match filter.vendor_ids {
                Some(asked) => asked.intersection(&serving).copied().collect(),
                None => serving,
            });
        }
        if filter.vendor_ids.as_ref().is_some_and(BTreeSet::is_empty) {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        Ok(self.products.list(&filter, page).await?)
    }

    pub async fn get(&self, product_id: Uuid) -> Result<Product, DomainError> {
        // Deactivated ones are gone from the API; their data stays for history and audit.
        self.products
            .get(product_id)
            .await?
            .filter(|p| p.is_active)
            .ok_or(DomainError::NotFound("product"))
    }

    /// The product with its availability per variant: the stock of its active vendors,
    /// read in one batch (and the vendors in another).
    pub async fn get_with_availability(
        &self,
        product_id: Uuid,
    ) -> Result<(Product, Vec<VariantAvailability>), DomainError> {
        let product = self.get(product_id).await?;
        let (vendors, rows) = futures::future::try_join(
            self.vendors.get_many(&product.vendor_ids),
            self.stock.get_many(&product.stock_keys()),
        )
        .await?;
        let active: BTreeSet<Uuid> = vendors
            .iter()
            .filter(|v| v.is_active)
            .map(|v| v.vendor_id)
            .collect();
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|row| active.contains(&row.vendor_id))
            .collect();
        let availability = product.availability(&rows);
        Ok((product, availability))
    }

    pub async fn create(
        &self,
        input: ProductInput,
        actor: &AuditContext,
    ) -> Result<Product, DomainError> {
        let product = input.create(actor_id(actor)?, Utc::now())?;
        self.require_vendors(&product.vendor_ids).await?;
        let effects = audited(actor, "PRODUCT_CREATED", None, &product);
        self.products.create(&product, &effects).await?;
        tracing::info!(product_id = %product.product_id, "product created");
        Ok(product)
    }

    pub async fn update(
        &self,
        product_id: Uuid,
        input: ProductInput,
        actor: &AuditContext,
    ) -> Result<Product, DomainError> {
        self.modify(product_id, input, "PRODUCT_UPDATED", actor)
            .await
    }

    /// Deactivation hides the product from listings; it stays readable by id.
    pub async fn deactivate(
        &self,
        product_id: Uuid,
        actor: &AuditContext,
    ) -> Result<Product, DomainError> {
        let input = ProductInput {
            is_active: Some(false),
            ..ProductInput::default()
        };
        self.modify(product_id, input, "PRODUCT_DEACTIVATED", actor)
            .await
    }

    async fn modify(
        &self,
        product_id: Uuid,
        input: ProductInput,
        action: &str,
        actor: &AuditContext,
    ) -> Result<Product, DomainError> {
        let by = actor_id(actor)?;
        if let Some(ids) = &input.vendor_ids {
            self.require_vendors(ids).await?;
        }
        retry_on_conflict("product", || async {
            let before = self.get(product_id).await?;
            let after = input.clone().apply_to(before.clone(), by, Utc::now())?;
            let effects = audited(actor, action, Some(&before), &after);
            Ok(self.products.update(after, &effects).await?)
        })
        .await
    }

    /// 404 naming the unknown ones unless every id is an active vendor (one batched read).
    async fn require_vendors(&self, ids: &[Uuid]) -> Result<(), DomainError> {
        let unique: BTreeSet<Uuid> = ids.iter().copied().collect();
        let ids: Vec<Uuid> = unique.iter().copied().collect();
        let found: BTreeSet<Uuid> = self
            .vendors
            .get_many(&ids)
            .await?
            .into_iter()
            .filter(|v| v.is_active)
            .map(|v| v.vendor_id)
            .collect();
        let unknown: Vec<String> = unique.difference(&found).map(Uuid::to_string).collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(DomainError::refused(
                ErrorCode::NotFound,
                format!("No vendor has these vendorIds: {}.", unknown.join(", ")),
            ))
        }
    }
}

/// Products record who created and last changed them; only signed-in admins write.
fn actor_id(actor: &AuditContext) -> Result<Uuid, DomainError> {
    actor.user_id.ok_or(DomainError::Unauthorized)
}

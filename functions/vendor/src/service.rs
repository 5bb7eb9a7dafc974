//! The vendor service's use cases, free of HTTP. Each change is saved with its audit entry
//! in one write.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::audit::{AuditContext, changed_fields};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::VendorStore;
use milkrun_domain::values::Pincode;
use milkrun_domain::vendor::{Vendor, VendorInput};
use milkrun_domain::{DomainError, Effects};
use milkrun_platform::Adapters;
use milkrun_store::retry::retry_on_conflict;
use uuid::Uuid;

const ENTITY: &str = "VENDOR";

#[derive(Clone)]
pub struct VendorService {
    store: Arc<dyn VendorStore>,
}

fn audited(actor: &AuditContext, action: &str, before: Option<&Vendor>, after: &Vendor) -> Effects {
    let entry = actor.entry(action, ENTITY, after.vendor_id);
    Effects::audited(entry.with_changes(changed_fields(before, after)))
}

impl VendorService {
    pub fn new(store: Arc<dyn VendorStore>) -> Self {
        Self { store }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self::new(adapters.stores.vendors.clone())
    }

    pub async fn create(
        &self,
        input: VendorInput,
        actor: &AuditContext,
    ) -> Result<Vendor, DomainError> {
        let vendor = input.create(Utc::now())?;
        let effects = audited(actor, "VENDOR_CREATED", None, &vendor);
        self.store.create(&vendor, &effects).await?;
        tracing::info!(vendor_id = %vendor.vendor_id, "vendor created");
        Ok(vendor)
    }

    pub async fn get(&self, vendor_id: Uuid) -> Result<Vendor, DomainError> {
        // Deactivated ones are gone from the API; their data stays for history and audit.
        self.store
            .get(vendor_id)
            .await?
            .filter(|v| v.is_active)
            .ok_or(DomainError::NotFound("vendor"))
    }

    /// Active vendors: those serving `pincode` (one key lookup), or all of them, newest first.
    pub async fn list(
        &self,
        pincode: Option<Pincode>,
        page: &PageRequest,
    ) -> Result<Page<Vendor>, DomainError> {
        match pincode {
            Some(pincode) => Ok(Page {
                items: self.store.serving(&pincode).await?,
                next_cursor: None,
            }),
            None => Ok(self.store.list_active(page).await?),
        }
    }

    pub async fn update(
        &self,
        vendor_id: Uuid,
        input: VendorInput,
        actor: &AuditContext,
    ) -> Result<Vendor, DomainError> {
        self.modify(vendor_id, input, "VENDOR_UPDATED", actor).await
    }

    /// Deactivation hides the vendor from listings and pincode lookups; it stays readable.
    pub async fn deactivate(
        &self,
        vendor_id: Uuid,
        actor: &AuditContext,
    ) -> Result<Vendor, DomainError> {
        let input = VendorInput {
            is_active: Some(false),
            ..VendorInput::default()
        };
        self.modify(vendor_id, input, "VENDOR_DEACTIVATED", actor)
            .await
    }

    async fn modify(
        &self,
        vendor_id: Uuid,
        input: VendorInput,
        action: &str,
        actor: &AuditContext,
    ) -> Result<Vendor, DomainError> {
        retry_on_conflict("vendor", || async {
            let before = self.get(vendor_id).await?;
            let after = input.clone().apply_to(before.clone(), Utc::now())?;
            let effects = audited(actor, action, Some(&before), &after);
            Ok(self.store.update(&before, after, &effects).await?)
        })
        .await
    }
}

//! The vendor service's use cases, free of HTTP.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::DomainError;
use milkrun_domain::audit::{AuditContext, AuditTrail};
use milkrun_domain::concurrency::update_with_retry;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::VendorStore;
use milkrun_domain::values::Pincode;
use milkrun_domain::vendor::{Vendor, VendorInput};
use uuid::Uuid;

const ENTITY: &str = "VENDOR";

#[derive(Clone)]
pub struct VendorService {
    store: Arc<dyn VendorStore>,
    audit: AuditTrail,
}

impl VendorService {
    pub fn new(store: Arc<dyn VendorStore>, audit: AuditTrail) -> Self {
        Self { store, audit }
    }

    pub async fn create(
        &self,
        input: VendorInput,
        actor: &AuditContext,
    ) -> Result<Vendor, DomainError> {
        let vendor = input.create(Utc::now())?;
        self.store.create(&vendor).await?;
        self.audit
            .record(actor, "VENDOR_CREATED", ENTITY, vendor.vendor_id)
            .await;
        tracing::info!(vendor_id = %vendor.vendor_id, "vendor created");
        Ok(vendor)
    }

    pub async fn get(&self, vendor_id: Uuid) -> Result<Vendor, DomainError> {
        self.store
            .get(vendor_id)
            .await?
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
        let saved = update_with_retry(
            "vendor",
            || self.get(vendor_id),
            |vendor| input.clone().apply_to(vendor, Utc::now()),
            |vendor| self.store.update(vendor),
        )
        .await?;
        self.audit.record(actor, action, ENTITY, vendor_id).await;
        Ok(saved)
    }
}

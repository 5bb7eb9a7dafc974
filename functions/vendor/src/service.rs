//! The vendor service's use cases, free of HTTP.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::VendorStore;
use milkrun_domain::values::Pincode;
use milkrun_domain::vendor::{Vendor, VendorInput};
use milkrun_domain::{DomainError, StoreError};
use uuid::Uuid;

const MAX_UPDATE_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct VendorService {
    store: Arc<dyn VendorStore>,
}

impl VendorService {
    pub fn new(store: Arc<dyn VendorStore>) -> Self {
        Self { store }
    }

    pub async fn create(&self, input: VendorInput) -> Result<Vendor, DomainError> {
        let vendor = input.create(Utc::now())?;
        self.store.create(&vendor).await?;
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

    pub async fn update(&self, vendor_id: Uuid, input: VendorInput) -> Result<Vendor, DomainError> {
        self.modify(vendor_id, |vendor| {
            input.clone().apply_to(vendor, Utc::now())
        })
        .await
    }

    /// Deactivation hides the vendor from listings and pincode lookups; it stays readable.
    pub async fn deactivate(&self, vendor_id: Uuid) -> Result<Vendor, DomainError> {
        let input = VendorInput {
            is_active: Some(false),
            ..VendorInput::default()
        };
        self.modify(vendor_id, |vendor| {
            input.clone().apply_to(vendor, Utc::now())
        })
        .await
    }

    /// Read-modify-write conditional on the version read, retried after a lost race.
    async fn modify(
        &self,
        vendor_id: Uuid,
        change: impl Fn(Vendor) -> Result<Vendor, DomainError>,
    ) -> Result<Vendor, DomainError> {
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let changed = change(self.get(vendor_id).await?)?;
            match self.store.update(changed).await {
                Ok(saved) => return Ok(saved),
                Err(StoreError::VersionConflict) => continue,
                Err(StoreError::NotFound) => return Err(DomainError::NotFound("vendor")),
                Err(other) => return Err(other.into()),
            }
        }
        Err(DomainError::Conflict(
            "The vendor was changed concurrently; try again.",
        ))
    }
}

//! A vendor's settlement for a month (SPEC §6): its rounds of every day of the month (two
//! `ByRound` partitions a day, never another vendor's or the table) and, in batches, the
//! orders its delivered deliveries belong to.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use milkrun_domain::DomainError;
use milkrun_domain::delivery::DeliveryStatus;
use milkrun_domain::ports::{ReportSources, VendorReads};
use milkrun_domain::report::{Month, Settlement};
use uuid::Uuid;

#[derive(Clone)]
pub struct SettlementService {
    pub sources: Arc<dyn ReportSources>,
    pub vendors: Arc<dyn VendorReads>,
    pub commission_bps: u32,
}

impl SettlementService {
    /// `vendor_id`'s settlement for `month`; an unknown vendor is 404.
    pub async fn settle(&self, vendor_id: Uuid, month: Month) -> Result<Settlement, DomainError> {
        if self.vendors.get(vendor_id).await?.is_none() {
            return Err(DomainError::NotFound("vendor"));
        }
        let dates: Vec<NaiveDate> = month.days().collect();
        let deliveries = self.sources.vendor_deliveries(vendor_id, &dates).await?;
        let order_ids: BTreeSet<Uuid> = deliveries
            .iter()
            .filter(|d| d.status == DeliveryStatus::Delivered)
            .map(|d| d.order_id)
            .collect();
        let order_ids: Vec<Uuid> = order_ids.into_iter().collect();
        let orders: HashMap<Uuid, _> = self
            .sources
            .orders(&order_ids)
            .await?
            .into_iter()
            .map(|order| (order.order_id, order))
            .collect();
        Ok(Settlement::compute(
            vendor_id,
            month,
            &deliveries,
            &orders,
            self.commission_bps,
        ))
    }
}

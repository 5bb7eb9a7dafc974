//! The daily reports over the item store: one `REPORT#<date>` item each in the reports
//! table, put without a condition so a rerun replaces it, committed with its audit entry and
//! DAILY_REPORT_READY. What a report and a settlement read comes from the orders' delivery
//! day index and the deliveries' round indexes ([`ReportSources`]), never a scan.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use milkrun_domain::delivery::Delivery;
use milkrun_domain::order::Order;
use milkrun_domain::ports::{DailyReports, ReportSources};
use milkrun_domain::report::DailyReport;
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::effects::{Refused, commit};
use crate::item::{decode, encode};
use crate::ops::{Key, Write};
use crate::port::ItemStore;
use crate::table::REPORTS;
use crate::{Deliveries, Orders};

pub struct Reports {
    store: Arc<dyn ItemStore>,
    orders: Orders,
    deliveries: Deliveries,
}

fn report_key(date: NaiveDate) -> Key {
    Key::partition(format!("REPORT#{date}"))
}

impl Reports {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self {
            orders: Orders::new(store.clone()),
            deliveries: Deliveries::new(store.clone()),
            store,
        }
    }
}

#[async_trait]
impl DailyReports for Reports {
    async fn save(&self, report: &DailyReport, effects: &Effects) -> Result<(), StoreError> {
        let mut item = encode(report)?;
        report_key(report.date).add_to(&REPORTS, &mut item);
        let put = Write::put(&REPORTS, item, None);
        match commit(self.store.as_ref(), vec![put], effects).await? {
            Ok(()) => Ok(()),
            // The put has no condition: only a replayed effect (the same run committed
            // before) is refused.
            Err(Refused::Change(_) | Refused::Effect) => Err(StoreError::AlreadyExists),
        }
    }

    async fn get(&self, date: NaiveDate) -> Result<Option<DailyReport>, StoreError> {
        let item = self.store.get(&REPORTS, &report_key(date), true).await?;
        item.map(decode).transpose()
    }
}

#[async_trait]
impl ReportSources for Reports {
    async fn orders_of_day(&self, date: NaiveDate) -> Result<Vec<Order>, StoreError> {
        self.orders.for_delivery_day(date).await
    }

    async fn deliveries_of_day(&self, date: NaiveDate) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries.for_day(date).await
    }

    async fn vendor_deliveries(
        &self,
        vendor_id: Uuid,
        dates: &[NaiveDate],
    ) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries.for_vendor_on(vendor_id, dates).await
    }

    async fn orders(&self, order_ids: &[Uuid]) -> Result<Vec<Order>, StoreError> {
        self.orders.get_many(order_ids).await
    }
}

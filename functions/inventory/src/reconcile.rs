//! The stock reconcile job: one admin alert for every row under its threshold. Run daily by
//! EventBridge in AWS and by `milkrun job reconcile-stock` locally, with the same code.
//! Each alert goes through the outbox like every event; if any could not be committed the
//! run fails (after trying every row), so the schedule's retries and alarms see it.

use milkrun_domain::events::{EventEnvelope, LowStock, Topic};
use milkrun_domain::ports::{Journal, StockLevels};
use milkrun_domain::{DomainError, Effects};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    pub rows_below_threshold: usize,
    pub alerts_published: usize,
    pub alerts_failed: usize,
}

/// Sweeps every row and commits a LOW_STOCK admin alert for each one under its threshold.
pub async fn reconcile_stock(
    stock: &dyn StockLevels,
    journal: &dyn Journal,
    correlation_id: &str,
) -> Result<ReconcileReport, DomainError> {
    let low = stock.below_threshold().await?;
    let mut report = ReconcileReport {
        rows_below_threshold: low.len(),
        alerts_published: 0,
        alerts_failed: 0,
    };
    for row in &low {
        let alert = EventEnvelope::new(&LowStock::from(row), correlation_id).on(Topic::AdminAlerts);
        match journal.commit(&Effects::none().with_envelope(alert)).await {
            Ok(()) => report.alerts_published += 1,
            Err(error) => {
                report.alerts_failed += 1;
                tracing::error!(error = %error, vendor_id = %row.vendor_id, product_id = %row.product_id,
                    variant_id = %row.variant_id, "low-stock alert not committed");
            }
        }
    }
    tracing::info!(
        rows_below_threshold = report.rows_below_threshold,
        alerts_published = report.alerts_published,
        alerts_failed = report.alerts_failed,
        "stock reconciled"
    );
    if report.alerts_failed > 0 {
        return Err(DomainError::Internal(format!(
            "{} of {} low-stock alerts could not be committed",
            report.alerts_failed, report.rows_below_threshold
        )));
    }
    Ok(report)
}

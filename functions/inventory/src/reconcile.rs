//! The stock reconcile job: one admin alert for every row under its threshold. Run daily by
//! EventBridge in AWS and by `milkrun job reconcile-stock` locally, with the same code.

use milkrun_domain::DomainError;
use milkrun_domain::events::{EventEnvelope, EventType, Topic};
use milkrun_domain::inventory::InventoryRow;
use milkrun_domain::ports::{EventPublisher, StockLevels};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    pub rows_below_threshold: usize,
    pub alerts_published: usize,
    pub alerts_failed: usize,
}

/// The LOW_STOCK event for `row`, in the same shape on inventory-events and admin-alerts.
pub fn low_stock_event(row: &InventoryRow, correlation_id: &str) -> EventEnvelope {
    EventEnvelope::new(
        EventType::LowStock,
        correlation_id,
        serde_json::json!({
            "vendorId": row.vendor_id,
            "productId": row.product_id,
            "variantId": row.variant_id,
            "stock": row.stock,
            "reserved": row.reserved,
            "lowStockThreshold": row.low_stock_threshold,
        }),
    )
}

/// Sweeps every row and publishes a LOW_STOCK admin alert for each one under its threshold.
/// A failed publish is counted and logged, and the sweep goes on to the next row.
pub async fn reconcile_stock(
    stock: &dyn StockLevels,
    events: &dyn EventPublisher,
    correlation_id: &str,
) -> Result<ReconcileReport, DomainError> {
    let low = stock.below_threshold().await?;
    let mut report = ReconcileReport {
        rows_below_threshold: low.len(),
        alerts_published: 0,
        alerts_failed: 0,
    };
    for row in &low {
        let alert = low_stock_event(row, correlation_id).on(Topic::AdminAlerts);
        match events.publish(&alert).await {
            Ok(()) => report.alerts_published += 1,
            Err(error) => {
                report.alerts_failed += 1;
                tracing::error!(error = %error, vendor_id = %row.vendor_id, product_id = %row.product_id,
                    variant_id = %row.variant_id, "low-stock alert not published");
            }
        }
    }
    tracing::info!(
        rows_below_threshold = report.rows_below_threshold,
        alerts_published = report.alerts_published,
        alerts_failed = report.alerts_failed,
        "stock reconciled"
    );
    Ok(report)
}

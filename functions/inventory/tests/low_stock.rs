//! What a black-box client cannot see: LOW_STOCK events when a change crosses a row's
//! threshold, and the reconcile job's admin alerts, over the embedded adapters.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::audit::{AuditContext, AuditTrail};
use milkrun_domain::events::{EventType, Topic};
use milkrun_domain::inventory::{StockKey, StockOperation};
use milkrun_domain::ports::{ProductWrites, StockAdjustments, VendorWrites};
use milkrun_domain::product::ProductInput;
use milkrun_domain::user::ClientOrigin;
use milkrun_domain::values::Role;
use milkrun_domain::vendor::VendorInput;
use milkrun_inventory::{InventoryService, reconcile_stock};
use milkrun_local::{
    Database, InProcessBus, SqliteAuditLog, SqliteInventory, SqliteProducts, SqliteVendors,
};
use serde_json::json;
use uuid::Uuid;

struct World {
    service: InventoryService,
    stock: Arc<SqliteInventory>,
    bus: InProcessBus,
    key: StockKey,
}

fn admin() -> AuditContext {
    AuditContext {
        user_id: Some(Uuid::now_v7()),
        role: Some(Role::Admin),
        origin: ClientOrigin {
            ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            region: None,
        },
        correlation_id: "corr-low-stock".into(),
    }
}

/// One vendor selling one single-variant product, with no stock yet.
async fn world() -> World {
    let db = Database::in_memory().unwrap();
    let vendors = Arc::new(SqliteVendors::new(db.clone()));
    let products = Arc::new(SqliteProducts::new(db.clone()));
    let stock = Arc::new(SqliteInventory::new(db.clone()));
    let vendor: VendorInput =
        serde_json::from_value(json!({"name": "Nandi", "email": "n@example.com",
        "phone": "+919845000101", "address": "Koramangala", "serviceAreas": ["560034"]}))
        .unwrap();
    let vendor = vendor.create(Utc::now()).unwrap();
    vendors.create(&vendor).await.unwrap();
    let product: ProductInput =
        serde_json::from_value(json!({"name": "Toned Milk", "category": "MILK",
        "variants": [{"name": "1L", "price": {"amount": 5400}}], "vendorIds": [vendor.vendor_id]}))
        .unwrap();
    let product = product.create(Uuid::now_v7(), Utc::now()).unwrap();
    products.create(&product).await.unwrap();
    let bus = InProcessBus::new();
    let audit = AuditTrail::new(Arc::new(SqliteAuditLog::new(db)));
    let service = InventoryService::new(
        stock.clone(),
        products,
        vendors,
        Arc::new(bus.clone()),
        audit,
    );
    let key = product.stock_keys()[0];
    World {
        service,
        stock,
        bus,
        key,
    }
}

fn low_stock_events(bus: &InProcessBus, topic: Topic) -> Vec<serde_json::Value> {
    bus.published()
        .into_iter()
        .filter(|e| e.event_type == EventType::LowStock && e.topic() == topic)
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn crossing_the_threshold_publishes_low_stock_once() {
    let w = world().await;
    let actor = admin();
    w.service
        .adjust(w.key, StockOperation::Add(12), Some(10), &actor)
        .await
        .unwrap();
    w.service
        .adjust(w.key, StockOperation::Subtract(2), None, &actor)
        .await
        .unwrap();
    assert!(
        low_stock_events(&w.bus, Topic::InventoryEvents).is_empty(),
        "10 is not under 10"
    );
    w.service
        .adjust(w.key, StockOperation::Subtract(1), None, &actor)
        .await
        .unwrap();
    w.service
        .adjust(w.key, StockOperation::Subtract(1), None, &actor)
        .await
        .unwrap();
    let events = low_stock_events(&w.bus, Topic::InventoryEvents);
    assert_eq!(
        events.len(),
        1,
        "9 crossed the threshold; 8 was already low"
    );
    assert_eq!(
        (
            events[0]["stock"].clone(),
            events[0]["lowStockThreshold"].clone()
        ),
        (json!(9), json!(10))
    );
    assert_eq!(events[0]["vendorId"], json!(w.key.vendor_id));
    let event = &w.bus.published()[0];
    assert_eq!(event.correlation_id, "corr-low-stock");
}

#[tokio::test]
async fn the_reconcile_alerts_admins_about_every_low_row() {
    let w = world().await;
    let actor = admin();
    w.service
        .adjust(w.key, StockOperation::Set(3), None, &actor)
        .await
        .unwrap();
    let healthy = StockKey {
        variant_id: Uuid::new_v4(),
        ..w.key
    };
    // Straight to the store: a row the service never announced.
    w.stock
        .adjust(&healthy, StockOperation::Set(50), None)
        .await
        .unwrap();
    let alerts = InProcessBus::new();
    let report = reconcile_stock(w.stock.as_ref(), &alerts, "corr-reconcile")
        .await
        .unwrap();
    assert_eq!(
        (
            report.rows_below_threshold,
            report.alerts_published,
            report.alerts_failed
        ),
        (1, 1, 0)
    );
    let sent = low_stock_events(&alerts, Topic::AdminAlerts);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["variantId"], json!(w.key.variant_id));
    assert!(low_stock_events(&alerts, Topic::InventoryEvents).is_empty());
}

//! What a black-box client cannot see: LOW_STOCK events when a change crosses a row's
//! threshold, committed to the outbox with the change, and the reconcile job's admin
//! alerts, over the embedded item store.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::Effects;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::events::{EventEnvelope, EventType, Topic};
use milkrun_domain::inventory::{StockKey, StockOperation};
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{
    AuditLog, PendingEvents, ProductWrites, StockAdjustments, StockLevels, VendorWrites,
};
use milkrun_domain::product::ProductInput;
use milkrun_domain::user::ClientOrigin;
use milkrun_domain::values::Role;
use milkrun_domain::vendor::VendorInput;
use milkrun_inventory::{InventoryService, reconcile_stock, service::row_entity_id};
use milkrun_local::{Database, SqliteItemStore};
use milkrun_store::Stores;
use serde_json::json;
use uuid::Uuid;

struct World {
    service: InventoryService,
    stores: Stores,
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
    let stores = Stores::over(Arc::new(SqliteItemStore::new(
        Database::in_memory().unwrap(),
    )));
    let none = Effects::none();
    let vendor: VendorInput =
        serde_json::from_value(json!({"name": "Nandi", "email": "n@example.com",
        "phone": "+919845000101", "address": "Koramangala", "serviceAreas": ["560034"]}))
        .unwrap();
    let vendor = vendor.create(Utc::now()).unwrap();
    stores.vendors.create(&vendor, &none).await.unwrap();
    let product: ProductInput =
        serde_json::from_value(json!({"name": "Toned Milk", "category": "MILK",
        "variants": [{"name": "1L", "price": {"amount": 5400}}], "vendorIds": [vendor.vendor_id]}))
        .unwrap();
    let product = product.create(Uuid::now_v7(), Utc::now()).unwrap();
    stores.products.create(&product, &none).await.unwrap();
    let service = InventoryService::new(
        stores.stock.clone(),
        stores.products.clone(),
        stores.vendors.clone(),
    );
    let key = product.stock_keys()[0];
    World {
        service,
        stores,
        key,
    }
}

/// The events committed so far, oldest first.
async fn committed(w: &World) -> Vec<EventEnvelope> {
    w.stores.outbox.pending(1000).await.unwrap()
}

async fn low_stock_events(w: &World, topic: Topic) -> Vec<serde_json::Value> {
    committed(w)
        .await
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
        low_stock_events(&w, Topic::InventoryEvents)
            .await
            .is_empty(),
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
    let events = low_stock_events(&w, Topic::InventoryEvents).await;
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
    let event = &committed(&w).await[0];
    assert_eq!(event.correlation_id, "corr-low-stock");
    let trail = w
        .stores
        .audit
        .for_entity(&row_entity_id(&w.key), &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(
        trail.len(),
        4,
        "one entry per change, in the change's own write"
    );
    assert_eq!(
        trail[0].changes,
        json!({"operation": "SUBTRACT", "quantity": 1, "stock": {"before": 9, "after": 8}}),
        "the newest entry says what changed"
    );
    assert_eq!(
        trail[3].changes["lowStockThreshold"],
        json!({"before": null, "after": 10})
    );
}

#[tokio::test]
async fn a_refused_change_commits_neither_audit_entry_nor_event() {
    let w = world().await;
    let actor = admin();
    let refused = w
        .service
        .adjust(w.key, StockOperation::Subtract(1), None, &actor)
        .await;
    assert_eq!(refused.unwrap_err().code().status(), 409);
    let over = w
        .service
        .adjust(w.key, StockOperation::Set(1_000_000), None, &actor)
        .await;
    assert!(over.is_ok());
    for _ in 0..999 {
        w.service
            .adjust(w.key, StockOperation::Add(1_000_000), None, &actor)
            .await
            .unwrap();
    }
    let past_the_maximum = w
        .service
        .adjust(w.key, StockOperation::Add(1), None, &actor)
        .await;
    assert_eq!(past_the_maximum.unwrap_err().code().status(), 409);
    let row = w.stores.stock.get(&w.key).await.unwrap().unwrap();
    assert_eq!(row.stock, 1_000_000_000, "the row is left as it was");
    let trail = w
        .stores
        .audit
        .for_entity(&row_entity_id(&w.key), &PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(
        trail.items.len(),
        100,
        "a page of the 1,000 successful changes"
    );
    assert!(
        committed(&w).await.is_empty(),
        "never under its threshold, no events"
    );
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
    w.stores
        .stock
        .adjust(&healthy, StockOperation::Set(50), None, &|_, _| {
            Effects::none()
        })
        .await
        .unwrap();
    let report = reconcile_stock(
        w.stores.stock.as_ref(),
        w.stores.audit.as_ref(),
        "corr-reconcile",
    )
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
    let sent = low_stock_events(&w, Topic::AdminAlerts).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["variantId"], json!(w.key.variant_id));
    let announced = low_stock_events(&w, Topic::InventoryEvents).await;
    assert_eq!(
        announced.len(),
        1,
        "only the service's own LOW_STOCK on crossing"
    );
}

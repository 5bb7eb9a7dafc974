//! A data folder written by the first release (schema 0, one table per entity) opens and is
//! migrated into the item tables, with nothing lost; opening it again changes nothing.

use std::path::Path;

use milkrun_auth::PasswordHasher;
use milkrun_domain::Effects;
use milkrun_domain::inventory::{ReservationStatus, StockKey};
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{
    AuditLog, ProductReads, StockLevels, StockReservations, UserDirectory, UserLookup, VendorReads,
};
use milkrun_domain::product::ProductFilter;
use milkrun_domain::values::{Email, Pincode, Role};
use milkrun_local::LocalHost;
use milkrun_local::db::SCHEMA_VERSION;
use milkrun_platform::Settings;
use uuid::Uuid;

const FIXTURE: &str = include_str!("fixtures/release-1.sql");

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap()
}

/// A data folder holding the first release's database.
fn first_release_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("milkrun.db")).unwrap();
    // The dump lists tables alphabetically: areas before the vendors they reference.
    db.execute_batch("PRAGMA foreign_keys = OFF;").unwrap();
    db.execute_batch(FIXTURE).unwrap();
    dir
}

async fn open(dir: &Path) -> LocalHost {
    LocalHost::open(dir, Settings::default()).await.unwrap()
}

#[tokio::test]
async fn a_first_release_folder_is_migrated_with_nothing_lost_and_opens_again_unchanged() {
    let dir = first_release_folder();
    let host = open(dir.path()).await;
    assert_eq!(host.db.schema_version().await.unwrap(), SCHEMA_VERSION);
    let left: Vec<String> = host
        .db
        .call(|conn| {
            let mut statement = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'items_%'")
                .unwrap();
            Ok::<_, milkrun_domain::StoreError>(statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect())
        })
        .await
        .unwrap();
    assert!(left.is_empty(), "the old tables are gone: {left:?}");
    let stores = &host.adapters.stores;

    let customer = stores
        .users
        .by_email(&Email::parse("old.timer@example.com").unwrap())
        .await
        .unwrap()
        .expect("the customer");
    assert_eq!(customer.addresses.len(), 1);
    assert!(customer.is_profile_complete);
    assert!(
        PasswordHasher::new().verify("correct horse battery", &customer.password_hash),
        "the password still works"
    );
    let admin = stores
        .users
        .by_email(&Email::parse("admin@old.test").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(
        stores
            .users
            .list(&PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    let active = stores
        .vendors
        .list_active(&PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(active.len(), 3, "the deactivated vendor is not listed");
    let gone = stores
        .vendors
        .get(uuid("071eefee-6515-568b-a88d-cf07a8d6373f"))
        .await
        .unwrap()
        .unwrap();
    assert!(!gone.is_active);
    for pincode in &gone.service_areas {
        let serving = stores.vendors.serving(pincode).await.unwrap();
        assert!(
            serving.iter().all(|v| v.vendor_id != gone.vendor_id),
            "nor found by pincode"
        );
    }
    assert!(
        !stores
            .vendors
            .serving(&Pincode::parse("560034").unwrap())
            .await
            .unwrap()
            .is_empty()
    );

    let products = stores
        .products
        .list(&ProductFilter::default(), &PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(products.items.len(), 12);

    let key = StockKey {
        vendor_id: gone.vendor_id,
        product_id: uuid("49347228-8f14-5349-a5c5-c3996515a50e"),
        variant_id: uuid("bd7a1476-60e4-54a7-9c3c-ed3351f52d74"),
    };
    let row = stores.stock.get(&key).await.unwrap().unwrap();
    assert_eq!((row.stock, row.reserved), (132, 2));
    let order = uuid("0193c0de-0000-7000-8000-00000000a11c");
    let released = stores
        .stock
        .release(order, &|_: &_| Effects::none())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        released.status,
        ReservationStatus::Released,
        "the reservation moved too, and still works"
    );
    let row = stores.stock.get(&key).await.unwrap().unwrap();
    assert_eq!((row.stock, row.reserved), (134, 0));

    let entity = format!("{}:{}:{}", key.vendor_id, key.product_id, key.variant_id);
    let trail = stores
        .audit
        .for_entity(&entity, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(
        trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["STOCK_ADJUSTED"]
    );
    let customer_trail = stores
        .audit
        .for_entity(&customer.user_id.to_string(), &PageRequest::first(10))
        .await
        .unwrap();
    assert!(
        customer_trail.items.len() >= 3,
        "registration, login, address"
    );

    drop(host);
    let again = open(dir.path()).await;
    let users = again
        .adapters
        .stores
        .users
        .list(&PageRequest::first(10))
        .await;
    assert_eq!(
        users.unwrap().items.len(),
        2,
        "opening the migrated folder again changes nothing"
    );
}

#[tokio::test]
async fn a_folder_from_a_newer_release_is_refused_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("milkrun.db")).unwrap();
    db.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(db);
    let refused = LocalHost::open(dir.path(), Settings::default()).await;
    assert!(refused.is_err());
}

//! The `VendorStore` contract.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::VendorStore;
use milkrun_domain::values::Pincode;
use milkrun_domain::vendor::{Vendor, VendorInput};
use uuid::Uuid;

use crate::none;

/// A pincode no other test uses (random, 6 digits, not starting with 0).
pub fn fresh_pincode() -> Pincode {
    let n = 100_000 + (Uuid::new_v4().as_u128() % 900_000) as u32;
    Pincode::parse(&n.to_string()).unwrap()
}

pub fn sample_vendor(areas: &[&Pincode]) -> Vendor {
    let input: VendorInput = serde_json::from_value(serde_json::json!({
        "name": "Contract Dairy", "email": "dairy@contract.test", "phone": "9876543210", "address": "1 Milk Lane",
        "serviceAreas": areas.iter().map(|p| p.as_str()).collect::<Vec<_>>(), "rating": 4.2, "capacity": {"dailyOrderLimit": 50},
    }))
    .unwrap();
    input.create(Utc::now()).unwrap()
}

fn ids(vendors: &[Vendor]) -> HashSet<Uuid> {
    vendors.iter().map(|v| v.vendor_id).collect()
}

pub async fn create_then_read_back(store: Arc<dyn VendorStore>) {
    let vendor = sample_vendor(&[&fresh_pincode()]);
    store.create(&vendor, &none()).await.unwrap();
    assert_eq!(
        store.get(vendor.vendor_id).await.unwrap(),
        Some(vendor.clone())
    );
    assert_eq!(store.get(Uuid::new_v4()).await.unwrap(), None);
    assert!(matches!(
        store.create(&vendor, &none()).await,
        Err(StoreError::AlreadyExists)
    ));
}

pub async fn vendors_are_found_by_each_pincode_they_serve(store: Arc<dyn VendorStore>) {
    let (a, b, c) = (fresh_pincode(), fresh_pincode(), fresh_pincode());
    let first = sample_vendor(&[&a, &b]);
    let second = sample_vendor(&[&b]);
    store.create(&first, &none()).await.unwrap();
    store.create(&second, &none()).await.unwrap();
    assert_eq!(
        ids(&store.serving(&a).await.unwrap()),
        HashSet::from([first.vendor_id])
    );
    assert_eq!(
        ids(&store.serving(&b).await.unwrap()),
        HashSet::from([first.vendor_id, second.vendor_id])
    );
    assert!(store.serving(&c).await.unwrap().is_empty());
    assert_eq!(
        store.serving(&a).await.unwrap()[0],
        first,
        "the whole vendor, current"
    );
}

pub async fn updates_reindex_areas_and_stale_writes_conflict(store: Arc<dyn VendorStore>) {
    let (old, new) = (fresh_pincode(), fresh_pincode());
    let vendor = sample_vendor(&[&old]);
    store.create(&vendor, &none()).await.unwrap();
    let mut moved = vendor.clone();
    moved.service_areas = vec![new.clone()];
    moved.rating = 3.5;
    let saved = store.update(&vendor, moved, &none()).await.unwrap();
    assert_eq!(saved.version, vendor.version + 1);
    assert!(
        store.serving(&old).await.unwrap().is_empty(),
        "a dropped pincode no longer finds it"
    );
    assert_eq!(store.serving(&new).await.unwrap(), vec![saved.clone()]);
    assert!(matches!(
        store.update(&vendor, vendor.clone(), &none()).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(store.get(vendor.vendor_id).await.unwrap(), Some(saved));
    assert!(matches!(
        {
            let ghost = sample_vendor(&[&new]);
            store.update(&ghost, ghost.clone(), &none()).await
        },
        Err(StoreError::NotFound)
    ));
}

pub async fn deactivated_vendors_are_hidden_from_pincode_and_listing(store: Arc<dyn VendorStore>) {
    let area = fresh_pincode();
    let mut vendor = sample_vendor(&[&area]);
    vendor.created_at = Utc::now() + Duration::days(3650);
    store.create(&vendor, &none()).await.unwrap();
    let first_page = store.list_active(&PageRequest::first(5)).await.unwrap();
    assert_eq!(
        first_page.items.first().map(|v| v.vendor_id),
        Some(vendor.vendor_id),
        "newest first"
    );
    let mut inactive = vendor.clone();
    inactive.is_active = false;
    let saved = store.update(&vendor, inactive, &none()).await.unwrap();
    assert!(store.serving(&area).await.unwrap().is_empty());
    let listed = store.list_active(&PageRequest::first(100)).await.unwrap();
    assert!(!ids(&listed.items).contains(&vendor.vendor_id));
    assert_eq!(
        store.get(vendor.vendor_id).await.unwrap(),
        Some(saved),
        "still readable by id"
    );
}

pub async fn listing_pages_without_repeats_and_refuses_garbage_cursors(
    store: Arc<dyn VendorStore>,
) {
    for _ in 0..3 {
        store
            .create(&sample_vendor(&[&fresh_pincode()]), &none())
            .await
            .unwrap();
    }
    let (mut seen, mut page) = (HashSet::new(), PageRequest::first(2));
    loop {
        let result = store.list_active(&page).await.unwrap();
        assert!(result.items.len() <= 2);
        for vendor in result.items {
            assert!(seen.insert(vendor.vendor_id), "listed twice");
        }
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    assert!(seen.len() >= 3);
    let garbage = PageRequest {
        limit: 2,
        cursor: Some("garbage".into()),
    };
    assert!(matches!(
        store.list_active(&garbage).await,
        Err(StoreError::InvalidCursor)
    ));
}

#[macro_export]
macro_rules! vendor_store_contract {
    ($make:expr) => {
        $crate::vendor_store_contract!(@cases $make;
            create_then_read_back,
            vendors_are_found_by_each_pincode_they_serve,
            updates_reindex_areas_and_stale_writes_conflict,
            deactivated_vendors_are_hidden_from_pincode_and_listing,
            listing_pages_without_repeats_and_refuses_garbage_cursors,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::vendors::$case(milkrun_store::Stores::over($make).vendors).await;
            }
        )+
    };
}

//! The `ProductStore` contract.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::StoreError;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::ProductStore;
use milkrun_domain::product::{Product, ProductFilter, ProductInput};
use milkrun_domain::values::Category;
use uuid::Uuid;

use crate::none;

/// A product sold by `vendor`, with a name carrying `tag` so filters can isolate it.
pub fn sample_product(tag: &str, category: &str, price: u64, vendor: Uuid) -> Product {
    let input: ProductInput = serde_json::from_value(serde_json::json!({
        "name": format!("Contract {tag} product"), "category": category,
        "variants": [{"name": "500ml", "price": {"amount": price}, "unit": "packet"}], "vendorIds": [vendor],
    }))
    .unwrap();
    input.create(Uuid::nil(), Utc::now()).unwrap()
}

fn by_vendor(vendor: Uuid) -> ProductFilter {
    ProductFilter {
        vendor_ids: Some(BTreeSet::from([vendor])),
        ..ProductFilter::default()
    }
}

async fn all_pages(store: &Arc<dyn ProductStore>, filter: &ProductFilter, limit: u32) -> Vec<Uuid> {
    let (mut ids, mut page) = (Vec::new(), PageRequest::first(limit));
    loop {
        let result = store.list(filter, &page).await.unwrap();
        assert!(result.items.len() <= limit as usize);
        assert!(
            result.items.iter().all(|p| filter.matches(p)),
            "every listed product matches"
        );
        ids.extend(result.items.iter().map(|p| p.product_id));
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return ids,
        }
    }
}

pub async fn create_read_and_versioned_update(store: Arc<dyn ProductStore>) {
    let product = sample_product("crud", "MILK", 2800, Uuid::new_v4());
    store.create(&product, &none()).await.unwrap();
    assert_eq!(
        store.get(product.product_id).await.unwrap(),
        Some(product.clone())
    );
    assert!(matches!(
        store.create(&product, &none()).await,
        Err(StoreError::AlreadyExists)
    ));
    let mut renamed = product.clone();
    renamed.name = "Renamed".into();
    let saved = store.update(renamed, &none()).await.unwrap();
    assert_eq!(saved.version, product.version + 1);
    assert!(matches!(
        store.update(product.clone(), &none()).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(store.get(product.product_id).await.unwrap(), Some(saved));
    assert!(matches!(
        store
            .update(sample_product("ghost", "MILK", 1, Uuid::new_v4()), &none())
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn listing_filters_and_pages_newest_first(store: Arc<dyn ProductStore>) {
    let vendor = Uuid::new_v4();
    let tag = Uuid::new_v4().simple().to_string();
    let mut created = Vec::new();
    for (category, price) in [
        ("MILK", 2800),
        ("CURD", 4500),
        ("MILK", 6000),
        ("GHEE", 60000),
        ("MILK", 3100),
    ] {
        let product = sample_product(&tag, category, price, vendor);
        store.create(&product, &none()).await.unwrap();
        created.push(product.product_id);
    }
    let newest_first: Vec<Uuid> = created.iter().rev().copied().collect();
    assert_eq!(all_pages(&store, &by_vendor(vendor), 2).await, newest_first);
    let milk = ProductFilter {
        category: Some(Category::Milk),
        ..by_vendor(vendor)
    };
    assert_eq!(
        all_pages(&store, &milk, 2).await,
        [created[4], created[2], created[0]]
    );
    let priced = ProductFilter {
        min_price: Some(3000),
        max_price: Some(5000),
        ..by_vendor(vendor)
    };
    assert_eq!(
        all_pages(&store, &priced, 10).await,
        [created[4], created[1]]
    );
    let named = ProductFilter {
        name_contains: Some(tag.clone()),
        ..ProductFilter::default()
    };
    assert_eq!(all_pages(&store, &named, 3).await.len(), 5);
    assert!(
        all_pages(&store, &by_vendor(Uuid::new_v4()), 5)
            .await
            .is_empty()
    );
}

pub async fn inactive_products_are_hidden_from_listings(store: Arc<dyn ProductStore>) {
    let vendor = Uuid::new_v4();
    let product = sample_product("hidden", "PANEER", 9000, vendor);
    store.create(&product, &none()).await.unwrap();
    let mut inactive = product.clone();
    inactive.is_active = false;
    store.update(inactive, &none()).await.unwrap();
    assert!(all_pages(&store, &by_vendor(vendor), 5).await.is_empty());
    assert!(
        !store
            .get(product.product_id)
            .await
            .unwrap()
            .unwrap()
            .is_active,
        "still readable by id"
    );
}

pub async fn garbage_cursors_are_refused(store: Arc<dyn ProductStore>) {
    for cursor in ["garbage", "W10", "eyJwayI6IngifQ"] {
        let page = PageRequest {
            limit: 5,
            cursor: Some(cursor.into()),
        };
        assert!(
            matches!(
                store.list(&ProductFilter::default(), &page).await,
                Err(StoreError::InvalidCursor)
            ),
            "{cursor}"
        );
    }
}

pub async fn a_batch_read_answers_the_products_that_exist(store: Arc<dyn ProductStore>) {
    let vendor = Uuid::new_v4();
    let (active, withdrawn) = (
        sample_product("batch-a", "MILK", 3000, vendor),
        sample_product("batch-b", "CURD", 4000, vendor),
    );
    store.create(&active, &none()).await.unwrap();
    store.create(&withdrawn, &none()).await.unwrap();
    let mut withdrawn = store.get(withdrawn.product_id).await.unwrap().unwrap();
    withdrawn.is_active = false;
    let withdrawn = store.update(withdrawn, &none()).await.unwrap();
    let asked = [active.product_id, Uuid::new_v4(), withdrawn.product_id];
    let mut found = store.get_many(&asked).await.unwrap();
    found.sort_by_key(|p| p.product_id);
    let mut expected = vec![active, withdrawn];
    expected.sort_by_key(|p| p.product_id);
    assert_eq!(
        found, expected,
        "inactive ones too; unknown ids are left out"
    );
    assert!(store.get_many(&[]).await.unwrap().is_empty());
}

#[macro_export]
macro_rules! product_store_contract {
    ($make:expr) => {
        $crate::product_store_contract!(@cases $make;
            create_read_and_versioned_update,
            listing_filters_and_pages_newest_first,
            inactive_products_are_hidden_from_listings,
            garbage_cursors_are_refused,
            a_batch_read_answers_the_products_that_exist,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::products::$case(milkrun_store::Stores::over($make).products).await;
            }
        )+
    };
}

//! What the subscription tests stand on: a dairy serving one pincode with a product in
//! stock, and a customer there with a complete profile, written straight into the stores.

use chrono::Utc;
use milkrun_domain::Effects;
use milkrun_domain::inventory::{InventoryRow, StockKey};
use milkrun_domain::money::Money;
use milkrun_domain::ports::{ProductWrites, UserRegistry, VendorWrites};
use milkrun_domain::product::{Product, Variant};
use milkrun_domain::values::{Category, Phone, Role};
use milkrun_domain::vendor::{CapacityInput, Vendor, VendorInput};
use milkrun_store::Stores;
use serde_json::json;
use uuid::Uuid;

pub const PINCODE: &str = "560034";

/// A vendor serving [`PINCODE`] (its cut-off `cutoff`, 21:00 if `None`) with a product of
/// two variants, 1L at ₹54 and 500ml at ₹28, 10,000 of each in stock.
pub async fn dairy(stores: &Stores, cutoff: Option<&str>) -> (Vendor, Product) {
    let vendor = VendorInput {
        name: Some("Nandi Dairy".into()),
        email: Some("orders@nandi.example".into()),
        phone: Some("+91 80 4000 1234".into()),
        address: Some("4 Dairy Circle".into()),
        service_areas: Some(vec![PINCODE.into()]),
        rating: Some(json!(4.5)),
        capacity: Some(CapacityInput {
            daily_order_limit: Some(json!(1000)),
        }),
        cutoff_time: cutoff.map(str::to_owned),
        ..Default::default()
    }
    .create(Utc::now())
    .unwrap();
    stores
        .vendors
        .create(&vendor, &Effects::none())
        .await
        .unwrap();
    let now = Utc::now();
    let variant = |name: &str, paise| Variant {
        variant_id: Uuid::now_v7(),
        name: name.into(),
        price: Money::inr(paise),
        unit: "packet".into(),
    };
    let product = Product {
        product_id: Uuid::now_v7(),
        name: "Toned milk".into(),
        category: Category::Milk,
        description: "Fresh toned milk".into(),
        variants: vec![variant("1L", 5_400), variant("500ml", 2_800)],
        vendor_ids: vec![vendor.vendor_id],
        image_url: None,
        is_active: true,
        created_at: now,
        updated_at: now,
        created_by: Uuid::now_v7(),
        updated_by: Uuid::now_v7(),
        version: 0,
    };
    stores
        .products
        .create(&product, &Effects::none())
        .await
        .unwrap();
    for v in &product.variants {
        let key = StockKey {
            vendor_id: vendor.vendor_id,
            product_id: product.product_id,
            variant_id: v.variant_id,
        };
        let row = InventoryRow {
            stock: 10_000,
            ..InventoryRow::empty(key, now)
        };
        stores
            .stock
            .save(None, &row, &Effects::none())
            .await
            .unwrap();
    }
    (vendor, product)
}

/// A customer with a phone and a `home` address in [`PINCODE`]: their id.
pub async fn customer(stores: &Stores, email: &str) -> Uuid {
    let mut user = milkrun_testkit::user(email, Role::Customer, Utc::now());
    user.phone = Some(Phone::parse("+919876543210").unwrap());
    user.put_address(milkrun_testkit::address(PINCODE)).unwrap();
    stores.users.create(&user, &Effects::none()).await.unwrap();
    user.user_id
}

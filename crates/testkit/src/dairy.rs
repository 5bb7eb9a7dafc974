//! A dairy and its customers written straight into the stores: a vendor serving a pincode
//! with a product in stock, and customers there with a complete profile.

use chrono::Utc;
use milkrun_domain::Effects;
use milkrun_domain::inventory::{InventoryRow, StockKey};
use milkrun_domain::ports::{ProductWrites, UserRegistry, VendorWrites};
use milkrun_domain::product::Product;
use milkrun_domain::values::{Phone, Role};
use milkrun_domain::vendor::{CapacityInput, Vendor, VendorInput};
use milkrun_store::Stores;
use serde_json::json;
use uuid::Uuid;

/// What a dairy is made of.
pub struct DairySpec<'a> {
    pub pincode: &'a str,
    /// The vendor's cut-off (`None`: 21:00).
    pub cutoff: Option<&'a str>,
    pub daily_order_limit: u32,
    /// Units in stock of each variant.
    pub stock: u32,
    /// `(name, paise)` of each variant.
    pub variants: &'a [(&'a str, u64)],
}

/// A vendor serving `spec.pincode` and its product, stored with the stock.
pub async fn dairy(stores: &Stores, spec: &DairySpec<'_>) -> (Vendor, Product) {
    let vendor = vendor(stores, spec).await;
    let product = crate::product(vec![vendor.vendor_id], spec.variants);
    stores
        .products
        .create(&product, &Effects::none())
        .await
        .unwrap();
    for variant in &product.variants {
        let key = StockKey {
            vendor_id: vendor.vendor_id,
            product_id: product.product_id,
            variant_id: variant.variant_id,
        };
        let row = InventoryRow {
            stock: spec.stock,
            ..InventoryRow::empty(key, Utc::now())
        };
        stores
            .stock
            .save(None, &row, &Effects::none())
            .await
            .unwrap();
    }
    (vendor, product)
}

/// The vendor of `spec` alone (serving its pincode, with its cut-off and daily limit),
/// stored, without a product or stock.
pub async fn vendor(stores: &Stores, spec: &DairySpec<'_>) -> Vendor {
    let vendor = VendorInput {
        name: Some("Nandi Dairy".into()),
        email: Some("orders@nandi.example".into()),
        phone: Some("+91 80 4000 1234".into()),
        address: Some("4 Dairy Circle".into()),
        service_areas: Some(vec![spec.pincode.into()]),
        rating: Some(json!(4.5)),
        capacity: Some(CapacityInput {
            daily_order_limit: Some(json!(spec.daily_order_limit)),
        }),
        cutoff_time: spec.cutoff.map(str::to_owned),
        ..Default::default()
    }
    .create(Utc::now())
    .unwrap();
    stores
        .vendors
        .create(&vendor, &Effects::none())
        .await
        .unwrap();
    vendor
}

/// A customer with a phone and a `home` address in `pincode`, stored: their id.
pub async fn customer(stores: &Stores, email: &str, pincode: &str) -> Uuid {
    let mut user = crate::user(email, Role::Customer, Utc::now());
    user.phone = Some(Phone::parse("+919876543210").unwrap());
    user.put_address(crate::address(pincode)).unwrap();
    stores.users.create(&user, &Effects::none()).await.unwrap();
    user.user_id
}

//! `milkrun serve --demo`: a realistic Bengaluru catalog — dairies across pincodes; milk,
//! curd, paneer, butter and ghee in variants; stock. Ids are derived from names, so loading
//! again finds everything in place and changes nothing (stock included): it loads once.

use chrono::Utc;
use milkrun_domain::inventory::{StockKey, StockOperation};
use milkrun_domain::money::MoneyInput;
use milkrun_domain::ports::{ProductWrites, StockAdjustments, VendorWrites};
use milkrun_domain::product::{ProductInput, VariantInput};
use milkrun_domain::vendor::{CapacityInput, VendorInput};
use milkrun_domain::{Effects, StoreError};
use milkrun_store::Stores;
use serde_json::json;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// (name, email, phone, address, pincodes served, rating, daily order limit)
type DemoVendor = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    f64,
    u32,
);

const VENDORS: [DemoVendor; 4] = [
    (
        "Nandi Dairy Farms",
        "orders@nandidairy.example",
        "+919845000101",
        "14 Hosur Road, Koramangala",
        &["560034", "560095", "560102", "560076"],
        4.6,
        400,
    ),
    (
        "Hebbal Gowshala Milk",
        "hello@hebbalgowshala.example",
        "+919845000202",
        "3 Bellary Road, Hebbal",
        &["560001", "560008", "560038", "560024"],
        4.3,
        250,
    ),
    (
        "Whitefield Fresh Dairy",
        "care@whitefieldfresh.example",
        "+919845000303",
        "88 ITPL Main Road, Whitefield",
        &["560066", "560037", "560048"],
        4.1,
        300,
    ),
    (
        "Jayanagar Milk Co-operative",
        "desk@jayanagarmilk.example",
        "+919845000404",
        "9th Block, Jayanagar",
        &["560041", "560011", "560070", "560076"],
        4.8,
        500,
    ),
];

/// (name, category, description, [(variant, paise, unit)], indexes into VENDORS)
type DemoProduct = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, u64, &'static str)],
    &'static [usize],
);

const PRODUCTS: [DemoProduct; 12] = [
    (
        "Toned Milk",
        "MILK",
        "Pasteurised toned milk, 3% fat, delivered before 7 am.",
        &[("500ml", 2800, "packet"), ("1L", 5400, "packet")],
        &[0, 1, 2, 3],
    ),
    (
        "Full Cream Milk",
        "MILK",
        "Rich full cream milk, 6% fat.",
        &[("500ml", 3400, "packet"), ("1L", 6600, "packet")],
        &[0, 1, 3],
    ),
    (
        "A2 Desi Cow Milk",
        "MILK",
        "Single-origin A2 milk from Hallikar cows, in glass bottles.",
        &[("500ml", 5000, "bottle"), ("1L", 9500, "bottle")],
        &[1, 2],
    ),
    (
        "Buffalo Milk",
        "MILK",
        "Creamy buffalo milk, ideal for coffee and sweets.",
        &[("1L", 8000, "packet")],
        &[3],
    ),
    (
        "Fresh Curd",
        "CURD",
        "Thick set curd made every evening.",
        &[
            ("200g", 2000, "cup"),
            ("400g", 3800, "cup"),
            ("1kg", 9000, "bucket"),
        ],
        &[0, 1, 2, 3],
    ),
    (
        "Greek Yogurt",
        "CURD",
        "Strained high-protein yogurt.",
        &[("100g", 4500, "cup"), ("400g", 16000, "tub")],
        &[2],
    ),
    (
        "Malai Paneer",
        "PANEER",
        "Soft paneer from whole milk, made fresh daily.",
        &[("200g", 9000, "pack"), ("500g", 21000, "pack")],
        &[0, 3],
    ),
    (
        "Salted Butter",
        "BUTTER",
        "Table butter, lightly salted.",
        &[("100g", 5600, "pack"), ("500g", 27000, "pack")],
        &[0, 1, 2],
    ),
    (
        "White Butter",
        "BUTTER",
        "Unsalted hand-churned makkhan.",
        &[("200g", 12000, "tub")],
        &[3],
    ),
    (
        "Cow Ghee",
        "GHEE",
        "Slow-cooked cow ghee with a grainy texture.",
        &[
            ("200ml", 15000, "jar"),
            ("500ml", 34000, "jar"),
            ("1L", 65000, "jar"),
        ],
        &[0, 1, 3],
    ),
    (
        "Buffalo Ghee",
        "GHEE",
        "Traditional buffalo ghee.",
        &[("500ml", 32000, "jar")],
        &[2],
    ),
    (
        "Masala Buttermilk",
        "OTHER",
        "Spiced chaas with ginger, curry leaves and coriander.",
        &[("200ml", 1500, "pouch"), ("1L", 5000, "bottle")],
        &[0, 1, 2, 3],
    ),
];

/// The demo's own namespace for name-derived ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6d69_6c6b_7275_6e00_0000_0000_0000_d3e0);

pub fn demo_id(kind: &str, name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}/{name}").as_bytes())
}

/// Loads whatever of the demo catalog is missing; returns how many products were new.
pub async fn load(stores: &Stores) -> Result<usize, BoxError> {
    let vendor_ids: Vec<Uuid> = VENDORS.iter().map(|v| demo_id("vendor", v.0)).collect();
    for vendor in VENDORS {
        create_vendor(stores, vendor).await?;
    }
    let mut created = 0;
    for (index, product) in PRODUCTS.iter().enumerate() {
        if create_product(stores, product, &vendor_ids, index).await? {
            created += 1;
        }
    }
    Ok(created)
}

async fn create_vendor(
    stores: &Stores,
    (name, email, phone, address, areas, rating, limit): DemoVendor,
) -> Result<(), BoxError> {
    let input = VendorInput {
        name: Some(name.into()),
        email: Some(email.into()),
        phone: Some(phone.into()),
        address: Some(address.into()),
        service_areas: Some(areas.iter().map(|p| p.to_string()).collect()),
        rating: Some(json!(rating)),
        capacity: Some(CapacityInput {
            daily_order_limit: Some(json!(limit)),
        }),
        cutoff_time: None,
        is_active: Some(true),
    };
    let mut vendor = input
        .create(Utc::now())
        .map_err(|e| format!("demo vendor {name}: {e:?}"))?;
    vendor.vendor_id = demo_id("vendor", name);
    ignore_existing(stores.vendors.create(&vendor, &Effects::none()).await)
}

/// Creates one product and, only when it is new, stocks it at each of its vendors.
async fn create_product(
    stores: &Stores,
    (name, category, description, variants, sellers): &DemoProduct,
    vendor_ids: &[Uuid],
    index: usize,
) -> Result<bool, BoxError> {
    let input = ProductInput {
        name: Some(name.to_string()),
        category: Some(category.to_string()),
        description: Some(description.to_string()),
        variants: Some(
            variants
                .iter()
                .map(|(variant, paise, unit)| VariantInput {
                    variant_id: None,
                    name: Some(variant.to_string()),
                    price: Some(MoneyInput {
                        amount: json!(paise),
                        currency: Some("INR".into()),
                    }),
                    unit: Some(unit.to_string()),
                })
                .collect(),
        ),
        vendor_ids: Some(sellers.iter().map(|i| vendor_ids[*i]).collect()),
        image_url: None,
        is_active: Some(true),
    };
    let admin = demo_id("user", "demo-loader");
    let mut product = input
        .create(admin, Utc::now())
        .map_err(|e| format!("demo product {name}: {e:?}"))?;
    product.product_id = demo_id("product", name);
    for variant in &mut product.variants {
        variant.variant_id = demo_id("variant", &format!("{name}/{}", variant.name));
    }
    match stores.products.create(&product, &Effects::none()).await {
        Err(StoreError::AlreadyExists) => return Ok(false),
        other => other?,
    }
    for (n, key) in product.stock_keys().into_iter().enumerate() {
        stock(stores, key, demo_stock(index, n)).await?;
    }
    Ok(true)
}

async fn stock(stores: &Stores, key: StockKey, units: u32) -> Result<(), BoxError> {
    stores
        .stock
        .adjust(&key, StockOperation::Set(units), None, &|_, _| {
            Effects::none()
        })
        .await?;
    Ok(())
}

/// Varied, repeatable stock levels; about one row in eight starts under the threshold of 10.
fn demo_stock(product: usize, row: usize) -> u32 {
    ((product * 37 + row * 53) % 140) as u32 + 2
}

fn ignore_existing(result: Result<(), StoreError>) -> Result<(), BoxError> {
    match result {
        Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

//! Products: a named dairy item in a category, sold in variants ("500ml", "1L") each with
//! its own price, by one or more vendors.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{DomainError, FieldErrors};
use crate::inventory::{InventoryRow, StockKey};
use crate::money::{Money, MoneyInput};
use crate::values::{Category, InvalidValue, bounded_text, optional_text, parse_https_url};

pub const MAX_VARIANTS: usize = 20;
pub const MAX_VENDORS_PER_PRODUCT: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    pub variant_id: Uuid,
    /// "500ml", "1L", "200g".
    pub name: String,
    pub price: Money,
    /// "packet", "jar", "kg".
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub product_id: Uuid,
    pub name: String,
    pub category: Category,
    pub description: String,
    pub variants: Vec<Variant>,
    pub vendor_ids: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    #[serde(default)]
    #[schema(ignore)]
    pub version: u64,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariantInput {
    /// Keeps an existing variant's id on update (404 if the product has no such variant);
    /// new variants get one.
    #[schema(schema_with = crate::schema::uuid_or_null)]
    pub variant_id: Option<Uuid>,
    /// "500ml", "1L"; unique within the product (409 on a repeat).
    #[schema(schema_with = crate::schema::text_40, required = true)]
    pub name: Option<String>,
    #[schema(required = true, nullable = false)]
    pub price: Option<MoneyInput>,
    /// "packet", "jar", "kg"; "unit" when left out.
    #[schema(schema_with = crate::schema::text_20_or_null)]
    pub unit: Option<String>,
}

/// A product's fields as an admin sends them; on update, absent or `null` fields are kept.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductInput {
    #[schema(schema_with = crate::schema::text_120_or_null)]
    pub name: Option<String>,
    #[schema(value_type = Option<Category>)]
    pub category: Option<String>,
    #[schema(schema_with = crate::schema::optional_text_2000_or_null)]
    pub description: Option<String>,
    #[schema(min_items = 1, max_items = 20)]
    pub variants: Option<Vec<VariantInput>>,
    #[schema(schema_with = crate::schema::vendor_ids_or_null)]
    pub vendor_ids: Option<Vec<Uuid>>,
    #[schema(schema_with = crate::schema::https_url_or_null)]
    pub image_url: Option<String>,
    /// Set by the services only (DELETE deactivates), never read from a request.
    #[serde(skip)]
    #[schema(ignore)]
    pub is_active: Option<bool>,
}

fn parse_variant(input: &VariantInput) -> Result<Variant, InvalidValue> {
    let variant_id = input.variant_id.unwrap_or_else(Uuid::now_v7);
    let name = bounded_text(
        input
            .name
            .as_deref()
            .ok_or(InvalidValue("each variant needs a name"))?,
        40,
    )?;
    let price = input
        .price
        .as_ref()
        .ok_or(InvalidValue("each variant needs a price"))?
        .parse()?;
    let unit = bounded_text(input.unit.as_deref().unwrap_or("unit"), 20)?;
    Ok(Variant {
        variant_id,
        name,
        price,
        unit,
    })
}

fn parse_variants(inputs: &[VariantInput]) -> Result<Vec<Variant>, InvalidValue> {
    if inputs.is_empty() || inputs.len() > MAX_VARIANTS {
        return Err(InvalidValue("must list 1 to 20 variants"));
    }
    inputs.iter().map(parse_variant).collect()
}

/// Well-formed variants that contradict the product: an id it does not have (404), or a
/// name or id twice (409).
fn check_variants(
    variants: &[Variant],
    given_ids: &[Uuid],
    existing: &[Variant],
) -> Result<(), DomainError> {
    if given_ids
        .iter()
        .any(|id| !existing.iter().any(|v| v.variant_id == *id))
    {
        return Err(DomainError::NotFound("variant"));
    }
    let names: BTreeSet<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    let ids: BTreeSet<Uuid> = variants.iter().map(|v| v.variant_id).collect();
    if names.len() != variants.len() || ids.len() != variants.len() {
        return Err(DomainError::conflict(
            "Variant names and ids must not repeat within a product.",
        ));
    }
    Ok(())
}

impl ProductInput {
    /// A new product: name, category and variants are required.
    pub fn create(self, by: Uuid, now: DateTime<Utc>) -> Result<Product, DomainError> {
        let mut errors = FieldErrors::new();
        for (field, present) in [
            ("name", self.name.is_some()),
            ("category", self.category.is_some()),
            ("variants", self.variants.is_some()),
        ] {
            if !present {
                errors.add(field, "is required");
            }
        }
        errors.into_result(|| ())?;
        let blank = Product {
            product_id: Uuid::now_v7(),
            name: String::new(),
            category: Category::Other,
            description: String::new(),
            variants: Vec::new(),
            vendor_ids: Vec::new(),
            image_url: None,
            is_active: true,
            created_at: now,
            updated_at: now,
            created_by: by,
            updated_by: by,
            version: 0,
        };
        self.apply_to(blank, by, now)
    }

    /// Applies the given fields to `product`, naming every bad one.
    pub fn apply_to(
        self,
        mut product: Product,
        by: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Product, DomainError> {
        let mut errors = FieldErrors::new();
        let existing = product.variants.clone();
        let given_ids: Vec<Uuid> = self
            .variants
            .iter()
            .flatten()
            .filter_map(|v| v.variant_id)
            .collect();
        if let Some(v) = self
            .name
            .and_then(|raw| errors.check("name", bounded_text(&raw, 120)))
        {
            product.name = v;
        }
        if let Some(v) = self
            .category
            .and_then(|raw| errors.check("category", Category::parse(&raw)))
        {
            product.category = v;
        }
        if let Some(raw) = self.description {
            product.description = errors
                .check("description", optional_text(&raw, 2000))
                .flatten()
                .unwrap_or_default();
        }
        if let Some(v) = self
            .variants
            .and_then(|raw| errors.check("variants", parse_variants(&raw)))
        {
            product.variants = v;
        }
        if let Some(raw) = self.vendor_ids {
            // Counted as sent, as the document's maxItems counts them.
            if raw.len() > MAX_VENDORS_PER_PRODUCT {
                errors.add("vendorIds", "lists too many vendors (at most 100)");
            }
            let unique: BTreeSet<Uuid> = raw.into_iter().collect();
            product.vendor_ids = unique.into_iter().collect();
        }
        if let Some(raw) = self.image_url {
            product.image_url = errors.check("imageUrl", parse_https_url(&raw));
        }
        if let Some(active) = self.is_active {
            product.is_active = active;
        }
        product.updated_at = now;
        product.updated_by = by;
        let product = errors.into_result(|| product)?;
        check_variants(&product.variants, &given_ids, &existing)?;
        Ok(product)
    }
}

/// Which active products a listing shows; every given criterion must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductFilter {
    pub category: Option<Category>,
    /// Some variant costs at least this many paise…
    pub min_price: Option<u64>,
    /// …and at most this many (the same variant).
    pub max_price: Option<u64>,
    /// Lower-case text the name contains.
    pub name_contains: Option<String>,
    /// Sold by at least one of these vendors.
    pub vendor_ids: Option<BTreeSet<Uuid>>,
}

impl ProductFilter {
    pub fn matches(&self, product: &Product) -> bool {
        let priced = product.variants.iter().any(|v| {
            self.min_price.is_none_or(|min| v.price.amount >= min)
                && self.max_price.is_none_or(|max| v.price.amount <= max)
        });
        product.is_active
            && priced
            && self.category.is_none_or(|c| product.category == c)
            && self
                .name_contains
                .as_ref()
                .is_none_or(|q| product.name.to_lowercase().contains(q))
            && self
                .vendor_ids
                .as_ref()
                .is_none_or(|ids| product.vendor_ids.iter().any(|v| ids.contains(v)))
    }
}

/// One vendor's sellable units of a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VendorStock {
    pub vendor_id: Uuid,
    pub stock: u32,
}

/// How much of a variant can be ordered now, in total and per vendor selling it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariantAvailability {
    pub variant_id: Uuid,
    pub in_stock: bool,
    pub stock: u64,
    pub vendors: Vec<VendorStock>,
}

impl Product {
    /// The stock rows availability is read from: every listed vendor × every variant.
    pub fn stock_keys(&self) -> Vec<StockKey> {
        self.vendor_ids
            .iter()
            .flat_map(|vendor_id| {
                self.variants.iter().map(|variant| StockKey {
                    vendor_id: *vendor_id,
                    product_id: self.product_id,
                    variant_id: variant.variant_id,
                })
            })
            .collect()
    }

    /// Availability per variant from `rows`; rows of vendors the product no longer lists
    /// do not count.
    pub fn availability(&self, rows: &[InventoryRow]) -> Vec<VariantAvailability> {
        self.variants
            .iter()
            .map(|variant| {
                let vendors: Vec<VendorStock> = rows
                    .iter()
                    .filter(|row| {
                        row.product_id == self.product_id
                            && row.variant_id == variant.variant_id
                            && self.vendor_ids.contains(&row.vendor_id)
                    })
                    .map(|row| VendorStock {
                        vendor_id: row.vendor_id,
                        stock: row.stock,
                    })
                    .collect();
                let stock = vendors.iter().map(|v| u64::from(v.stock)).sum();
                VariantAvailability {
                    variant_id: variant.variant_id,
                    in_stock: stock > 0,
                    stock,
                    vendors,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(value: serde_json::Value) -> ProductInput {
        serde_json::from_value(value).unwrap()
    }

    fn milk() -> Product {
        input(json!({"name": "Toned Milk", "category": "MILK", "description": "Fresh every morning",
                     "variants": [{"name": "500ml", "price": {"amount": 2800}, "unit": "packet"},
                                  {"name": "1L", "price": {"amount": 5400, "currency": "INR"}, "unit": "packet"}],
                     "vendorIds": [Uuid::from_u128(7)]}))
        .create(Uuid::from_u128(1), Utc::now())
        .unwrap()
    }

    fn field_names(error: DomainError) -> Vec<String> {
        let DomainError::Validation(fields) = error else {
            panic!("expected validation")
        };
        fields.fields().keys().cloned().collect()
    }

    #[test]
    fn a_product_is_created_with_variant_ids_and_money_prices() {
        let product = milk();
        assert_eq!(product.variants.len(), 2);
        assert_ne!(
            product.variants[0].variant_id,
            product.variants[1].variant_id
        );
        assert_eq!(product.variants[1].price, Money::inr(5400));
        assert_eq!(
            (product.created_by, product.is_active),
            (Uuid::from_u128(1), true)
        );
    }

    #[test]
    fn bad_prices_categories_and_variants_are_named() {
        let bad = input(
            json!({"name": "", "category": "CHEESE", "variants": [{"name": "1L", "price": {"amount": 12.5}}], "imageUrl": "ftp://x"}),
        );
        assert_eq!(
            field_names(bad.create(Uuid::nil(), Utc::now()).unwrap_err()),
            ["category", "imageUrl", "name", "variants"]
        );
        for price in [
            json!({"amount": -5}),
            json!({"amount": 100, "currency": "USD"}),
            json!({"amount": "100"}),
        ] {
            let one = input(
                json!({"name": "Curd", "category": "CURD", "variants": [{"name": "400g", "price": price}]}),
            );
            assert_eq!(
                field_names(one.create(Uuid::nil(), Utc::now()).unwrap_err()),
                ["variants"]
            );
        }
        let missing = input(json!({}))
            .create(Uuid::nil(), Utc::now())
            .unwrap_err();
        assert_eq!(field_names(missing), ["category", "name", "variants"]);
    }

    #[test]
    fn updates_keep_variant_ids_and_refuse_unknown_ones() {
        let product = milk();
        let kept = product.variants[0].variant_id;
        let change = input(
            json!({"variants": [{"variantId": kept, "name": "500ml", "price": {"amount": 3000}}, {"name": "2L", "price": {"amount": 10000}}]}),
        );
        let updated = change
            .apply_to(product.clone(), Uuid::from_u128(2), Utc::now())
            .unwrap();
        assert_eq!(updated.variants[0].variant_id, kept);
        assert_eq!(updated.variants[0].price, Money::inr(3000));
        assert_eq!(updated.updated_by, Uuid::from_u128(2));
        let unknown = input(
            json!({"variants": [{"variantId": Uuid::new_v4(), "name": "1L", "price": {"amount": 1}}]}),
        );
        assert!(unknown.apply_to(product, Uuid::nil(), Utc::now()).is_err());
    }

    #[test]
    fn filters_combine() {
        let product = milk();
        let all = ProductFilter::default();
        assert!(all.matches(&product));
        assert!(
            ProductFilter {
                category: Some(Category::Milk),
                ..all.clone()
            }
            .matches(&product)
        );
        assert!(
            !ProductFilter {
                category: Some(Category::Ghee),
                ..all.clone()
            }
            .matches(&product)
        );
        assert!(
            ProductFilter {
                min_price: Some(5000),
                max_price: Some(6000),
                ..all.clone()
            }
            .matches(&product)
        );
        assert!(
            !ProductFilter {
                min_price: Some(3000),
                max_price: Some(5000),
                ..all.clone()
            }
            .matches(&product),
            "no single variant in range"
        );
        assert!(
            ProductFilter {
                name_contains: Some("toned".into()),
                ..all.clone()
            }
            .matches(&product)
        );
        assert!(
            !ProductFilter {
                vendor_ids: Some(BTreeSet::from([Uuid::from_u128(8)])),
                ..all.clone()
            }
            .matches(&product)
        );
        let mut inactive = product;
        inactive.is_active = false;
        assert!(!all.matches(&inactive));
    }

    #[test]
    fn availability_sums_listed_vendors_per_variant() {
        let product = milk();
        let vendor = product.vendor_ids[0];
        let row = |vendor_id: Uuid, variant: usize, stock: u32| InventoryRow {
            vendor_id,
            product_id: product.product_id,
            variant_id: product.variants[variant].variant_id,
            stock,
            reserved: 0,
            low_stock_threshold: 10,
            updated_at: Utc::now(),
            version: 0,
        };
        assert_eq!(product.stock_keys().len(), 2, "one vendor × two variants");
        let unlisted = Uuid::from_u128(99);
        let availability =
            product.availability(&[row(vendor, 0, 12), row(unlisted, 0, 50), row(vendor, 1, 0)]);
        assert_eq!(
            (availability[0].in_stock, availability[0].stock),
            (true, 12)
        );
        assert_eq!(
            availability[0].vendors.len(),
            1,
            "unlisted vendors do not count"
        );
        assert_eq!(
            (availability[1].in_stock, availability[1].stock),
            (false, 0)
        );
    }
}

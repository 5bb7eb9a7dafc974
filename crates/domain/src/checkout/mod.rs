//! Checkout's rules (SPEC §5), pure: the requested lines, their prices from the catalog and
//! the order's totals, the delivery date, which vendor delivers each item, a short vendor
//! (partial fulfilment) and the fraud rules. The services fetch what these need and store
//! what they answer.
//!
//! One module per step of that list: `lines`, `pricing` (with the shortage), `dates`,
//! `vendors` and `fraud`; every name is re-exported here, as `milkrun_domain::checkout::X`.

mod dates;
mod fraud;
mod lines;
mod pricing;
mod vendors;

pub use dates::*;
pub use fraud::*;
pub use lines::*;
pub use pricing::*;
pub use vendors::*;

/// Test helpers more than one section's tests use.
#[cfg(test)]
mod test_support {
    use chrono::{DateTime, TimeZone, Utc};
    use uuid::Uuid;

    use crate::error::DomainError;
    use crate::money::Money;
    use crate::product::{Product, Variant};
    use crate::values::Category;

    pub(crate) fn fields(error: DomainError) -> Vec<(String, String)> {
        let DomainError::Validation(fields) = error else {
            panic!("expected validation, got {error:?}")
        };
        fields
            .fields()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(crate) fn field_names(error: DomainError) -> Vec<String> {
        fields(error).into_iter().map(|(k, _)| k).collect()
    }

    pub(crate) fn product(n: u128, prices: &[u64], active: bool) -> Product {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        Product {
            product_id: Uuid::from_u128(n),
            name: format!("Product {n}"),
            category: Category::Milk,
            description: String::new(),
            variants: prices
                .iter()
                .enumerate()
                .map(|(i, price)| Variant {
                    variant_id: Uuid::from_u128(n * 100 + i as u128),
                    name: format!("{}ml", (i + 1) * 500),
                    price: Money::inr(*price),
                    unit: "packet".into(),
                })
                .collect(),
            vendor_ids: vec![Uuid::from_u128(900)],
            image_url: None,
            is_active: active,
            created_at: now,
            updated_at: now,
            created_by: Uuid::nil(),
            updated_by: Uuid::nil(),
            version: 0,
        }
    }

    pub(crate) fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, d, h, m, 0).unwrap()
    }
}

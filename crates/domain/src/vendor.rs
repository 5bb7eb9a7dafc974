//! Vendors: local dairies that serve a set of pincodes with a daily order capacity.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cutoff::CutoffTime;
use crate::error::{DomainError, FieldErrors};
use crate::values::{Email, InvalidValue, PersonName, Phone, Pincode, bounded_text};

/// A vendor serves at most this many pincodes.
/// (One DynamoDB transaction rewrites the vendor and its area items, at most 100 items.)
pub const MAX_SERVICE_AREAS: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    /// Orders the vendor can deliver per day.
    pub daily_order_limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vendor {
    pub vendor_id: Uuid,
    #[schema(value_type = String)]
    pub name: PersonName,
    pub email: Email,
    pub phone: Phone,
    pub address: String,
    /// Sorted, without repeats.
    pub service_areas: Vec<Pincode>,
    /// 0 to 5.
    pub rating: f64,
    pub is_active: bool,
    pub capacity: Capacity,
    /// When orders and subscription changes for a date close, the day before (21:00 for a
    /// vendor stored before cut-offs existed).
    #[serde(default)]
    #[schema(schema_with = crate::schema::cutoff_time_required)]
    pub cutoff_time: CutoffTime,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    #[schema(ignore)]
    pub version: u64,
}

/// A vendor's fields as an admin sends them; on update, absent or `null` fields are kept.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VendorInput {
    #[schema(schema_with = crate::schema::text_100_or_null)]
    pub name: Option<String>,
    #[schema(schema_with = crate::schema::email_or_null)]
    pub email: Option<String>,
    #[schema(schema_with = crate::schema::phone_or_null)]
    pub phone: Option<String>,
    #[schema(schema_with = crate::schema::text_300_or_null)]
    pub address: Option<String>,
    #[schema(schema_with = crate::schema::pincodes_or_null)]
    pub service_areas: Option<Vec<String>>,
    /// 0 to 5.
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 5)]
    pub rating: Option<serde_json::Value>,
    pub capacity: Option<CapacityInput>,
    #[schema(schema_with = crate::schema::cutoff_time_or_null)]
    pub cutoff_time: Option<String>,
    /// Set by the services only (DELETE deactivates), never read from a request.
    #[serde(skip)]
    #[schema(ignore)]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapacityInput {
    /// Orders the vendor can deliver per day: 1 to 100,000.
    #[schema(schema_with = daily_order_limit_schema, required = true)]
    pub daily_order_limit: Option<serde_json::Value>,
}

/// The most orders a vendor can take per day.
pub const MAX_DAILY_ORDERS: u64 = 100_000;

fn daily_order_limit_schema() -> utoipa::openapi::Object {
    crate::schema::integer(1, MAX_DAILY_ORDERS, false)
}

fn parse_areas(raw: &[String]) -> Result<Vec<Pincode>, InvalidValue> {
    // Counted as sent, as the document's maxItems counts them.
    if raw.is_empty() || raw.len() > MAX_SERVICE_AREAS {
        return Err(InvalidValue("must list 1 to 40 pincodes"));
    }
    let areas = raw
        .iter()
        .map(|p| Pincode::parse(p))
        .collect::<Result<BTreeSet<_>, _>>()?;
    Ok(areas.into_iter().collect())
}

fn parse_rating(raw: &serde_json::Value) -> Result<f64, InvalidValue> {
    raw.as_f64()
        .filter(|r| (0.0..=5.0).contains(r))
        .ok_or(InvalidValue("must be a number from 0 to 5"))
}

fn parse_capacity(raw: &CapacityInput) -> Result<Capacity, InvalidValue> {
    let limit = raw
        .daily_order_limit
        .as_ref()
        .and_then(|l| crate::values::whole_number(l, 1, MAX_DAILY_ORDERS));
    limit
        .map(|l| Capacity {
            daily_order_limit: l as u32,
        })
        .ok_or(InvalidValue(
            "dailyOrderLimit must be a whole number from 1 to 100000",
        ))
}

impl VendorInput {
    /// A new vendor: name, email, phone, address and service areas are required.
    pub fn create(self, now: DateTime<Utc>) -> Result<Vendor, DomainError> {
        let mut errors = FieldErrors::new();
        for (field, present) in [
            ("name", self.name.is_some()),
            ("email", self.email.is_some()),
            ("phone", self.phone.is_some()),
            ("address", self.address.is_some()),
            ("serviceAreas", self.service_areas.is_some()),
        ] {
            if !present {
                errors.add(field, "is required");
            }
        }
        let placeholder = Vendor {
            vendor_id: Uuid::now_v7(),
            name: PersonName::parse("-").expect("valid"),
            email: Email::parse("vendor@placeholder.invalid").expect("valid"),
            phone: Phone::parse("0000000000").expect("valid"),
            address: String::new(),
            service_areas: Vec::new(),
            rating: 0.0,
            is_active: true,
            capacity: Capacity {
                daily_order_limit: 100,
            },
            cutoff_time: CutoffTime::DEFAULT,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        errors.into_result(|| ())?;
        self.apply_to(placeholder, now)
    }

    /// Applies the given fields to `vendor`, naming every bad one.
    pub fn apply_to(self, mut vendor: Vendor, now: DateTime<Utc>) -> Result<Vendor, DomainError> {
        let mut errors = FieldErrors::new();
        if let Some(v) = self
            .name
            .and_then(|raw| errors.check("name", PersonName::parse(&raw)))
        {
            vendor.name = v;
        }
        if let Some(v) = self
            .email
            .and_then(|raw| errors.check("email", Email::parse(&raw)))
        {
            vendor.email = v;
        }
        if let Some(v) = self
            .phone
            .and_then(|raw| errors.check("phone", Phone::parse(&raw)))
        {
            vendor.phone = v;
        }
        if let Some(v) = self
            .address
            .and_then(|raw| errors.check("address", bounded_text(&raw, 300)))
        {
            vendor.address = v;
        }
        if let Some(v) = self
            .service_areas
            .and_then(|raw| errors.check("serviceAreas", parse_areas(&raw)))
        {
            vendor.service_areas = v;
        }
        if let Some(v) = self
            .rating
            .and_then(|raw| errors.check("rating", parse_rating(&raw)))
        {
            vendor.rating = v;
        }
        if let Some(v) = self
            .capacity
            .and_then(|raw| errors.check("capacity", parse_capacity(&raw)))
        {
            vendor.capacity = v;
        }
        if let Some(v) = self
            .cutoff_time
            .and_then(|raw| errors.check("cutoffTime", CutoffTime::parse(&raw)))
        {
            vendor.cutoff_time = v;
        }
        if let Some(active) = self.is_active {
            vendor.is_active = active;
        }
        vendor.updated_at = now;
        errors.into_result(|| vendor)
    }
}

impl Vendor {
    pub fn serves(&self, pincode: &Pincode) -> bool {
        self.service_areas.binary_search(pincode).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(value: serde_json::Value) -> VendorInput {
        serde_json::from_value(value).unwrap()
    }

    fn complete() -> serde_json::Value {
        json!({"name": "Nandi Dairy", "email": "Orders@Nandi.example", "phone": "+91 80 4000 1234",
               "address": "4 Dairy Circle, Bengaluru", "serviceAreas": ["560002", "560001", "560002"],
               "rating": 4.5, "capacity": {"dailyOrderLimit": 300}})
    }

    #[test]
    fn a_complete_vendor_is_created_with_sorted_unique_areas() {
        let vendor = input(complete()).create(Utc::now()).unwrap();
        assert_eq!(vendor.email.as_str(), "orders@nandi.example");
        let areas: Vec<&str> = vendor.service_areas.iter().map(Pincode::as_str).collect();
        assert_eq!(areas, ["560001", "560002"]);
        assert!(vendor.serves(&Pincode::parse("560002").unwrap()));
        assert!(!vendor.serves(&Pincode::parse("560003").unwrap()));
        assert_eq!(
            (
                vendor.rating,
                vendor.capacity.daily_order_limit,
                vendor.is_active
            ),
            (4.5, 300, true)
        );
    }

    #[test]
    fn every_missing_or_bad_field_is_named() {
        let DomainError::Validation(missing) = input(json!({})).create(Utc::now()).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(missing.fields().len(), 5);
        let bad = json!({"name": "x", "email": "nope", "phone": "12", "address": "a", "serviceAreas": ["56001"],
                         "rating": 7, "capacity": {"dailyOrderLimit": 0}});
        let DomainError::Validation(fields) = input(bad).create(Utc::now()).unwrap_err() else {
            panic!()
        };
        let names: Vec<&str> = fields.fields().keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["capacity", "email", "phone", "rating", "serviceAreas"]
        );
        assert!(
            input(json!({"serviceAreas": []}))
                .apply_to(input(complete()).create(Utc::now()).unwrap(), Utc::now())
                .is_err()
        );
    }

    #[test]
    fn updates_keep_absent_fields() {
        let vendor = input(complete()).create(Utc::now()).unwrap();
        let updated = input(json!({"rating": 3, "isActive": false}))
            .apply_to(vendor.clone(), Utc::now())
            .unwrap();
        assert_eq!(
            (updated.rating, updated.is_active, updated.name.clone()),
            (3.0, true, vendor.name),
            "isActive is not a client's to set: DELETE deactivates"
        );
    }
}

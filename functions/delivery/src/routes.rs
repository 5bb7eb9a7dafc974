//! The delivery service's HTTP surface. A VENDOR user (whose account names its vendor)
//! reaches only its own vendor's deliveries, an admin every vendor's; everyone else hears
//! 403 before the query or body is read. Another vendor's delivery answers 404, as an
//! unknown one does (SPEC §2: "not found and not yours may both answer 404"), so a vendor
//! cannot learn which delivery ids exist.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use milkrun_domain::checkout::parse_date;
use milkrun_domain::delivery::{Delivery, DeliveryStatus, DeliveryStatusChange};
use milkrun_domain::schema;
use milkrun_domain::user::Address;
use milkrun_domain::values::{DeliverySlot, InvalidValue, MAX_URL_CHARS, Role, parse_uuid};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::json::parse_json;
use milkrun_http::{Actor, ApiError, ApiPath, ApiQuery, AuthUser, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::service::{DeliveryChange, DeliveryService, Reach, RoundSheet};

milkrun_http::service_routes! { DeliveryService;
    [list_round]
    [update_delivery]
}

type ApiResult<T> = Result<T, ApiError>;

/// The proof of delivery's URL pattern: `http://` or `https://`, then printable ASCII
/// without spaces (anything else percent-encoded).
const PROOF_URL_PATTERN: &str = r"^https?://[!-~]+$";

/// A delivery as clients see it (without the storage version).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    delivery_id: Uuid,
    order_id: Uuid,
    user_id: Uuid,
    vendor_id: Uuid,
    delivery_date: NaiveDate,
    delivery_slot: DeliverySlot,
    address: Address,
    status: DeliveryStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proof_url: Option<String>,
    /// Oldest first; the first entry is SCHEDULED.
    status_history: Vec<DeliveryStatusChange>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            delivery_id: d.delivery_id,
            order_id: d.order_id,
            user_id: d.user_id,
            vendor_id: d.vendor_id,
            delivery_date: d.delivery_date,
            delivery_slot: d.delivery_slot,
            address: d.address,
            status: d.status,
            driver_id: d.driver_id,
            proof_url: d.proof_url,
            status_history: d.status_history,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundQuery {
    date: Option<String>,
    slot: Option<String>,
    vendor_id: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn date_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        .min_length(Some(10))
        .max_length(Some(10))
        .build()
}

/// An `http://` or `https://` URL of at most 2,048 characters, or `null` (left as it is).
fn proof_url_or_null() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(PROOF_URL_PATTERN))
        .min_length(Some(8))
        .max_length(Some(MAX_URL_CHARS))
        .description(Some(
            "The proof of delivery (a photo, a signature): an http:// or https:// URL of at \
             most 2,048 characters, printable ASCII without spaces (others percent-encoded). \
             Replaces the one recorded; null or left out keeps it.",
        ))
        .build()
}

impl IntoParams for RoundQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        use schema::query_param as param;
        [
            param(
                "date",
                true,
                "The round's delivery date, as YYYY-MM-DD.",
                date_schema(),
            ),
            param("slot", true, "The round's slot.", DeliverySlot::schema()),
            param(
                "vendorId",
                false,
                "Admins: one vendor's round (all vendors' when left out). Vendors: their own \
                 vendor's id only (another is 403); left out means their own.",
                schema::uuid_required(),
            ),
        ]
        .into_iter()
        .chain(schema::paging_params())
        .collect()
    }
}

/// `{status, driverId?, proofUrl?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryUpdate {
    /// The delivery's next status along SCHEDULED → ASSIGNED → PICKED_UP → IN_TRANSIT →
    /// DELIVERED, or FAILED from any of the steps before DELIVERED (DELIVERED and FAILED are
    /// final): any other move is 409 `INVALID_TRANSITION`. Its current status changes only
    /// the driver or proof given (and with neither changed, nothing at all).
    #[schema(value_type = DeliveryStatus, required = true)]
    status: Option<String>,
    /// The driver taking it (a user id); null or left out keeps the one recorded.
    #[schema(schema_with = schema::uuid_or_null)]
    driver_id: Option<String>,
    #[schema(schema_with = proof_url_or_null)]
    proof_url: Option<String>,
}

/// An admin, or a VENDOR user whose account names its vendor: checked before the query or
/// body is read, so anyone else hears 403, never a validation error first.
pub struct RoundKeeper {
    actor: Actor,
    reach: Reach,
}

impl<S: Send + Sync> FromRequestParts<S> for RoundKeeper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let actor = Actor::from_request_parts(parts, state).await?;
        let reach = reach_of(&actor.user)?;
        Ok(Self { actor, reach })
    }
}

fn reach_of(user: &AuthUser) -> Result<Reach, ApiError> {
    match (user.role, user.vendor_id) {
        (Role::Admin, _) => Ok(Reach::Admin),
        (Role::Vendor, Some(vendor_id)) => Ok(Reach::Vendor(vendor_id)),
        (Role::Vendor, None) => Err(ApiError::forbidden(
            "This vendor account is not linked to a vendor.",
        )),
        _ => Err(ApiError::forbidden("Your role does not allow this action.")),
    }
}

/// An `http://` or `https://` URL as [`PROOF_URL_PATTERN`] says, of at most 2,048 characters.
fn parse_proof_url(raw: &str) -> Result<String, InvalidValue> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"));
    let printable = raw.bytes().all(|b| (b'!'..=b'~').contains(&b));
    match rest {
        Some(rest) if !rest.is_empty() && printable && raw.len() <= MAX_URL_CHARS => {
            Ok(raw.to_owned())
        }
        _ => Err(InvalidValue(
            "must be an http:// or https:// URL of at most 2048 characters",
        )),
    }
}

fn optional_uuid(
    errors: &mut FieldErrors,
    field: &str,
    message: &str,
    raw: Option<&str>,
) -> Option<Uuid> {
    let raw = raw?;
    let parsed = parse_uuid(raw);
    if parsed.is_none() {
        errors.add(field, message);
    }
    parsed
}

#[utoipa::path(get, path = "/deliveries", tag = "deliveries", security(("bearer" = [])), params(RoundQuery),
    description = "The delivery round of a date and slot, one page at a time (by pincode, then delivery id), grouped by pincode, with what to load for the page: a vendor's own deliveries, or for an admin every vendor's (or one's, with `vendorId`). Each delivery lists its order's fulfilled items of its vendor.",
    responses((status = 200, body = RoundSheet, description = "One page of the round: its deliveries grouped by pincode, and what to load for them."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
async fn list_round(
    State(service): State<DeliveryService>,
    RoundKeeper { reach, .. }: RoundKeeper,
    paging: Paging,
    ApiQuery(query): ApiQuery<RoundQuery>,
) -> ApiResult<Json<RoundSheet>> {
    let mut errors = FieldErrors::new();
    let date = errors.required("date", query.date.as_deref(), parse_date);
    let slot = errors.required("slot", query.slot.as_deref(), DeliverySlot::parse);
    let asked = optional_uuid(
        &mut errors,
        "vendorId",
        "must be a vendor id (UUID)",
        query.vendor_id.as_deref(),
    );
    let vendor_id = match reach {
        Reach::Admin => asked,
        Reach::Vendor(own) => Some(own),
    };
    let scope = format!("deliveries|{date:?}|{slot:?}|{vendor_id:?}");
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    let (date, slot) = errors.into_result(|| (date.expect("checked"), slot.expect("checked")))?;
    if let Some(asked) = asked
        && !reach.covers(asked)
    {
        return Err(ApiError::forbidden(
            "You can only see your own vendor's deliveries.",
        ));
    }
    let stops = service.round(vendor_id, date, slot, &page?).await?;
    Ok(Json(RoundSheet::of(date, slot, paging.seal(&scope, stops))))
}

#[utoipa::path(patch, path = "/deliveries/{deliveryId}", tag = "deliveries", security(("bearer" = [])),
    params(("deliveryId" = Uuid, Path)), request_body = DeliveryUpdate,
    description = "Moves a delivery along its status table (its vendor's users or an admin; another vendor's delivery is 404, as an unknown one is) and records its driver and proof. Its order follows: OUT_FOR_DELIVERY once one delivery is IN_TRANSIT, DELIVERED (its reserved stock committed) once all are DELIVERED, CANCELLED once one FAILED: the other deliveries still on a round are called off, the stock of every vendor that did not deliver goes back (what was delivered stays out), and the payment is refunded.",
    responses((status = 200, body = DeliveryView, description = "The delivery in its new status, with its driver and proof."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn update_delivery(
    State(service): State<DeliveryService>,
    RoundKeeper { actor, reach }: RoundKeeper,
    ApiPath(delivery): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<DeliveryView>> {
    let delivery_id = parse_uuid(&delivery).ok_or(DomainError::NotFound("delivery"))?;
    let body: DeliveryUpdate = parse_json(&body)?;
    let mut errors = FieldErrors::new();
    let status = errors.required("status", body.status.as_deref(), DeliveryStatus::parse);
    let driver_id = optional_uuid(
        &mut errors,
        "driverId",
        "must be a UUID",
        body.driver_id.as_deref(),
    );
    let proof_url = body
        .proof_url
        .as_deref()
        .and_then(|raw| errors.check("proofUrl", parse_proof_url(raw)));
    let change = errors.into_result(|| DeliveryChange {
        status: status.expect("checked"),
        driver_id,
        proof_url,
    })?;
    let delivery = service
        .update(reach, delivery_id, &change, &actor.audit)
        .await?;
    Ok(Json(delivery.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_urls_are_http_or_https_printable_and_bounded() {
        assert!(parse_proof_url("https://cdn.example/p/1.jpg").is_ok());
        assert!(parse_proof_url("http://cdn.example/p/1.jpg").is_ok());
        for bad in [
            "ftp://x/y",
            "https://",
            "https://a b",
            "cdn.example/p.jpg",
            "javascript:x",
        ] {
            assert!(parse_proof_url(bad).is_err(), "{bad}");
        }
        let long = format!("https://x/{}", "a".repeat(MAX_URL_CHARS));
        assert!(parse_proof_url(&long).is_err());
        let edge = format!("https://{}", "a".repeat(MAX_URL_CHARS - 8));
        assert!(parse_proof_url(&edge).is_ok());
    }

    #[test]
    fn dates_are_exactly_year_month_day() {
        assert_eq!(
            parse_date("2030-01-31"),
            Ok(NaiveDate::from_ymd_opt(2030, 1, 31).unwrap())
        );
        for bad in [
            "2030-1-31",
            "2030-02-30",
            "31-01-2030",
            "2030-01-31T00:00:00Z",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_admins_and_linked_vendor_users_reach_deliveries() {
        let user = |role, vendor_id| AuthUser {
            user_id: Uuid::from_u128(1),
            role,
            vendor_id,
        };
        let v = Uuid::from_u128(7);
        assert_eq!(reach_of(&user(Role::Admin, None)).ok(), Some(Reach::Admin));
        assert_eq!(
            reach_of(&user(Role::Vendor, Some(v))).ok(),
            Some(Reach::Vendor(v))
        );
        for (role, vendor) in [
            (Role::Vendor, None),
            (Role::Customer, None),
            (Role::Manager, None),
            (Role::Customer, Some(v)),
        ] {
            assert_eq!(reach_of(&user(role, vendor)).unwrap_err().status(), 403);
        }
    }

    #[test]
    fn the_document_states_both_routes_and_their_constraints() {
        let document = serde_json::to_value(documented().into_openapi()).unwrap();
        let list = &document["paths"]["/deliveries"]["get"];
        let params: Vec<(&str, bool)> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["required"] == true))
            .collect();
        assert_eq!(
            params,
            [
                ("date", true),
                ("slot", true),
                ("vendorId", false),
                ("limit", false),
                ("cursor", false)
            ]
        );
        let patch = &document["paths"]["/deliveries/{deliveryId}"]["patch"];
        assert!(patch["responses"]["409"].is_object());
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["DeliveryUpdate"]["required"],
            serde_json::json!(["status"])
        );
        assert_eq!(
            schemas["DeliveryUpdate"]["properties"]["proofUrl"]["maxLength"],
            2048
        );
        assert!(schemas["RoundSheet"].is_object() && schemas["DeliveryView"].is_object());
    }
}

//! What operators read: `GET /audit?entityId=` (who did what to one entity, admins),
//! `GET /analytics/events` (in [`crate::analytics`], admins), `GET /alerts` (in
//! [`crate::alerts`], managers and admins), `GET /reports/daily?date=` (the
//! stored daily report: managers and admins whole, a vendor its own row) and
//! `GET /reports/settlement?vendorId=&month=` (admins, or that vendor).

use axum::Json;
use axum::extract::State;
use milkrun_domain::FieldErrors;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::checkout::{DATE_PATTERN, not_a_calendar_day, parse_date};
use milkrun_domain::ports::{AdminAlerts, AnalyticsLog, AuditLog, DailyReports};
use milkrun_domain::schema;
use milkrun_domain::values::{InvalidValue, bounded_text};
use milkrun_http::{AdminActor, ApiError, ApiQuery, ErrorBody, Paging};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::reach::{Reach, ReportReader};
use crate::settlement::SettlementService;
use milkrun_domain::report::{DailyReport, Month, Settlement, VendorRow};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use crate::alerts::{__path_alerts, alerts};
use crate::analytics::{__path_analytics_events, analytics_events};

milkrun_http::service_routes! { ReportingService;
    [audit_trail]
    [analytics_events]
    [alerts]
    [daily_report]
    [settlement]
}

type ApiResult<T> = Result<T, ApiError>;

/// The longest entity id accepted (a stock row's id is three UUIDs).
const MAX_ENTITY_ID_CHARS: usize = 128;

/// What the reporting routes read.
#[derive(Clone)]
pub struct ReportingService {
    pub audit: Arc<dyn AuditLog>,
    pub analytics: Arc<dyn AnalyticsLog>,
    pub alerts: Arc<dyn AdminAlerts>,
    pub reports: Arc<dyn DailyReports>,
    pub settlement: SettlementService,
}

impl ReportingService {
    pub fn from_adapters(adapters: &milkrun_platform::Adapters) -> Self {
        let stores = &adapters.stores;
        Self {
            audit: stores.audit.clone(),
            analytics: stores.analytics.clone(),
            alerts: stores.analytics.clone(),
            reports: stores.reports.clone(),
            settlement: SettlementService {
                sources: stores.reports.clone(),
                vendors: stores.vendors.clone(),
                commission_bps: adapters.settings.reports.commission_bps,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditList {
    items: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    entity_id: String,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for AuditQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let entity = schema::query_param(
            "entityId",
            true,
            "A userId, vendorId, productId, or `vendorId:productId:variantId` for a stock row.",
            schema::text_128(),
        );
        [entity]
            .into_iter()
            .chain(schema::paging_params())
            .collect()
    }
}

#[utoipa::path(get, path = "/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditList, description = "One page of the audit trail."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
async fn audit_trail(
    State(service): State<ReportingService>,
    _admin: AdminActor,
    paging: Paging,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let mut errors = FieldErrors::new();
    let entity_id = errors
        .check(
            "entityId",
            bounded_text(&query.entity_id, MAX_ENTITY_ID_CHARS),
        )
        .unwrap_or_default();
    let scope = format!("audit|{entity_id}");
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    errors.into_result(|| ())?;
    let page = page?;
    let page = service
        .audit
        .for_entity(&entity_id, &page)
        .await
        .map_err(milkrun_domain::DomainError::from)?;
    let page = paging.seal(&scope, page);
    Ok(Json(AuditList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The daily report as a caller may see it: whole (managers, admins), or a vendor's part.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DailyReportView {
    Whole(DailyReport),
    Vendor(VendorDailyReport),
}

/// A vendor's part of a day's report: its own `perVendor` row only (empty when it had no
/// order or delivery that day); the platform's totals are not a vendor's to read.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VendorDailyReport {
    pub date: NaiveDate,
    pub vendor_id: Uuid,
    pub per_vendor: Vec<VendorRow>,
    pub generated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct DailyQuery {
    date: Option<String>,
}

impl IntoParams for DailyQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![schema::query_param(
            "date",
            true,
            "The delivery date reported, as YYYY-MM-DD (Asia/Kolkata).",
            pattern_schema(DATE_PATTERN),
        )]
    }
}

const MONTH_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])$";

fn pattern_schema(pattern: &str) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(pattern))
        .build()
}

#[utoipa::path(get, path = "/reports/daily", tag = "reports", security(("bearer" = [])), params(DailyQuery),
    description = "The stored daily report of a delivery date: every order whose deliveryDate is that day, as the report job found them (01:00 UTC for the day before in Asia/Kolkata, or `POST /jobs/daily-report?date=`). `revenue` sums the `total` (fulfilled items only, less discount) of the orders that went ahead with their money kept: CONFIRMED, PREPARING, OUT_FOR_DELIVERY and DELIVERED; and a cancelled order (CANCELLED, or REFUNDED after CANCELLED) whose deliveries by some of its vendors were made, for those lines' share of its total, which the cancel did not refund. Other PENDING, PAYMENT_PENDING, PAYMENT_FAILED, ON_HOLD, FAILED, CANCELLED and REFUNDED orders count only in `totalOrders` and `ordersByStatus`. `averageOrderValue` is revenue ÷ the counted orders, in paise rounded half up (0 when none). `topProducts`: at most 10, by revenue. `perVendor` revenue is the value of the vendor's fulfilled items in counted orders (of a cancelled order, only where that vendor's delivery was made), as the vendor's settlement counts them. Managers and admins read it whole; a vendor reads `{date, vendorId, perVendor, generatedAt}` with its own row only.",
    responses((status = 200, body = DailyReportView, description = "The report, whole or a vendor's part."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "No report is stored for that date (or the date, spelled as the pattern allows, is no day of the calendar, e.g. 2030-02-30).")))]
async fn daily_report(
    State(service): State<ReportingService>,
    ReportReader(reach): ReportReader,
    ApiQuery(query): ApiQuery<DailyQuery>,
) -> ApiResult<Json<DailyReportView>> {
    if query.date.as_deref().is_some_and(not_a_calendar_day) {
        return Err(milkrun_domain::DomainError::NotFound("report").into());
    }
    let mut errors = FieldErrors::new();
    let date = errors.required("date", query.date.as_deref(), parse_date);
    let date = errors.into_result(|| date.expect("checked"))?;
    let report = service
        .reports
        .get(date)
        .await
        .map_err(milkrun_domain::DomainError::from)?
        .ok_or(milkrun_domain::DomainError::NotFound("report"))?;
    Ok(Json(match reach {
        Reach::Admin | Reach::Manager => DailyReportView::Whole(report),
        Reach::Vendor(vendor_id) => DailyReportView::Vendor(VendorDailyReport {
            date: report.date,
            vendor_id,
            per_vendor: report.row_of(vendor_id).cloned().into_iter().collect(),
            generated_at: report.generated_at,
        }),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementQuery {
    vendor_id: Option<String>,
    month: Option<String>,
}

impl IntoParams for SettlementQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            schema::query_param(
                "vendorId",
                true,
                "The vendor settled (a vendor's users: their own vendor only).",
                schema::uuid_required(),
            ),
            schema::query_param(
                "month",
                true,
                "The month of delivery dates settled, as YYYY-MM.",
                pattern_schema(MONTH_PATTERN),
            ),
        ]
    }
}

#[utoipa::path(get, path = "/reports/settlement", tag = "reports", security(("bearer" = [])), params(SettlementQuery),
    description = "What the platform owes a vendor for a month of deliveries, per day and in total, in paise. For each delivery date: `delivered` is the value of the vendor's fulfilled items in its deliveries now DELIVERED; `refunds` the part of it whose order's money went back to the customer (the order REFUNDED as a whole, not by way of a cancel: a cancel refunds only what was not delivered), counted on the delivery's day; `commission` = (delivered − refunds) × `commissionBps` ÷ 10,000, rounded half up to the paisa for each day; `owed` = delivered − refunds − commission. Each total is the sum of its days. Admins, or that vendor's users.",
    responses((status = 200, body = Settlement, description = "The month's settlement: the days with a delivered delivery, and the totals."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an admin, nor a user of that vendor."), (status = 404, body = ErrorBody, description = "No such vendor.")))]
async fn settlement(
    State(service): State<ReportingService>,
    ReportReader(reach): ReportReader,
    ApiQuery(query): ApiQuery<SettlementQuery>,
) -> ApiResult<Json<Settlement>> {
    if reach == Reach::Manager {
        return Err(ApiError::forbidden("Your role does not allow this action."));
    }
    let mut errors = FieldErrors::new();
    let vendor_id = errors.required("vendorId", query.vendor_id.as_deref(), |raw| {
        Uuid::parse_str(raw).map_err(|_| InvalidValue("must be a vendor id (UUID)"))
    });
    let month = errors.required("month", query.month.as_deref(), Month::parse);
    let (vendor_id, month) =
        errors.into_result(|| (vendor_id.expect("checked"), month.expect("checked")))?;
    if let Reach::Vendor(own) = reach
        && own != vendor_id
    {
        return Err(ApiError::forbidden(
            "You can only see your own vendor's settlement.",
        ));
    }
    Ok(Json(service.settlement.settle(vendor_id, month).await?))
}

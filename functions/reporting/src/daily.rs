//! The daily report job (SPEC §6): the report of one delivery date computed from that day's
//! orders and deliveries, stored (a rerun replaces it) with its audit entry and
//! DAILY_REPORT_READY in one transaction, then mailed to the report address.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use milkrun_chart::{VendorBar, vendor_chart_png};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::clock::Clock;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::ports::{Attachment, DailyReports, Mail, Mailer, ReportSources, VendorReads};
use milkrun_domain::report::{DailyReport, DailyReportReady};
use milkrun_domain::values::Email;
use milkrun_domain::{DomainError, Effects};
use milkrun_platform::Adapters;
use serde::Serialize;
use uuid::Uuid;

/// The date a run without one reports: yesterday in the platform's time zone (the
/// schedule fires at 01:00 UTC, 06:30 IST, after the day's rounds).
pub fn default_report_date(now: DateTime<Utc>) -> NaiveDate {
    milkrun_domain::checkout::platform_today(now) - TimeDelta::days(1)
}

/// What one run answers (the job's JSON).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyReportRun {
    pub date: NaiveDate,
    pub total_orders: u64,
    pub revenue: u64,
    pub generated_at: DateTime<Utc>,
    /// Whether the report was mailed (no report address configured: not).
    pub mailed: bool,
}

/// The job over its ports.
#[derive(Clone)]
pub struct DailyReportJob {
    pub sources: Arc<dyn ReportSources>,
    pub reports: Arc<dyn DailyReports>,
    pub mailer: Arc<dyn Mailer>,
    /// Names the vendors on the chart.
    pub vendors: Arc<dyn VendorReads>,
    pub clock: Arc<dyn Clock>,
    pub to: Option<Email>,
}

impl DailyReportJob {
    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self {
            sources: adapters.stores.reports.clone(),
            reports: adapters.stores.reports.clone(),
            mailer: adapters.mailer.clone(),
            vendors: adapters.stores.vendors.clone(),
            clock: Arc::new(milkrun_domain::clock::SystemClock),
            to: adapters.settings.reports.to.clone(),
        }
    }

    /// Reports `date` (yesterday in Asia/Kolkata when `None`). Safe to repeat: a rerun
    /// replaces the stored report and announces it again; nothing else changes.
    pub async fn run(
        &self,
        date: Option<NaiveDate>,
        correlation_id: &str,
    ) -> Result<DailyReportRun, DomainError> {
        let now = self.clock.now();
        let date = date.unwrap_or_else(|| default_report_date(now));
        let (orders, deliveries) = (
            self.sources.orders_of_day(date).await?,
            self.sources.deliveries_of_day(date).await?,
        );
        let report = DailyReport::compute(date, &orders, &deliveries, now);
        self.reports
            .save(&report, &effects(&report, correlation_id))
            .await?;
        let mailed = match &self.to {
            Some(to) => {
                let names = self.vendor_names(&report).await?;
                let mail = report_mail(&report, &names, to.clone());
                self.mailer.send(&mail).await?;
                true
            }
            None => {
                tracing::warn!(%date, "no report address (MILKRUN_REPORT_EMAIL): not mailed");
                false
            }
        };
        tracing::info!(%date, orders = report.total_orders, "daily report stored");
        Ok(DailyReportRun {
            date,
            total_orders: report.total_orders,
            revenue: report.revenue.amount,
            generated_at: report.generated_at,
            mailed,
        })
    }
}

impl DailyReportJob {
    /// The names of the report's vendors, by id (one batched read; a vendor gone since is
    /// left out and shown by its id).
    async fn vendor_names(&self, report: &DailyReport) -> Result<VendorNames, DomainError> {
        let ids: Vec<Uuid> = report.per_vendor.iter().map(|row| row.vendor_id).collect();
        let vendors = self.vendors.get_many(&ids).await?;
        Ok(vendors
            .into_iter()
            .map(|v| (v.vendor_id, v.name.as_str().to_owned()))
            .collect())
    }
}

/// Vendors' names by id, for the chart's labels.
pub type VendorNames = HashMap<Uuid, String>;

/// The report's audit entry and its DAILY_REPORT_READY, whose id is derived from the date
/// and generatedAt ([`DailyReportReady::event_id`]).
fn effects(report: &DailyReport, correlation_id: &str) -> Effects {
    let context = AuditContext::system(correlation_id, "daily-report");
    let entry = context
        .entry("DAILY_REPORT_GENERATED", "REPORT", report.date)
        .with_changes(serde_json::json!({
            "totalOrders": report.total_orders,
            "revenue": report.revenue.amount,
            "generatedAt": report.generated_at,
        }));
    let mut event = EventEnvelope::new(&DailyReportReady::of(report), correlation_id);
    event.event_id = DailyReportReady::event_id(report);
    Effects {
        audit: vec![entry],
        events: vec![event],
    }
}

/// The report as mail: the figures as text and, attached, a PNG chart of orders and revenue
/// per vendor. The one place a report becomes mail.
pub fn report_mail(report: &DailyReport, names: &VendorNames, to: Email) -> Mail {
    let mut body = format!(
        "Daily report for {date} (deliveries of that day), generated {at}.\n\n\
         Orders: {orders}\nRevenue: {revenue}\nAverage order value: {average}\n\n\
         Orders by status:\n",
        date = report.date,
        at = report.generated_at.format("%Y-%m-%d %H:%M UTC"),
        orders = report.total_orders,
        revenue = report.revenue,
        average = report.average_order_value,
    );
    for (status, count) in report.orders_by_status.iter().filter(|(_, n)| **n > 0) {
        body.push_str(&format!("  {status}: {count}\n"));
    }
    body.push_str("\nTop products:\n");
    for product in &report.top_products {
        let (name, units, value) = (&product.name, product.quantity, product.revenue);
        body.push_str(&format!("  {name}: {units} units, {value}\n"));
    }
    body.push_str("\nVendors (orders, revenue, deliveries done / failed):\n");
    for row in &report.per_vendor {
        body.push_str(&format!(
            "  {}: {}, {}, {} / {}\n",
            row.vendor_id, row.orders, row.revenue, row.deliveries_done, row.deliveries_failed
        ));
    }
    Mail {
        to,
        subject: format!("milkrun daily report {}", report.date),
        body,
        attachments: vendor_chart(report, names).into_iter().collect(),
    }
}

/// Orders and revenue per vendor as a PNG, each vendor by name (by its id's first group if
/// it has none). A chart that cannot be drawn is logged and the mail goes without it: the
/// figures are in the text, and the stored report is what counts.
fn vendor_chart(report: &DailyReport, names: &VendorNames) -> Option<Attachment> {
    let bars: Vec<VendorBar> = report
        .per_vendor
        .iter()
        .map(|row| VendorBar {
            label: names
                .get(&row.vendor_id)
                .cloned()
                .unwrap_or_else(|| format!("vendor {}", &row.vendor_id.simple().to_string()[..8])),
            orders: row.orders,
            revenue_paise: i64::try_from(row.revenue.amount).unwrap_or(i64::MAX),
        })
        .collect();
    let title = format!("Orders and revenue per vendor, {}", report.date);
    match vendor_chart_png(&title, &bars) {
        Ok(bytes) => Some(Attachment {
            filename: format!("daily-report-{}.png", report.date),
            content_type: "image/png".into(),
            bytes,
        }),
        Err(error) => {
            tracing::error!(date = %report.date, %error, "the report chart could not be drawn; mailed without it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_scheduled_run_reports_yesterday_in_india() {
        // 01:00 UTC is 06:30 IST: yesterday is the IST day before.
        let at = Utc.with_ymd_and_hms(2025, 3, 13, 1, 0, 0).unwrap();
        assert_eq!(
            default_report_date(at),
            NaiveDate::from_ymd_opt(2025, 3, 12).unwrap()
        );
        // 20:00 UTC on the 12th is already the 13th in IST.
        let late = Utc.with_ymd_and_hms(2025, 3, 12, 20, 0, 0).unwrap();
        assert_eq!(
            default_report_date(late),
            NaiveDate::from_ymd_opt(2025, 3, 12).unwrap()
        );
    }

    #[test]
    fn a_run_commits_its_audit_entry_and_an_admin_alert_named_by_date_and_time() {
        let date = NaiveDate::from_ymd_opt(2025, 3, 12).unwrap();
        let at = Utc.with_ymd_and_hms(2025, 3, 13, 1, 0, 0).unwrap();
        let report = DailyReport::compute(date, &[], &[], at);
        let first = effects(&report, "run-1");
        assert_eq!(first.audit[0].entity_id, "2025-03-12");
        let event = &first.events[0];
        assert_eq!(event.topic(), milkrun_domain::events::Topic::AdminAlerts);
        assert_eq!(event.decode::<DailyReportReady>().unwrap().date, date);
        assert_eq!(
            event.event_id,
            effects(&report, "run-1").events[0].event_id,
            "a retry"
        );
        let rerun = DailyReport::compute(date, &[], &[], at + TimeDelta::seconds(1));
        assert_ne!(
            event.event_id,
            effects(&rerun, "run-2").events[0].event_id,
            "a rerun"
        );
    }

    #[test]
    fn the_mail_names_the_day_and_its_figures() {
        let at = Utc.with_ymd_and_hms(2025, 3, 13, 1, 0, 0).unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 3, 12).unwrap();
        let report = DailyReport::compute(date, &[], &[], at);
        let names = VendorNames::new();
        let mail = report_mail(&report, &names, Email::parse("ops@milkrun.test").unwrap());
        assert_eq!(mail.subject, "milkrun daily report 2025-03-12");
        assert!(
            mail.body.contains("Orders: 0\nRevenue: ₹0.00"),
            "{}",
            mail.body
        );
        let [chart] = &mail.attachments[..] else {
            panic!("one chart attached, got {}", mail.attachments.len())
        };
        assert_eq!(chart.filename, "daily-report-2025-03-12.png");
        assert_eq!(chart.content_type, "image/png");
        assert!(
            chart.bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "a PNG signature"
        );
    }
}

//! Admin alerts end to end (SPEC §7 admin-alerts): the daily report's DAILY_REPORT_READY
//! travels the outbox, the publisher, the bus or SNS + SQS and the alerts consumer, and a
//! manager finds it with `GET /alerts?type=&since=`; customers and vendors are refused, and
//! a bad filter is named.

use milkrun_e2e::*;

use crate::helpers::*;

/// The alert of `type` whose data names `date`, once it is listed since `since`.
async fn listed(token: &str, since: &str, date: &str) -> Option<Value> {
    let since = since.replace('+', "%2B");
    let path = format!("/alerts?type=DAILY_REPORT_READY&since={since}&limit=100");
    let page = call(Method::GET, &path, Some(token), None).await;
    expect(&page, StatusCode::OK);
    let items = page.body["items"].as_array().unwrap();
    assert!(
        items.iter().all(|a| a["eventType"] == "DAILY_REPORT_READY"),
        "{}",
        page.text
    );
    items.iter().find(|a| a["data"]["date"] == date).cloned()
}

#[tokio::test]
async fn a_manager_lists_the_daily_reports_alert_and_others_are_refused() {
    let admin = admin_token().await;
    let manager = user_with_role(&admin, "MANAGER", None).await;
    // Whole seconds, rounded down: the job's alert occurs at or after it.
    let since = utc_now();
    // A day no other module orders for: its report is this test's.
    let date = kolkata_date(23);
    let path = format!("/jobs/daily-report?date={date}");
    expect(
        &call(Method::POST, &path, Some(&admin), None).await,
        StatusCode::OK,
    );
    let deadline = std::time::Instant::now() + SETTLE;
    let alert = loop {
        if let Some(alert) = listed(&manager, &since, &date).await {
            break alert;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no DAILY_REPORT_READY for {date} listed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert!(alert["eventId"].is_string(), "{alert}");
    let path = format!("/alerts?since={}&limit=100", since.replace('+', "%2B"));
    let every_type = call(Method::GET, &path, Some(&admin), None).await;
    expect(&every_type, StatusCode::OK);
    let ids: Vec<&Value> = every_type.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["eventId"])
        .collect();
    assert!(ids.contains(&&alert["eventId"]), "{}", every_type.text);

    let customer = customer_at(&fresh_pincode()).await.1;
    let vendor = text(&create_vendor(&admin, &[&fresh_pincode()]).await["vendorId"]);
    let vendor_user = user_with_role(&admin, "VENDOR", Some(&vendor)).await;
    for token in [&customer, &vendor_user] {
        let refused = call(Method::GET, "/alerts", Some(token), None).await;
        expect(&refused, StatusCode::FORBIDDEN);
    }
    let bad = call(Method::GET, "/alerts?type=NOPE", Some(&manager), None).await;
    expect(&bad, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("type"), "{}", bad.text);
}

/// Each job's own path reaches the function that holds its code (in AWS, API Gateway's
/// static paths before the subscription job function's `/jobs/{name}`), guarded alike.
#[tokio::test]
async fn every_job_by_hand_is_served_for_admins_only() {
    let admin = admin_token().await;
    let reconcile = call(Method::POST, "/jobs/reconcile-stock", Some(&admin), None).await;
    expect(&reconcile, StatusCode::OK);
    assert!(
        reconcile.body["rowsBelowThreshold"].is_u64() && reconcile.body["alertsFailed"] == 0,
        "{}",
        reconcile.text
    );
    let (_, customer) = new_customer().await;
    for path in [
        "/jobs/reconcile-stock",
        "/jobs/daily-report",
        "/jobs/subscriptions",
    ] {
        let refused = call(Method::POST, path, Some(&customer), None).await;
        assert_error(&refused, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let no_job = call(Method::POST, "/jobs/no-such-job", Some(&admin), None).await;
    assert_error(&no_job, StatusCode::NOT_FOUND, "NOT_FOUND");
    let bad = call(
        Method::POST,
        "/jobs/daily-report?date=06-12-2026",
        Some(&admin),
        None,
    )
    .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let no_day = call(
        Method::POST,
        "/jobs/daily-report?date=2030-02-30",
        Some(&admin),
        None,
    )
    .await;
    assert_error(&no_day, StatusCode::CONFLICT, "CONFLICT");
}

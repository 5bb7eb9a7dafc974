//! The analytics log's contract: one entry per event however often it is appended, listed
//! per type and day (Asia/Kolkata) newest first, a page at a time.
//!
//! Each case works on a day of its own, picked at random far ahead (the emulated tables are
//! shared by every case and every run; a day in the past would already have expired).

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::analytics::AnalyticsEvent;
use milkrun_domain::events::EventType;
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{AdminAlerts, AnalyticsLog};
use milkrun_store::AnalyticsEvents;
use serde_json::json;
use uuid::Uuid;

/// A day nobody else lists, somewhere in the 22nd to 27th centuries.
fn own_day() -> NaiveDate {
    let offset = (Uuid::new_v4().as_u128() % 200_000) as i64;
    NaiveDate::from_ymd_opt(2100, 1, 1).unwrap() + Duration::days(offset)
}

/// `minutes` after midnight of `day` in Asia/Kolkata (UTC+05:30), in UTC.
fn at(day: NaiveDate, minutes: i64) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::minutes(330);
    midnight + Duration::minutes(minutes)
}

fn event(event_type: EventType, occurred_at: DateTime<Utc>) -> AnalyticsEvent {
    let user_id = Uuid::new_v4();
    AnalyticsEvent {
        event_id: Uuid::now_v7(),
        event_type,
        user_id: Some(user_id),
        data: json!({"userId": user_id, "total": {"amount": 5000, "currency": "INR"},
            "items": ["2 × Toned milk 1L"], "vendorIds": [], "reason": null}),
        occurred_at,
    }
}

async fn all_pages(
    log: &AnalyticsEvents,
    event_type: EventType,
    day: NaiveDate,
    limit: u32,
) -> Vec<AnalyticsEvent> {
    let (mut entries, mut page) = (Vec::new(), PageRequest::first(limit));
    loop {
        let result = log.of_day(event_type, day, &page).await.unwrap();
        assert!(result.items.len() <= limit as usize);
        entries.extend(result.items);
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return entries,
        }
    }
}

pub async fn an_event_appended_twice_is_one_entry(log: Arc<AnalyticsEvents>) {
    let day = own_day();
    let placed = event(EventType::OrderPlaced, at(day, 600));
    assert!(
        log.append(&placed).await.unwrap(),
        "the first append adds it"
    );
    let mut again = placed.clone();
    again.data = json!({"forged": true});
    assert!(
        !log.append(&again).await.unwrap(),
        "a redelivery adds nothing"
    );
    let racing = futures::future::join_all((0..8).map(|_| log.append(&placed))).await;
    assert!(racing.into_iter().all(|added| !added.unwrap()));
    assert_eq!(
        all_pages(&log, EventType::OrderPlaced, day, 10).await,
        [placed],
        "one entry, as first appended"
    );
}

pub async fn concurrent_first_appends_keep_one(log: Arc<AnalyticsEvents>) {
    let day = own_day();
    let confirmed = event(EventType::OrderConfirmed, at(day, 60));
    let racing = futures::future::join_all((0..8).map(|_| log.append(&confirmed))).await;
    let added = racing.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(added, 1, "exactly one of the racing appends adds it");
    assert_eq!(
        all_pages(&log, EventType::OrderConfirmed, day, 10).await,
        [confirmed]
    );
}

pub async fn entries_list_by_type_and_platform_day_newest_first(log: Arc<AnalyticsEvents>) {
    let day = own_day();
    let next = day.succ_opt().unwrap();
    let wanted: Vec<AnalyticsEvent> = [0, 5, 300, 1439]
        .into_iter()
        .map(|minute| event(EventType::OrderPlaced, at(day, minute)))
        .collect();
    let others = [
        // Another type the same day, and the same type the days either side: 23:59 the day
        // before and 00:00 the day after, in India (18:29 and 18:30 UTC).
        event(EventType::OrderConfirmed, at(day, 10)),
        event(EventType::OrderPlaced, at(day, -1)),
        event(EventType::OrderPlaced, at(next, 0)),
    ];
    for entry in wanted.iter().rev().chain(&others) {
        assert!(log.append(entry).await.unwrap());
    }
    let mut newest_first = wanted.clone();
    newest_first.reverse();
    assert_eq!(
        all_pages(&log, EventType::OrderPlaced, day, 100).await,
        newest_first
    );
    assert_eq!(
        all_pages(&log, EventType::OrderConfirmed, day, 100).await,
        [others[0].clone()]
    );
    assert_eq!(
        all_pages(&log, EventType::OrderPlaced, next, 100).await,
        [others[2].clone()]
    );
    assert!(
        all_pages(&log, EventType::LowStock, day, 100)
            .await
            .is_empty()
    );
}

pub async fn pages_follow_their_cursors_and_only_theirs(log: Arc<AnalyticsEvents>) {
    let day = own_day();
    let mut appended = Vec::new();
    for minute in 0..5 {
        let entry = event(EventType::PaymentSucceeded, at(day, 100 + minute));
        log.append(&entry).await.unwrap();
        appended.push(entry);
    }
    appended.reverse();
    let first = log
        .of_day(EventType::PaymentSucceeded, day, &PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(first.items, appended[..2]);
    assert_eq!(
        all_pages(&log, EventType::PaymentSucceeded, day, 2).await,
        appended,
        "pages of two: every entry once, newest first"
    );
    let exact = log
        .of_day(EventType::PaymentSucceeded, day, &PageRequest::first(5))
        .await
        .unwrap();
    assert_eq!(exact.next_cursor, None, "no cursor when nothing follows");
    let borrowed = PageRequest {
        limit: 2,
        cursor: first.next_cursor,
    };
    let elsewhere = log
        .of_day(
            EventType::PaymentSucceeded,
            day.succ_opt().unwrap(),
            &borrowed,
        )
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::InvalidCursor)),
        "a cursor of one day does not page another"
    );
    let other_type = log.of_day(EventType::PaymentFailed, day, &borrowed).await;
    assert!(matches!(other_type, Err(StoreError::InvalidCursor)));
}

/// Every alert (of `event_type`, when given) since `since`, through every page of `limit`.
async fn all_alerts(
    log: &AnalyticsEvents,
    event_type: Option<EventType>,
    since: DateTime<Utc>,
    limit: u32,
) -> Vec<Uuid> {
    let (mut ids, mut page) = (Vec::new(), PageRequest::first(limit));
    loop {
        let result = log.alerts(event_type, Some(since), &page).await.unwrap();
        assert!(result.items.len() <= limit as usize);
        ids.extend(result.items.iter().map(|a| a.event_id));
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return ids,
        }
    }
}

pub async fn alerts_are_kept_once_and_listed_by_type_since_newest_first(log: Arc<AnalyticsEvents>) {
    let day = own_day();
    let fraud = [
        event(EventType::FraudSuspected, at(day, 60)),
        event(EventType::FraudSuspected, at(day, 180)),
    ];
    let low = event(EventType::LowStock, at(day, 120));
    let before = event(EventType::FraudSuspected, at(day, -1));
    for alert in fraud.iter().chain([&low, &before]) {
        assert!(log.keep(alert).await.unwrap());
        assert!(
            !log.keep(alert).await.unwrap(),
            "a redelivery writes nothing"
        );
    }
    let since = at(day, 0);
    let ours = |ids: Vec<Uuid>, of: &[&AnalyticsEvent]| -> Vec<Uuid> {
        let of: Vec<Uuid> = of.iter().map(|a| a.event_id).collect();
        ids.into_iter().filter(|id| of.contains(id)).collect()
    };
    let all = [&fraud[0], &fraud[1], &low, &before];
    let listed = ours(all_alerts(&log, None, since, 2).await, &all);
    let want = |of: &[&AnalyticsEvent]| -> Vec<Uuid> { of.iter().map(|a| a.event_id).collect() };
    assert_eq!(
        listed,
        want(&[&fraud[1], &low, &fraud[0]]),
        "since, newest first"
    );
    let frauds = all_alerts(&log, Some(EventType::FraudSuspected), since, 1).await;
    assert_eq!(ours(frauds, &all), want(&[&fraud[1], &fraud[0]]));
    let entry = log
        .of_day(EventType::LowStock, day, &PageRequest::first(10))
        .await
        .unwrap();
    assert!(entry.items.is_empty(), "an alert is no analytics entry");
}

#[macro_export]
macro_rules! analytics_log_contract {
    ($make:expr) => {
        $crate::analytics_log_contract!(@cases $make;
            an_event_appended_twice_is_one_entry,
            concurrent_first_appends_keep_one,
            entries_list_by_type_and_platform_day_newest_first,
            pages_follow_their_cursors_and_only_theirs,
            alerts_are_kept_once_and_listed_by_type_since_newest_first,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::analytics::$case(milkrun_store::Stores::over($make).analytics).await;
            }
        )+
    };
}

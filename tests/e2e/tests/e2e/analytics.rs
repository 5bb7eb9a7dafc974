//! The analytics log end to end (SPEC §6): an order's events travel the whole event path
//! (the outbox, the publisher, the bus or SNS + SQS, the analytics consumer) and an admin
//! finds them under their type and day; nobody else reads the log, and a bad filter is a 400.

use milkrun_e2e::*;

use crate::helpers::*;

/// A stocked vendor of its own product on a fresh pincode, and a customer there with a
/// complete profile: (customer's userId, customer's token, the order body).
async fn shop_and_customer(admin: &str) -> (String, String, Value) {
    let pincode = fresh_pincode();
    let vendor = text(&create_vendor(admin, &[&pincode]).await["vendorId"]);
    let variant = json!({"name": "1L", "price": {"amount": PRICES[1]}, "unit": "packet"});
    let body = json!({"name": format!("Analytics milk {}", Uuid::new_v4().simple()),
        "category": "MILK", "variants": [variant], "vendorIds": [vendor]});
    let created = call(Method::POST, "/products", Some(admin), Some(body)).await;
    expect(&created, StatusCode::CREATED);
    let product = text(&created.body["productId"]);
    let variant = text(&created.body["variants"][0]["variantId"]);
    let path = format!("/inventory/{vendor}/{product}/{variant}");
    let set = json!({"operation": "SET", "quantity": 10});
    expect(
        &call(Method::PUT, &path, Some(admin), Some(set)).await,
        StatusCode::OK,
    );
    let (user_id, token) = customer_at(&pincode).await;
    let order = json!({"items": [{"productId": product, "variantId": variant, "quantity": 1}],
        "deliveryDate": kolkata_date(2), "deliverySlot": "MORNING", "paymentMethod": "CARD"});
    (user_id, token, order)
}

/// The entry of `event_type` about `order_id` listed under one of `days`, if any yet
/// (newest first, so a recent order's events are on the first pages).
async fn find(admin: &str, event_type: &str, days: &[String], order_id: &str) -> Option<Value> {
    for day in days {
        let mut cursor = String::new();
        for _ in 0..20 {
            let path = format!("/analytics/events?type={event_type}&date={day}&limit=100{cursor}");
            let page = call(Method::GET, &path, Some(admin), None).await;
            expect(&page, StatusCode::OK);
            let items = page.body["items"].as_array().unwrap();
            if let Some(entry) = items.iter().find(|e| e["data"]["orderId"] == order_id) {
                return Some(entry.clone());
            }
            match page.body["nextCursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
    }
    None
}

#[tokio::test]
async fn an_admin_finds_an_orders_events_under_their_type_and_day() {
    let admin = admin_token().await;
    let (user_id, token, order) = shop_and_customer(&admin).await;
    let before = kolkata_date(0);
    let placed = call(Method::POST, "/orders", Some(&token), Some(order)).await;
    expect(&placed, StatusCode::CREATED);
    let order_id = text(&placed.body["orderId"]);
    let order = settled(&token, &order_id).await;
    assert_eq!(order["status"], "PREPARING", "{order}");
    // The day the events occurred: today in India, unless midnight passed meanwhile.
    let mut days = vec![before, kolkata_date(0)];
    days.dedup();
    for event_type in ["ORDER_PLACED", "ORDER_CONFIRMED"] {
        let what = format!("{event_type} of {order_id} in the analytics log");
        let entry = eventually(what, SETTLE, POLL, async || {
            find(&admin, event_type, &days, &order_id).await
        })
        .await;
        assert_eq!(entry["eventType"], event_type, "{entry}");
        assert_eq!(entry["userId"], user_id, "{entry}");
        assert!(entry["eventId"].is_string() && entry["occurredAt"].is_string());
        assert_no_secrets(&entry.to_string());
    }
}

#[tokio::test]
async fn only_admins_read_the_log_and_filters_are_checked() {
    let admin = admin_token().await;
    let today = kolkata_date(0);
    let (_, customer) = new_customer().await;
    let path = format!("/analytics/events?type=ORDER_PLACED&date={today}");
    assert_error(
        &call(Method::GET, &path, Some(&customer), None).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &call(Method::GET, &path, None, None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    for (query, fields) in [
        (format!("type=ORDER_SHIPPED&date={today}"), &["type"][..]),
        (format!("type=order_placed&date={today}"), &["type"]),
        ("type=ORDER_PLACED&date=05-12-2026".to_owned(), &["date"]),
        ("date=2026-01-01".to_owned(), &["type"]),
        ("type=ORDER_PLACED".to_owned(), &["date"]),
        (
            format!("type=ORDER_PLACED&date={today}&limit=0"),
            &["limit"],
        ),
    ] {
        let reply = call(
            Method::GET,
            &format!("/analytics/events?{query}"),
            Some(&admin),
            None,
        )
        .await;
        assert_fields(&reply, fields);
    }
    // Spelled as the document's pattern allows, but no day: a day with nothing in it.
    let no_day = "/analytics/events?type=ORDER_PLACED&date=2026-02-30";
    let reply = call(Method::GET, no_day, Some(&admin), None).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "NOT_FOUND");
    let forged = format!("{path}&cursor=forged");
    assert_unknown_cursor(&call(Method::GET, &forged, Some(&admin), None).await);
    let listed = call(Method::GET, &path, Some(&admin), None).await;
    expect(&listed, StatusCode::OK);
    assert!(listed.body["items"].is_array(), "{}", listed.text);
}

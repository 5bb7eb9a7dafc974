//! The welcome mail travels the whole event path (the registration's outbox, the publisher,
//! the bus or SNS + SQS, the notification consumer) and is kept for the user alone.

use std::time::Duration;

use milkrun_e2e::*;

use crate::helpers::eventually;

/// The caller's notifications once any has arrived (deliveries are asynchronous).
async fn arrived(token: &str) -> Vec<Value> {
    let (timeout, every) = (Duration::from_secs(60), Duration::from_millis(500));
    eventually("a notification", timeout, every, async || {
        let reply = call(Method::GET, "/notifications", Some(token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let items = reply.body["items"].as_array().cloned().unwrap_or_default();
        (!items.is_empty()).then_some(items)
    })
    .await
}

#[tokio::test]
async fn a_new_user_finds_the_welcome_mail_among_their_own_notifications() {
    let (user_id, token) = new_customer().await;
    let items = arrived(&token).await;
    assert_eq!(
        items.len(),
        1,
        "one welcome, however often it was delivered"
    );
    let welcome = &items[0];
    assert_eq!(welcome["type"], "WELCOME");
    assert_eq!(
        (welcome["channel"].as_str(), welcome["status"].as_str()),
        (Some("EMAIL"), Some("SENT"))
    );
    assert_eq!(welcome["userId"], user_id);
    assert!(
        welcome["subject"]
            .as_str()
            .unwrap()
            .contains("verify your email")
    );
    assert_no_secrets(&welcome.to_string());

    let (_, other) = new_customer().await;
    let theirs = arrived(&other).await;
    assert!(
        theirs.iter().all(|n| n["userId"] != user_id),
        "nobody sees another's notifications"
    );
    assert_error(
        &call(Method::GET, "/notifications", None, None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    let bad_cursor = call(
        Method::GET,
        "/notifications?cursor=forged",
        Some(&token),
        None,
    )
    .await;
    assert_unknown_cursor(&bad_cursor);
}

#[tokio::test]
async fn the_notifications_route_is_documented() {
    let document = call(Method::GET, "/openapi.json", None, None).await;
    assert!(
        document.body["paths"]["/notifications"]["get"].is_object(),
        "{}",
        document.text
    );
}

// --- preferences per kind and channel --------------------------------------------------------

#[tokio::test]
async fn a_customer_chooses_the_channels_of_each_kind_of_message() {
    let (_, token) = new_customer().await;
    let me = call(Method::GET, "/users/me", Some(&token), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let defaults = &me.body["preferences"]["notifications"];
    assert_eq!(
        defaults["ORDER_UPDATES"],
        json!(["EMAIL", "IN_APP"]),
        "{defaults}"
    );
    assert_eq!(defaults["ACCOUNT"], json!(["EMAIL"]), "{defaults}");

    let choice = json!({"deliverySlot": "MORNING", "newsletterOptIn": true, "notifications":
        {"DELIVERY_UPDATES": ["IN_APP"], "WALLET": ["SMS", "EMAIL"], "PROMOTIONS": []}});
    let put = call(
        Method::PUT,
        "/users/me/preferences",
        Some(&token),
        Some(choice),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let me = call(Method::GET, "/users/me", Some(&token), None).await;
    let prefs = &me.body["preferences"];
    assert_eq!(prefs["deliverySlot"], "MORNING");
    assert_eq!(prefs["newsletterOptIn"], true);
    assert_eq!(
        prefs["notifications"]["DELIVERY_UPDATES"],
        json!(["IN_APP"])
    );
    assert_eq!(prefs["notifications"]["WALLET"], json!(["EMAIL", "SMS"]));
    assert_eq!(prefs["notifications"]["PROMOTIONS"], json!([]));
    assert_eq!(
        prefs["notifications"]["ORDER_UPDATES"],
        json!(["EMAIL", "IN_APP"])
    );

    // Without `notifications` the channels stay as they are.
    let slot_only = json!({"deliverySlot": "EVENING"});
    let put = call(
        Method::PUT,
        "/users/me/preferences",
        Some(&token),
        Some(slot_only),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(
        put.body["preferences"]["notifications"]["DELIVERY_UPDATES"],
        json!(["IN_APP"])
    );

    for refused in [
        json!({"notifications": {"ACCOUNT": ["SMS"]}}),
        json!({"notifications": {"NEWS": ["EMAIL"]}}),
        json!({"notifications": {"WALLET": ["FAX"]}}),
    ] {
        let reply = call(
            Method::PUT,
            "/users/me/preferences",
            Some(&token),
            Some(refused.clone()),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{refused}: {}",
            reply.text
        );
    }
}

// --- promotions and the unsubscribe link -----------------------------------------------------

/// A customer who opted in to the newsletter: (userId, token).
async fn opted_in_customer() -> (String, String) {
    let (user_id, token) = new_customer().await;
    let body = json!({"newsletterOptIn": true});
    let put = call(
        Method::PUT,
        "/users/me/preferences",
        Some(&token),
        Some(body),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    (user_id, token)
}

/// Starts a promotion and waits until every batch is sent: its id.
async fn promote(admin: &str, subject: &str) -> String {
    let body = json!({"subject": subject, "body": "Fresh paneer, 20% off.\nThis week only."});
    let started = call(
        Method::POST,
        "/notifications/promotions",
        Some(admin),
        Some(body),
    )
    .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let id = started.body["promotionId"].as_str().unwrap().to_owned();
    let path = format!("/notifications/promotions/{id}");
    let (timeout, every) = (Duration::from_secs(120), Duration::from_millis(500));
    eventually("the promotion sent", timeout, every, async || {
        let progress = call(Method::GET, &path, Some(admin), None).await;
        assert_eq!(progress.status, StatusCode::OK, "{}", progress.text);
        (progress.body["done"] == true).then_some(progress.body)
    })
    .await;
    id
}

/// The caller's notifications of type PROMOTION with `subject`.
async fn promotions_heard(token: &str, subject: &str) -> Vec<Value> {
    let listed = call(Method::GET, "/notifications?limit=100", Some(token), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let items = listed.body["items"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .filter(|n| n["type"] == "PROMOTION" && n["subject"] == subject)
        .collect()
}

#[tokio::test]
async fn the_unsubscribe_link_of_a_promotion_stops_the_next_one_without_a_login() {
    let admin = admin_token().await;
    let (reader, token) = opted_in_customer().await;
    let (_, stays) = opted_in_customer().await;
    let (_, never) = new_customer().await;
    let first = format!("Paneer week {}", Uuid::new_v4().simple());
    promote(&admin, &first).await;

    let heard = promotions_heard(&token, &first).await;
    let channels: Vec<&str> = heard
        .iter()
        .map(|n| n["channel"].as_str().unwrap())
        .collect();
    assert_eq!(
        channels.len(),
        2,
        "by email and in the app, once: {heard:?}"
    );
    assert!(
        channels.contains(&"EMAIL") && channels.contains(&"IN_APP"),
        "{channels:?}"
    );
    assert!(
        promotions_heard(&never, &first).await.is_empty(),
        "not opted in"
    );
    let mail = heard.iter().find(|n| n["channel"] == "EMAIL").unwrap();
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("20% off"), "{body}");
    let link = body
        .split_whitespace()
        .find(|w| w.contains("/notifications/unsubscribe?token="))
        .unwrap_or_else(|| panic!("an unsubscribe link: {body}"));
    let unsubscribe_token = link.split_once("unsubscribe?token=").unwrap().1;
    let path = format!("/notifications/unsubscribe?token={unsubscribe_token}");

    // Bad links first: nothing changes.
    let forged = format!("{unsubscribe_token}x");
    let reply = call(
        Method::GET,
        &format!("/notifications/unsubscribe?token={forged}"),
        None,
        None,
    )
    .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let reply = call(Method::GET, "/notifications/unsubscribe", None, None).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    // Anything the document allows that is not our token is refused alike, control
    // characters included.
    for token in ["not.a.token", "%01%7F", "%20"] {
        let path = format!("/notifications/unsubscribe?token={token}");
        let reply = call(Method::GET, &path, None, None).await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    // The token is not a login.
    let reply = call(Method::GET, "/users/me", Some(unsubscribe_token), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);

    for _ in 0..2 {
        let reply = call(Method::GET, &path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.body["userId"], reader.as_str());
        assert_eq!(reply.body["newsletterOptIn"], false);
    }
    let me = call(Method::GET, "/users/me", Some(&token), None).await;
    assert_eq!(
        me.body["preferences"]["newsletterOptIn"], false,
        "{}",
        me.text
    );
    let audit = call(
        Method::GET,
        &format!("/audit?entityId={reader}"),
        Some(&admin),
        None,
    )
    .await;
    assert!(
        audit.text.contains("NEWSLETTER_UNSUBSCRIBED"),
        "{}",
        audit.text
    );

    let second = format!("Ghee week {}", Uuid::new_v4().simple());
    promote(&admin, &second).await;
    assert_eq!(
        promotions_heard(&stays, &second).await.len(),
        2,
        "still opted in"
    );
    assert!(
        promotions_heard(&token, &second).await.is_empty(),
        "unsubscribed"
    );
}

#[tokio::test]
async fn only_administrators_send_promotions() {
    let (_, customer) = new_customer().await;
    let body = json!({"subject": "Free milk", "body": "For everyone"});
    let reply = call(
        Method::POST,
        "/notifications/promotions",
        Some(&customer),
        Some(body.clone()),
    )
    .await;
    assert_error(&reply, StatusCode::FORBIDDEN, "FORBIDDEN");
    let reply = call(Method::POST, "/notifications/promotions", None, Some(body)).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let admin = admin_token().await;
    let blank = json!({"subject": " ", "body": ""});
    let reply = call(
        Method::POST,
        "/notifications/promotions",
        Some(&admin),
        Some(blank),
    )
    .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let unknown = format!("/notifications/promotions/{}", Uuid::new_v4());
    let reply = call(Method::GET, &unknown, Some(&admin), None).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "NOT_FOUND");
}

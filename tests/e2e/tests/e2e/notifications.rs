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

//! What more than one area's tests use: the checkout's timing and statuses, a customer with
//! a complete profile, and waits (through `milkrun_testkit`, as every suite waits).

use std::time::{Duration, Instant};

use milkrun_e2e::*;
pub use milkrun_testkit::{eventually, kolkata_date, poll_until, utc_now};

/// The two variants' catalog prices (paise): "500ml" and "1L".
pub const PRICES: [u64; 2] = [2_800, 5_400];
/// How long a checkout, or an event's trip to a notification, may take (emulated AWS runs
/// each step as a Lambda invocation and carries events through the stream, SNS and SQS).
pub const SETTLE: Duration = Duration::from_secs(60);
pub const POLL: Duration = Duration::from_millis(200);
/// Statuses a checkout passes through on its own; an order in any other has settled.
pub const TRANSIENT: [&str; 3] = ["PENDING", "PAYMENT_PENDING", "CONFIRMED"];

pub fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

pub fn expect(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.text);
}

/// A fresh customer with a phone and a default address in `pincode` (a complete profile):
/// (userId, token).
pub async fn customer_at(pincode: &str) -> (String, String) {
    let (user_id, token) = new_customer().await;
    let address =
        json!({"line1": "12 MG Road", "city": "Bengaluru", "state": "KA", "pincode": pincode});
    let path = "/users/me/addresses/home";
    expect(
        &call(Method::PUT, path, Some(&token), Some(address)).await,
        StatusCode::OK,
    );
    let phone = json!({"phone": "+91 98765 43210"});
    let patched = call(Method::PATCH, "/users/me", Some(&token), Some(phone)).await;
    expect(&patched, StatusCode::OK);
    assert_eq!(patched.body["isProfileComplete"], true, "{}", patched.text);
    (user_id, token)
}

/// `GET /orders/{id}` as `token` (200), which never shows the payment token.
pub async fn read_order(token: &str, id: &str) -> Reply {
    let reply = call(Method::GET, &format!("/orders/{id}"), Some(token), None).await;
    expect(&reply, StatusCode::OK);
    assert!(
        !reply.text.contains("paymentToken") && !reply.text.contains("tok_"),
        "a payment token shows: {}",
        reply.text
    );
    reply
}

/// The order once `done` holds of its status, read every [`POLL`] until `deadline`; fails
/// saying it never got `what`.
pub async fn order_when(
    token: &str,
    id: &str,
    what: &str,
    deadline: Instant,
    done: impl Fn(&str) -> bool,
) -> Value {
    let status = |order: &Reply| order.body["status"].as_str().unwrap().to_owned();
    let timeout = deadline.saturating_duration_since(Instant::now());
    let order = poll_until(
        timeout,
        POLL,
        async || read_order(token, id).await,
        |order| done(&status(order)),
    )
    .await;
    assert!(
        done(&status(&order)),
        "order {id} never {what}: {}",
        order.text
    );
    order.body
}

/// The order once its checkout stops moving on its own, by `deadline`.
pub async fn settled_by(token: &str, id: &str, deadline: Instant) -> Value {
    order_when(token, id, "settled", deadline, |status| {
        !TRANSIENT.contains(&status)
    })
    .await
}

/// The order once its checkout stops moving on its own, within [`SETTLE`].
pub async fn settled(token: &str, id: &str) -> Value {
    settled_by(token, id, Instant::now() + SETTLE).await
}

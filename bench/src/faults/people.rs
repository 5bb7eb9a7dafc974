//! What a person does after the load: an admin reads the ORDER_NEEDS_ATTENTION alerts
//! (`GET /alerts`) and moves each order whose refund kept failing to REFUNDED
//! (`PATCH /orders/{id}/status`), which gives the money back; as the alert asks.

use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::checkout::shop::Shop;

/// What the admin found and did.
#[derive(Debug, Default)]
pub(crate) struct Attended {
    /// Orders named by an ORDER_NEEDS_ATTENTION alert, with the reason it gives.
    pub(crate) alerted: Vec<(Uuid, String)>,
    /// Orders moved to REFUNDED by the admin.
    pub(crate) refunded: usize,
    /// Moves the API refused (each a violation).
    pub(crate) refused: Vec<String>,
}

/// Lists every ORDER_NEEDS_ATTENTION alert and refunds each REFUND_FAILED order.
pub(crate) async fn attend(shop: &Shop, admin: &str) -> Attended {
    let mut attended = Attended::default();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/alerts?type=ORDER_NEEDS_ATTENTION&limit=100".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = call(shop, Method::GET, &path, admin, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for alert in page["items"].as_array().into_iter().flatten() {
            let data = &alert["data"];
            let order_id = data["orderId"].as_str().and_then(|id| id.parse().ok());
            let reason = data["reason"].as_str().unwrap_or_default().to_owned();
            attended.alerted.extend(order_id.map(|id| (id, reason)));
        }
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    for (order_id, reason) in &attended.alerted {
        if reason != "REFUND_FAILED" {
            continue;
        }
        let path = format!("/orders/{order_id}/status");
        let body = json!({"status": "REFUNDED", "reason": "refund checked by an admin"});
        let (status, answer) = call(shop, Method::PATCH, &path, admin, Some(body)).await;
        if status == StatusCode::OK {
            attended.refunded += 1;
        } else {
            attended.refused.push(format!(
                "the admin's refund of order {order_id}: HTTP {status}: {answer}"
            ));
        }
    }
    attended
}

async fn call(
    shop: &Shop,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    milkrun_testkit::json_answer(&shop.app, request).await
}

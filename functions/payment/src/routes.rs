//! The payment service's HTTP surface: a customer's `POST /payments` for their own order,
//! `GET /payments/{paymentId}` for the owner, managers and admins, and the gateway's signed
//! `POST /payments/webhook`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use milkrun_domain::order::OrderStatus;
use milkrun_domain::payment::{Payment, PaymentStatus};
use milkrun_domain::values::{PaymentMethod, parse_uuid};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::idempotency::{Answer, claim_key, idempotent, respond};
use milkrun_http::json::parse_json;
use milkrun_http::{Actor, ApiError, ApiPath, CustomerActor, ErrorBody, GuestActor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, SchemaFormat, Type};
use uuid::Uuid;

use crate::service::{GatewayNotice, PayOrder, PaymentAccepted, PaymentService};
use crate::signature;

milkrun_http::service_routes! { PaymentService;
    [pay]
    [payment_webhook]
    [get_payment]
}

type ApiResult<T> = Result<T, ApiError>;

/// The `Idempotency-Key` scope of `POST /payments`.
const SCOPE: &str = "payments";
/// The longest payment token accepted.
pub const MAX_TOKEN_CHARS: usize = 64;
/// The longest gateway reference accepted.
pub const MAX_REFERENCE_CHARS: usize = 128;
/// Printable ASCII without spaces: what tokens and gateway references are made of.
const PRINTABLE: &str = "^[!-~]+$";

fn printable(min: usize, max: usize, nullable: bool, description: &str) -> Object {
    let builder = match nullable {
        true => ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ])),
        false => ObjectBuilder::new().schema_type(Type::String),
    };
    builder
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(PRINTABLE))
        .description(Some(description))
        .build()
}

fn payment_token_or_null() -> Object {
    printable(
        1,
        MAX_TOKEN_CHARS,
        true,
        "The gateway token to charge with, 1 to 64 printable ASCII characters without spaces; \
         absent or null charges with the gateway's default. The simulated gateway of local \
         mode and tests answers `tok_ok` (the default) succeeded, `tok_decline` declined, \
         `tok_flaky` unavailable twice and then succeeded. Never shown back.",
    )
}

fn gateway_reference_or_null() -> Object {
    printable(
        1,
        MAX_REFERENCE_CHARS,
        true,
        "The gateway's own reference of the payment, 1 to 128 printable ASCII characters \
         without spaces.",
    )
}

fn webhook_payment_id() -> Object {
    let mut schema = milkrun_domain::schema::uuid_or_null();
    schema.description = Some(
        "Our id of the payment, if the gateway names it: the order's payment id, which is \
         derived from the order and named to the gateway when charging. Any other id is 409 \
         CONFLICT, whether or not a payment of the order is recorded yet."
            .into(),
    );
    schema
}

fn reported_status() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["SUCCEEDED", "FAILED", "REFUNDED"]))
        .description(Some(
            "What happened to the payment. A payment is never moved back: a FAILED after \
             SUCCEEDED, or anything after REFUNDED, is acknowledged and ignored.",
        ))
        .build()
}

fn timestamp_required() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some(
            "When the gateway sent the webhook, RFC 3339 (e.g. `2026-01-31T06:15:00Z`); more \
             than 5 minutes from the server's clock either way is refused with 401 (a replay).",
        ))
        .build()
}

/// `{orderId, method, paymentToken?}`: pay for one of your orders again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {
    /// One of your orders, PAYMENT_FAILED or PAYMENT_PENDING (404 for an order that is not
    /// yours, 409 `INVALID_TRANSITION` in any other status; 409 `CONFLICT`, with nothing
    /// charged, when a product of a PAYMENT_FAILED order was withdrawn or its vendor stopped
    /// delivering it since, or its delivery date has come).
    #[schema(schema_with = milkrun_domain::schema::uuid_required, required = true)]
    order_id: Option<String>,
    /// How to pay; replaces the order's payment method for a PAYMENT_FAILED order.
    #[schema(value_type = PaymentMethod, required = true)]
    method: Option<String>,
    #[schema(schema_with = payment_token_or_null)]
    payment_token: Option<String>,
}

/// What `POST /payments` did (202): the order's status when answered and its payment, if it
/// has one. A retried PAYMENT_FAILED order moves to PAYMENT_PENDING once its stock is
/// reserved again, then on as its checkout goes (follow it with `GET /orders/{orderId}` or
/// `GET /payments/{paymentId}`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentAcceptedBody {
    order_id: Uuid,
    status: OrderStatus,
    /// The order's payment record (absent before any charge was answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<Uuid>,
}

impl From<PaymentAccepted> for PaymentAcceptedBody {
    fn from(accepted: PaymentAccepted) -> Self {
        Self {
            order_id: accepted.order.order_id,
            status: accepted.order.status,
            payment_id: accepted.payment_id,
        }
    }
}

/// One payment as its readers see it (there is no token on a payment, ever).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    payment_id: Uuid,
    order_id: Uuid,
    user_id: Uuid,
    amount: milkrun_domain::money::Money,
    method: PaymentMethod,
    status: PaymentStatus,
    /// Charge attempts the gateway saw for the order, failed ones included.
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    fraud_score: u32,
    /// What went back to the customer so far, the sum of `refunds` (at most `amount`);
    /// `status` is REFUNDED only when all of `amount` went back.
    refunded_amount: milkrun_domain::money::Money,
    /// Each refund made, oldest first: a cancelled order gives back only what was not
    /// delivered.
    refunds: Vec<milkrun_domain::payment::Refund>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Payment> for PaymentView {
    fn from(p: Payment) -> Self {
        Self {
            payment_id: p.payment_id,
            order_id: p.order_id,
            user_id: p.user_id,
            amount: p.amount,
            method: p.method,
            status: p.status,
            attempts: p.attempts,
            gateway_reference: p.gateway_reference,
            failure_reason: p.failure_reason,
            fraud_score: p.fraud_score,
            refunded_amount: p.refunded_amount,
            refunds: p.refunds,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A gateway's webhook, signed: `{paymentId?, orderId, status, gatewayReference?, timestamp}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBody {
    /// The payment's id, if the gateway knows ours (see [`webhook_payment_id`]).
    #[schema(schema_with = webhook_payment_id)]
    payment_id: Option<String>,
    /// The order paid for (404 if unknown).
    #[schema(schema_with = milkrun_domain::schema::uuid_required, required = true)]
    order_id: Option<String>,
    #[schema(schema_with = reported_status, required = true)]
    status: Option<String>,
    #[schema(schema_with = gateway_reference_or_null)]
    gateway_reference: Option<String>,
    #[schema(schema_with = timestamp_required, required = true)]
    timestamp: Option<String>,
}

/// `{received: true}`: the webhook was taken (a duplicate too; it recorded nothing new).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceived {
    received: bool,
}

fn required_uuid(errors: &mut FieldErrors, field: &str, raw: Option<&str>) -> Option<Uuid> {
    let parsed = raw.and_then(parse_uuid);
    match raw {
        None => errors.add(field, "is required"),
        Some(_) if parsed.is_none() => errors.add(field, "must be a UUID"),
        Some(_) => {}
    }
    parsed
}

/// Printable ASCII without spaces, 1 to `max` characters.
fn printable_text(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Option<String> {
    let raw = raw?;
    let ok = !raw.is_empty() && raw.len() <= max && raw.bytes().all(|b| (b'!'..=b'~').contains(&b));
    if !ok {
        errors.add(
            field,
            format!("must be 1 to {max} printable ASCII characters without spaces"),
        );
        return None;
    }
    Some(raw.to_owned())
}

fn pay_order(body: &PayRequest) -> Result<PayOrder, DomainError> {
    let mut errors = FieldErrors::new();
    let order_id = required_uuid(&mut errors, "orderId", body.order_id.as_deref());
    let method = match body.method.as_deref() {
        None => {
            errors.add("method", "is required");
            None
        }
        Some(raw) => errors.check("method", PaymentMethod::parse(raw)),
    };
    let token = printable_text(
        &mut errors,
        "paymentToken",
        body.payment_token.as_deref(),
        MAX_TOKEN_CHARS,
    );
    errors.into_result(|| PayOrder {
        order_id: order_id.expect("checked"),
        method: method.expect("checked"),
        token,
    })
}

fn gateway_notice(body: &WebhookBody) -> Result<GatewayNotice, DomainError> {
    let mut errors = FieldErrors::new();
    let payment_id = match body.payment_id.as_deref() {
        None => None,
        Some(raw) => {
            let parsed = parse_uuid(raw);
            if parsed.is_none() {
                errors.add("paymentId", "must be a UUID");
            }
            parsed
        }
    };
    let order_id = required_uuid(&mut errors, "orderId", body.order_id.as_deref());
    let status = match body.status.as_deref() {
        None => {
            errors.add("status", "is required");
            None
        }
        Some(raw) => match PaymentStatus::parse(raw) {
            Ok(PaymentStatus::Pending) | Err(_) => {
                errors.add("status", "must be one of SUCCEEDED, FAILED, REFUNDED");
                None
            }
            Ok(status) => Some(status),
        },
    };
    let gateway_reference = printable_text(
        &mut errors,
        "gatewayReference",
        body.gateway_reference.as_deref(),
        MAX_REFERENCE_CHARS,
    );
    let sent_at = match body.timestamp.as_deref() {
        None => {
            errors.add("timestamp", "is required");
            None
        }
        Some(raw) => match DateTime::parse_from_rfc3339(raw) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                errors.add("timestamp", "must be an RFC 3339 date and time");
                None
            }
        },
    };
    errors.into_result(|| GatewayNotice {
        payment_id,
        order_id: order_id.expect("checked"),
        status: status.expect("checked"),
        gateway_reference,
        sent_at: sent_at.expect("checked"),
    })
}

#[utoipa::path(post, path = "/payments", tag = "payments", security(("bearer" = [])), request_body = PayRequest,
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$",
        description = "1 to 255 printable ASCII characters, no surrounding spaces. The same key with the same body answers the first answer again without a second retry; with a different body 422 `IDEMPOTENCY_KEY_REUSED`; while the first is still running 409 `IDEMPOTENCY_IN_PROGRESS`.")),
    description = "Pays for one of the caller's orders again. A PAYMENT_FAILED order takes the method and token sent and its checkout starts again: stock is reserved again, then the checkout's payment step charges (money is only ever taken there). A PAYMENT_PENDING order is being charged already: nothing changes and nothing starts, the answer is its current state. A PAYMENT_FAILED order that can no longer be sold as placed (a product withdrawn, or its vendor no longer active, serving the address or selling it) or whose delivery date has come is 409 `CONFLICT`, and nothing is charged. Customers only (403 otherwise); an order that is not the caller's is 404.",
    responses((status = 202, body = PaymentAcceptedBody, description = "Accepted: the order's checkout charges it (or already is); the body tells the order's state."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn pay(
    State(service): State<PaymentService>,
    CustomerActor(caller): CustomerActor,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request: PayRequest = parse_json(&body)?;
    let order = pay_order(&request)?;
    let fingerprinted: Value = parse_json(&body)?;
    let key = claim_key(&headers, SCOPE, caller.user.user_id)?;
    let stored = idempotent(service.idempotency(), key, &fingerprinted, |_| async {
        let accepted = service.pay(&caller.audit, order).await?;
        let body = serde_json::to_value(PaymentAcceptedBody::from(accepted))
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        Ok(Answer::later(StatusCode::ACCEPTED, body))
    })
    .await?;
    Ok(respond(stored))
}

#[utoipa::path(get, path = "/payments/{paymentId}", tag = "payments", security(("bearer" = [])),
    params(("paymentId" = Uuid, Path)),
    description = "One payment, for the customer who owns it, managers and admins; anyone else, and an id that is not a UUID, is 404. A payment carries no payment token.",
    responses((status = 200, body = PaymentView, description = "The payment."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_payment(
    State(service): State<PaymentService>,
    caller: Actor,
    ApiPath(payment_id): ApiPath<String>,
) -> ApiResult<Json<PaymentView>> {
    let payment_id = parse_uuid(&payment_id).ok_or(DomainError::NotFound("payment"))?;
    let payment = service
        .payment(caller.user.user_id, caller.user.role, payment_id)
        .await?;
    Ok(Json(PaymentView::from(payment)))
}

#[utoipa::path(post, path = "/payments/webhook", tag = "payments", request_body = WebhookBody,
    params(("X-Signature" = String, Header,
        description = "`sha256=<hex>`: the HMAC-SHA256 of the raw request body under the webhook secret. Missing or wrong is 401 `UNAUTHORIZED`, checked before the body is read as JSON.")),
    description = "The payment gateway's report of a payment (no bearer token: the signature authenticates it). Records the payment's new status once (a duplicate delivery records nothing new and is answered the same); a SUCCEEDED payment of a PAYMENT_PENDING order is put on the order so the checkout does not charge it again. Never moves the order: the checkout confirms it.",
    responses((status = 200, body = WebhookReceived, description = "The report is recorded (a repeated report changes nothing and gets the same answer)."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "`UNAUTHORIZED`: the `X-Signature` is missing or wrong."), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn payment_webhook(
    State(service): State<PaymentService>,
    GuestActor(actor): GuestActor,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<WebhookReceived>> {
    let header = headers
        .get(signature::HEADER)
        .and_then(|value| value.to_str().ok());
    service.verify_signature(header, &body)?;
    let notice = gateway_notice(&parse_json::<WebhookBody>(&body)?)?;
    service.notify(&actor, notice, Utc::now()).await?;
    Ok(Json(WebhookReceived { received: true }))
}

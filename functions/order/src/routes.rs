//! The order service's HTTP surface. Who may do what is checked from the account as it is
//! now, before the body is read: customers place and cancel their own orders; managers and
//! admins read all and decide held ones; admins force moves. An order that is not the
//! caller's is a 404, the same as one that does not exist.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use milkrun_domain::checkout::{self, OrderLineInput};
use milkrun_domain::delivery::{Delivery, DeliveryStatus, DeliveryStatusChange};
use milkrun_domain::order::{Order, OrderStatus, StatusChange};
use milkrun_domain::payment::Payment;
use milkrun_domain::schema;
use milkrun_domain::user::AddressInput;
use milkrun_domain::values::{AddressLabel, DeliverySlot, PaymentMethod, Role, parse_uuid};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::idempotency::{Answer, claim_key, idempotent, respond};
use milkrun_http::json::parse_json;
use milkrun_http::{
    Actor, AdminActor, ApiError, ApiPath, ApiQuery, CustomerActor, ErrorBody, Paging, require_role,
};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::service::{AddressChoice, OrderService, PlaceOrder, PlacedBy, shown};

milkrun_http::service_routes! { OrderService;
    [place_order, list_orders]
    [get_order]
    [track_order]
    [cancel_order]
    [approve_order]
    [reject_order]
    [force_status]
}

type ApiResult<T> = Result<T, ApiError>;

/// An order to place: its lines (or the cart), where, when and how it is paid. Prices come
/// from the catalog, never from the request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewOrderBody {
    /// 1 to 32 lines (400 beyond), each (productId, variantId) once; leave out to order the
    /// cart (which is emptied once the order is placed). 32 keeps the largest transaction of
    /// the checkout, one delivery per vendor with its audit entry and event, within the 100
    /// writes a transaction may carry.
    #[schema(min_items = 1, max_items = 32)]
    items: Option<Vec<OrderLineInput>>,
    /// One of your saved addresses; without it (and without `deliveryAddress`) your default.
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9_-]{1,32}$")]
    address_label: Option<String>,
    /// An address for this order only (its label is `order`); sent with `addressLabel`, it is
    /// the one used.
    delivery_address: Option<AddressInput>,
    /// YYYY-MM-DD (400 otherwise), after today in Asia/Kolkata and at most 30 days ahead
    /// (409 `CONFLICT` otherwise).
    #[schema(value_type = String, format = Date)]
    delivery_date: Option<String>,
    #[schema(value_type = DeliverySlot)]
    delivery_slot: Option<String>,
    #[schema(value_type = PaymentMethod)]
    payment_method: Option<String>,
    /// Go ahead without the items vendors are short of, instead of failing OUT_OF_STOCK.
    #[serde(default)]
    allow_partial: Option<bool>,
    /// No promotion is running: any code but the empty one is refused (400).
    #[schema(value_type = Option<String>, max_length = 0)]
    promo_code: Option<String>,
    /// The simulated gateway's card token: `tok_ok` (default), `tok_decline`, `tok_flaky`.
    /// Used once for the charge and never shown again.
    #[schema(value_type = Option<String>, pattern = r"^[!-~]{1,64}$")]
    payment_token: Option<String>,
}

const MAX_TOKEN_CHARS: usize = 64;

fn required<'a>(errors: &mut FieldErrors, field: &str, raw: &'a Option<String>) -> Option<&'a str> {
    if raw.is_none() {
        errors.add(field, "is required");
    }
    raw.as_deref()
}

fn address_choice(body: &NewOrderBody, errors: &mut FieldErrors) -> AddressChoice {
    let label = body
        .address_label
        .as_deref()
        .and_then(|label| errors.check("addressLabel", AddressLabel::parse(label)));
    match (&body.delivery_address, label) {
        (Some(input), _) => {
            let label = AddressLabel::parse("order").expect("a valid label");
            match input.clone().parse(label) {
                Ok(address) => AddressChoice::Given(address),
                Err(DomainError::Validation(fields)) => {
                    for (field, problem) in fields.fields() {
                        errors.add(&format!("deliveryAddress.{field}"), problem.clone());
                    }
                    AddressChoice::Default
                }
                Err(_) => AddressChoice::Default,
            }
        }
        (None, Some(label)) => AddressChoice::Label(label),
        (None, None) => AddressChoice::Default,
    }
}

/// Every field checked, every problem named at once.
fn checked(body: NewOrderBody, by: PlacedBy) -> Result<PlaceOrder, DomainError> {
    let mut errors = FieldErrors::new();
    let lines = match &body.items {
        None => None,
        Some(items) => match checkout::parse_lines(items) {
            Ok(lines) => Some(lines),
            Err(DomainError::Validation(fields)) => {
                for (field, problem) in fields.fields() {
                    errors.add(field, problem.clone());
                }
                None
            }
            Err(other) => return Err(other),
        },
    };
    let address = address_choice(&body, &mut errors);
    let now = chrono::Utc::now();
    let date = required(&mut errors, "deliveryDate", &body.delivery_date)
        .and_then(|raw| errors.check("deliveryDate", checkout::parse_date(raw)));
    let slot = required(&mut errors, "deliverySlot", &body.delivery_slot)
        .and_then(|raw| errors.check("deliverySlot", DeliverySlot::parse(raw)));
    let method = required(&mut errors, "paymentMethod", &body.payment_method)
        .and_then(|raw| errors.check("paymentMethod", PaymentMethod::parse(raw)));
    if body
        .promo_code
        .as_deref()
        .is_some_and(|code| !code.is_empty())
    {
        errors.add("promoCode", "no promotion is running");
    }
    let token = body.payment_token.filter(|t| {
        let fits =
            !t.is_empty() && t.len() <= MAX_TOKEN_CHARS && t.bytes().all(|b| b.is_ascii_graphic());
        if !fits {
            errors.add("paymentToken", "must be 1 to 64 printable ASCII characters");
        }
        fits
    });
    let items_given = body.items.is_some();
    errors.into_result(|| ())?;
    // A well-formed date outside the window is a conflict with the calendar, not a malformed
    // field: no schema can say "after today", so the contract check expects it as a 409.
    let date = checkout::check_delivery_date(date.expect("checked"), now)
        .map_err(|problem| DomainError::conflict(format!("deliveryDate {}.", problem.0)))?;
    Ok(PlaceOrder {
        by,
        lines: lines.filter(|_| items_given),
        address,
        delivery_date: date,
        delivery_slot: slot.expect("checked"),
        payment_method: method.expect("checked"),
        allow_partial: body.allow_partial.unwrap_or(false),
        payment_token: token,
        order_id: None,
        subscription_id: None,
    })
}

/// `{orderId, status}`: the order is PENDING and its checkout has started.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    order_id: Uuid,
    #[schema(value_type = OrderStatus)]
    status: String,
}

#[utoipa::path(post, path = "/orders", tag = "orders", security(("bearer" = [])), request_body = NewOrderBody,
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$",
        description = "1 to 255 printable ASCII characters, no surrounding spaces: the same key with the same body answers the first response again; with another body 422; while the first runs 409")),
    responses((status = 201, body = PlacedOrder, description = "The order is PENDING and its checkout has started; follow it with `GET /orders/{orderId}/track`."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn place_order(
    State(service): State<OrderService>,
    CustomerActor(caller): CustomerActor,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let key = claim_key(&headers, "orders", caller.user.user_id)?;
    let raw: serde_json::Value = parse_json(&body)?;
    let request: NewOrderBody = parse_json(&body)?;
    let by = PlacedBy::Customer {
        user_id: caller.user.user_id,
    };
    let store = service.stores().idempotency.clone();
    let stored = idempotent(store.as_ref(), key, &raw, |completion| async {
        let request = checked(request, by)?;
        let placed = service
            .placement()
            .place(&caller.audit, request, completion)
            .await?;
        Ok(Answer::recorded(placed.answer()))
    })
    .await?;
    Ok(respond(stored))
}

/// `?status=` (managers and admins) and paging.
#[derive(Debug, Deserialize)]
pub struct OrderQuery {
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for OrderQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let status = schema::query_param(
            "status",
            false,
            "Managers and admins: only orders in this status (a customer's filter is a 403).",
            OrderStatus::schema(),
        );
        std::iter::once(status)
            .chain(schema::paging_params())
            .collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderList {
    items: Vec<Order>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/orders", tag = "orders", security(("bearer" = [])), params(OrderQuery),
    responses((status = 200, body = OrderList, description = "One page of orders: a customer's own, or for managers and admins every order."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
async fn list_orders(
    State(service): State<OrderService>,
    caller: Actor,
    paging: Paging,
    ApiQuery(query): ApiQuery<OrderQuery>,
) -> ApiResult<Json<OrderList>> {
    let caller = require_role(caller, &[Role::Customer, Role::Manager, Role::Admin])?;
    let mut errors = FieldErrors::new();
    let status = match (&query.status, caller.user.role) {
        (None, _) => None,
        (Some(_), Role::Customer) => {
            return Err(ApiError::forbidden(
                "Filtering orders by status is for managers and admins.",
            ));
        }
        (Some(raw), _) => errors.check("status", OrderStatus::parse(raw)),
    };
    let scope = format!("orders|{}|{status:?}", caller.user.user_id);
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    errors.into_result(|| ())?;
    let listed = service.list(&caller.user, status, &page?).await?;
    let listed = paging.seal(&scope, listed);
    Ok(Json(OrderList {
        items: listed.items,
        next_cursor: listed.next_cursor,
    }))
}

/// An order id from the path: anything but a UUID names no order.
fn order_id(raw: &str) -> Result<Uuid, ApiError> {
    parse_uuid(raw).ok_or_else(|| DomainError::NotFound("order").into())
}

/// The order at `id` with its payment and deliveries, for its owner, managers and admins.
async fn readable_detail(
    service: &OrderService,
    caller: Actor,
    id: &str,
) -> ApiResult<crate::service::OrderDetail> {
    let caller = require_role(caller, &[Role::Customer, Role::Manager, Role::Admin])?;
    Ok(service.detail(&caller.user, order_id(id)?).await?)
}

/// An order with its payment (if any) and its deliveries.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    #[serde(flatten)]
    order: Order,
    payment: Option<Payment>,
    deliveries: Vec<Delivery>,
}

#[utoipa::path(get, path = "/orders/{orderId}", tag = "orders", security(("bearer" = [])),
    params(("orderId" = Uuid, Path)),
    responses((status = 200, body = OrderView, description = "The order, with its payment (if any) and its deliveries."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_order(
    State(service): State<OrderService>,
    caller: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OrderView>> {
    let detail = readable_detail(&service, caller, &id).await?;
    Ok(Json(OrderView {
        order: detail.order,
        payment: detail.payment,
        deliveries: detail.deliveries,
    }))
}

/// One delivery's progress.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryTrack {
    delivery_id: Uuid,
    vendor_id: Uuid,
    status: DeliveryStatus,
    status_history: Vec<DeliveryStatusChange>,
}

/// The order's timeline, oldest first, and where each delivery is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderTrack {
    order_id: Uuid,
    status: OrderStatus,
    timeline: Vec<StatusChange>,
    deliveries: Vec<DeliveryTrack>,
}

#[utoipa::path(get, path = "/orders/{orderId}/track", tag = "orders", security(("bearer" = [])),
    params(("orderId" = Uuid, Path)),
    responses((status = 200, body = OrderTrack, description = "The order's status, its timeline (oldest first) and where each delivery is."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn track_order(
    State(service): State<OrderService>,
    caller: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OrderTrack>> {
    let detail = readable_detail(&service, caller, &id).await?;
    let deliveries = detail
        .deliveries
        .into_iter()
        .map(|d| DeliveryTrack {
            delivery_id: d.delivery_id,
            vendor_id: d.vendor_id,
            status: d.status,
            status_history: d.status_history,
        })
        .collect();
    Ok(Json(OrderTrack {
        order_id: detail.order.order_id,
        status: detail.order.status,
        timeline: detail.order.status_history,
        deliveries,
    }))
}

#[utoipa::path(post, path = "/orders/{orderId}/cancel", tag = "orders", security(("bearer" = [])),
    params(("orderId" = Uuid, Path)),
    responses((status = 200, body = Order, description = "CANCELLED (REFUNDED when money was returned): its deliveries still on a round called off, the stock of every vendor that did not deliver released (delivered units stay out)."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_order(
    State(service): State<OrderService>,
    caller: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Order>> {
    let caller = require_role(caller, &[Role::Customer, Role::Admin])?;
    let order = service
        .cancel(&caller.user, &caller.audit, order_id(&id)?)
        .await?;
    Ok(Json(order))
}

#[utoipa::path(post, path = "/orders/{orderId}/approve", tag = "orders", security(("bearer" = [])),
    params(("orderId" = Uuid, Path)),
    responses((status = 200, body = Order, description = "CONFIRMED; checkout continues with the deliveries."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn approve_order(
    State(service): State<OrderService>,
    caller: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Order>> {
    let caller = require_role(caller, &[Role::Manager, Role::Admin])?;
    let order = service
        .actions()
        .approve(order_id(&id)?, &caller.audit)
        .await?;
    Ok(Json(shown(order)))
}

#[utoipa::path(post, path = "/orders/{orderId}/reject", tag = "orders", security(("bearer" = [])),
    params(("orderId" = Uuid, Path)),
    responses((status = 200, body = Order, description = "CANCELLED (then REFUNDED); stock released."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn reject_order(
    State(service): State<OrderService>,
    caller: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Order>> {
    let caller = require_role(caller, &[Role::Manager, Role::Admin])?;
    let order = service
        .actions()
        .reject(order_id(&id)?, &caller.audit)
        .await?;
    Ok(Json(shown(order)))
}

/// `{status, reason?}`: the status to move the order to; a move the order's status table
/// does not have is 409 `INVALID_TRANSITION`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusBody {
    #[schema(value_type = OrderStatus)]
    status: Option<String>,
    /// Kept in the order's timeline.
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"\S")]
    reason: Option<String>,
}

/// An admin's forced move along the order's status table: PENDING → PAYMENT_PENDING,
/// FAILED or CANCELLED; PAYMENT_PENDING → CONFIRMED, ON_HOLD, PAYMENT_FAILED or CANCELLED;
/// PAYMENT_FAILED → PAYMENT_PENDING or CANCELLED; ON_HOLD → CONFIRMED or CANCELLED;
/// CONFIRMED → PREPARING or CANCELLED; PREPARING → OUT_FOR_DELIVERY or CANCELLED;
/// OUT_FOR_DELIVERY → DELIVERED or CANCELLED; CANCELLED or DELIVERED → REFUNDED. The move
/// brings what it brings when the workflow makes it: CANCELLED gives stock and money back,
/// REFUNDED refunds, ON_HOLD → CONFIRMED approves, PREPARING schedules the deliveries,
/// DELIVERED commits the stock, FAILED and PAYMENT_FAILED release it. The moves only the
/// checkout makes (PENDING or PAYMENT_FAILED → PAYMENT_PENDING, PAYMENT_PENDING → CONFIRMED
/// or ON_HOLD) are 409 `INVALID_TRANSITION`, as is any move the table does not have.
#[utoipa::path(patch, path = "/orders/{orderId}/status", tag = "orders", security(("bearer" = [])),
    params(("orderId" = Uuid, Path)), request_body = StatusBody,
    responses((status = 200, body = Order, description = "The order in its new status, with what the move brings done."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn force_status(
    State(service): State<OrderService>,
    AdminActor(caller): AdminActor,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<Order>> {
    let id = order_id(&id)?;
    let body: StatusBody = parse_json(&body)?;
    let mut errors = FieldErrors::new();
    let status = required(&mut errors, "status", &body.status)
        .and_then(|raw| errors.check("status", OrderStatus::parse(raw)));
    let reason = body.reason.filter(|r| {
        let fits = !r.trim().is_empty() && r.chars().count() <= 200;
        if !fits {
            errors.add("reason", "must be at most 200 characters, not all spaces");
        }
        fits
    });
    let status = errors.into_result(|| status.expect("checked"))?;
    let order = service
        .actions()
        .force(id, status, &caller.audit, reason)
        .await?;
    Ok(Json(shown(order)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document states the limit the checkout's transaction budget derives.
    #[test]
    fn the_documented_line_limit_is_the_one_enforced() {
        let schema = serde_json::to_value(NewOrderBody::schema()).unwrap();
        let items = &schema["properties"]["items"];
        assert_eq!(
            items["maxItems"].as_u64(),
            Some(milkrun_domain::cart::MAX_LINES as u64),
            "{items}"
        );
    }
}

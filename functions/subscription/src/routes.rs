//! The subscription service's HTTP surface: a customer's subscriptions, vacation, calendar
//! and wallet (theirs only: another's subscription is a 404), and an administrator's reads.
//! The subscription run by hand is [`crate::job_routes`], a function of its own.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use milkrun_domain::calendar::{MAX_CALENDAR_DAYS, PlannedDay, Skip};
use milkrun_domain::checkout::{calendar_days, parse_date};
use milkrun_domain::money::{Money, MoneyInput};
use milkrun_domain::subscription::{Subscription, Vacation};
use milkrun_domain::values::{Role, parse_uuid};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::idempotency::{Answer, claim_key, idempotent, respond};
use milkrun_http::json::parse_json;
use milkrun_http::query::date_query;
use milkrun_http::{
    Actor, ApiError, ApiPath, ApiQuery, CustomerActor, ErrorBody, Paging, require_role,
};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::Api;
use crate::input::{ChangeBody, DATE_PATTERN, NewSubscriptionBody};
use crate::wallet::{Statement, Topup, WalletView};

milkrun_http::service_routes! { Api;
    [create_subscription, list_subscriptions]
    [read_subscription, change_subscription, cancel_subscription]
    [change_day, undo_day_change]
    [set_vacation, end_vacation]
    [calendar]
    [view_wallet]
    [top_up]
    [statement]
}

type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn date_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(DATE_PATTERN))
        .build()
}

pub(crate) fn query_param(
    name: &str,
    required: bool,
    description: &str,
    schema: utoipa::openapi::Object,
) -> Parameter {
    milkrun_domain::schema::query_param(name, required, description, schema)
}

fn subscription_id(raw: &str) -> Result<Uuid, ApiError> {
    parse_uuid(raw).ok_or_else(|| DomainError::NotFound("subscription").into())
}

fn path_date(raw: &str) -> Result<NaiveDate, ApiError> {
    calendar_days(&[Some(raw)])?;
    parse_date(raw)
        .map_err(|problem| DomainError::Validation(FieldErrors::single("date", problem.0)).into())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionList {
    items: Vec<Subscription>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionQuery {
    user_id: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl IntoParams for SubscriptionQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let user = milkrun_domain::schema::query_param(
            "userId",
            false,
            "Administrators: one customer's subscriptions (a customer's filter is a 403).",
            milkrun_domain::schema::uuid_required(),
        );
        std::iter::once(user)
            .chain(milkrun_domain::schema::paging_params())
            .collect()
    }
}

#[utoipa::path(post, path = "/subscriptions", tag = "subscriptions", security(("bearer" = [])), request_body = NewSubscriptionBody,
    responses((status = 201, body = Subscription, description = "The subscription, ACTIVE from its startDate."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "No active product has that variant, or no address of yours that label."), (status = 409, body = ErrorBody, description = "`CUTOFF_PASSED` (startDate has closed; `details.nextDate` is the first open date); `CONFLICT`: too many subscriptions, startDate more than 366 days ahead, endDate before startDate, daysOfWeek without CUSTOM or CUSTOM without them."), (status = 413, body = ErrorBody)))]
async fn create_subscription(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Subscription>)> {
    let new = parse_json::<NewSubscriptionBody>(&body)?.parse()?;
    let made = api
        .subscriptions
        .create(&caller.audit, caller.user.user_id, new)
        .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

#[utoipa::path(get, path = "/subscriptions", tag = "subscriptions", security(("bearer" = [])), params(SubscriptionQuery),
    responses((status = 200, body = SubscriptionList, description = "A customer's own subscriptions, or for administrators everyone's (or one customer's), newest first."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
async fn list_subscriptions(
    State(api): State<Api>,
    caller: Actor,
    paging: Paging,
    ApiQuery(query): ApiQuery<SubscriptionQuery>,
) -> ApiResult<Json<SubscriptionList>> {
    let caller = require_role(caller, &[Role::Customer, Role::Admin])?;
    let mut errors = FieldErrors::new();
    let user = match (caller.user.role, query.user_id.as_deref()) {
        (Role::Customer, Some(_)) => {
            return Err(ApiError::forbidden(
                "Listing another customer's subscriptions is for admins.",
            ));
        }
        (Role::Customer, None) => Some(caller.user.user_id),
        (_, None) => None,
        (_, Some(raw)) => {
            let parsed = parse_uuid(raw);
            if parsed.is_none() {
                errors.add("userId", "must be a UUID");
            }
            parsed
        }
    };
    let scope = format!("subscriptions|{}|{user:?}", caller.user.user_id);
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    errors.into_result(|| ())?;
    let listed = paging.seal(&scope, api.subscriptions.list(user, &page?).await?);
    Ok(Json(SubscriptionList {
        items: listed.items,
        next_cursor: listed.next_cursor,
    }))
}

#[utoipa::path(get, path = "/subscriptions/{subscriptionId}", tag = "subscriptions", security(("bearer" = [])),
    params(("subscriptionId" = Uuid, Path)),
    responses((status = 200, body = Subscription, description = "The subscription, for its owner and administrators."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn read_subscription(
    State(api): State<Api>,
    caller: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Subscription>> {
    let caller = require_role(caller, &[Role::Customer, Role::Admin])?;
    let id = subscription_id(&id)?;
    let found = match caller.user.role {
        Role::Admin => api.subscriptions.get_any(id).await?,
        _ => api.subscriptions.get(caller.user.user_id, id).await?,
    };
    Ok(Json(found))
}

#[utoipa::path(patch, path = "/subscriptions/{subscriptionId}", tag = "subscriptions", security(("bearer" = [])),
    params(("subscriptionId" = Uuid, Path)), request_body = ChangeBody,
    responses((status = 200, body = Subscription, description = "The subscription as changed: paused, resumed or edited."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`CUTOFF_PASSED`: the change would alter a date whose orders closed (`details.nextDate`: ask again with `effectiveFrom`); `CONFLICT`: the subscription is cancelled, or the fields do not go together (daysOfWeek for CUSTOM only, endDate before startDate or today, pausedUntil not after today or without a pause, effectiveFrom more than 31 days ahead or with a slot, address or weekdays change)."), (status = 413, body = ErrorBody)))]
async fn change_subscription(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<Subscription>> {
    let id = subscription_id(&id)?;
    let change = parse_json::<ChangeBody>(&body)?.parse()?;
    Ok(Json(
        api.subscriptions
            .change(&caller.audit, caller.user.user_id, id, change)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelQuery {
    effective_from: Option<String>,
}

impl IntoParams for CancelQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![query_param(
            "effectiveFrom",
            false,
            "An open date: the subscription ends the day before it instead of at once (how a cancel refused with CUTOFF_PASSED is asked again for nextDate).",
            date_schema(),
        )]
    }
}

#[utoipa::path(delete, path = "/subscriptions/{subscriptionId}", tag = "subscriptions", security(("bearer" = [])),
    params(("subscriptionId" = Uuid, Path), CancelQuery),
    responses((status = 200, body = Subscription, description = "CANCELLED, or with `effectiveFrom` ending the day before it."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`CUTOFF_PASSED`: a closed date would lose its delivery (`details.nextDate`).")))]
async fn cancel_subscription(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<CancelQuery>,
) -> ApiResult<Json<Subscription>> {
    let id = subscription_id(&id)?;
    let mut errors = FieldErrors::new();
    let from = date_query(
        &mut errors,
        "effectiveFrom",
        query.effective_from.as_deref(),
    )?;
    errors.into_result(|| ())?;
    Ok(Json(
        api.subscriptions
            .cancel(&caller.audit, caller.user.user_id, id, from)
            .await?,
    ))
}

/// `{quantity}`: that day's units, 0 to 100 (0 skips the day).
#[derive(Debug, Deserialize, ToSchema)]
pub struct DayQuantity {
    #[schema(value_type = u32, minimum = 0, maximum = 100, required = true)]
    quantity: Option<serde_json::Value>,
}

#[utoipa::path(put, path = "/subscriptions/{subscriptionId}/days/{date}", tag = "subscriptions", security(("bearer" = [])),
    params(("subscriptionId" = Uuid, Path), ("date" = String, Path, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")), request_body = DayQuantity,
    responses((status = 200, body = Subscription, description = "The subscription with that day's quantity changed."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`CUTOFF_PASSED`: the date has closed (`details.nextDate`); `CONFLICT`: the subscription is cancelled, or the date is more than 366 days ahead."), (status = 413, body = ErrorBody)))]
async fn change_day(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    ApiPath((id, date)): ApiPath<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Subscription>> {
    let id = subscription_id(&id)?;
    let date = path_date(&date)?;
    let body: DayQuantity = parse_json(&body)?;
    let quantity = body
        .quantity
        .as_ref()
        .and_then(|raw| milkrun_domain::values::whole_number(raw, 0, 100))
        .ok_or_else(|| {
            DomainError::Validation(FieldErrors::single(
                "quantity",
                "must be a whole number from 0 to 100",
            ))
        })?;
    let changed = api.subscriptions.change_day(
        &caller.audit,
        caller.user.user_id,
        id,
        date,
        Some(quantity as u32),
    );
    Ok(Json(changed.await?))
}

#[utoipa::path(delete, path = "/subscriptions/{subscriptionId}/days/{date}", tag = "subscriptions", security(("bearer" = [])),
    params(("subscriptionId" = Uuid, Path), ("date" = String, Path, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")),
    responses((status = 200, body = Subscription, description = "The subscription with that day back to its usual quantity."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`CUTOFF_PASSED`: the date has closed (`details.nextDate`).")))]
async fn undo_day_change(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    ApiPath((id, date)): ApiPath<(String, String)>,
) -> ApiResult<Json<Subscription>> {
    let id = subscription_id(&id)?;
    let date = path_date(&date)?;
    let changed = api
        .subscriptions
        .change_day(&caller.audit, caller.user.user_id, id, date, None);
    Ok(Json(changed.await?))
}

/// `{from, until}`: both ends included.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VacationBody {
    #[schema(value_type = String, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", required = true)]
    from: Option<String>,
    #[schema(value_type = String, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", required = true)]
    until: Option<String>,
}

#[utoipa::path(put, path = "/subscriptions/vacation", tag = "subscriptions", security(("bearer" = [])), request_body = VacationBody,
    responses((status = 200, body = Vacation, description = "The vacation: every subscription of yours holds on those days."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "`CUTOFF_PASSED`: it would change a date whose orders closed (`details.nextDate`); `CONFLICT`: until before from, or more than 366 days ahead."), (status = 413, body = ErrorBody)))]
async fn set_vacation(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    body: Bytes,
) -> ApiResult<Json<Vacation>> {
    let body: VacationBody = parse_json(&body)?;
    calendar_days(&[body.from.as_deref(), body.until.as_deref()])?;
    let mut errors = FieldErrors::new();
    let mut date = |field: &str, raw: Option<&str>| match raw {
        None => {
            errors.add(field, "is required");
            None
        }
        Some(raw) => errors.check(field, parse_date(raw)),
    };
    let (from, until) = (
        date("from", body.from.as_deref()),
        date("until", body.until.as_deref()),
    );
    let vacation = errors.into_result(|| Vacation {
        from: from.expect("checked"),
        until: until.expect("checked"),
    })?;
    Ok(Json(
        api.subscriptions
            .set_vacation(&caller.audit, caller.user.user_id, vacation)
            .await?,
    ))
}

/// What is left of the vacation after ending it: the days already closed, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct VacationLeft {
    vacation: Option<Vacation>,
}

#[utoipa::path(delete, path = "/subscriptions/vacation", tag = "subscriptions", security(("bearer" = [])),
    responses((status = 200, body = VacationLeft, description = "The vacation ended from the first open date; closed days stay away."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn end_vacation(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
) -> ApiResult<Json<VacationLeft>> {
    let vacation = api
        .subscriptions
        .end_vacation(&caller.audit, caller.user.user_id)
        .await?;
    Ok(Json(VacationLeft { vacation }))
}

#[derive(Debug, Deserialize)]
pub struct CalendarQuery {
    from: Option<String>,
    days: Option<String>,
}

impl IntoParams for CalendarQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let days = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_CALENDAR_DAYS))
            .build();
        vec![
            query_param(
                "from",
                false,
                "The first day (default: tomorrow in Asia/Kolkata).",
                date_schema(),
            ),
            query_param("days", false, "How many days, 1 to 31 (default 7).", days),
        ]
    }
}

/// One subscription on one day: what comes and its price, or why not (NOT_STARTED, ENDED,
/// CANCELLED, NOT_SCHEDULED, PAUSED, VACATION, SKIPPED, PRODUCT_UNAVAILABLE,
/// INSUFFICIENT_BALANCE, ORDER_CALLED_OFF: the run's order failed or was cancelled).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarItem {
    subscription_id: Uuid,
    product_id: Uuid,
    variant_id: Uuid,
    delivers: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarDay {
    date: NaiveDate,
    total: Money,
    items: Vec<CalendarItem>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Calendar {
    /// The wallet's balance now; each wallet day is taken from what the days before left.
    balance: Money,
    days: Vec<CalendarDay>,
}

/// The reason a calendar names for a skip.
pub fn skip_reason(skip: Skip) -> String {
    match skip {
        Skip::Rule(reason) => reason.to_string(),
        Skip::Unavailable => "PRODUCT_UNAVAILABLE".to_owned(),
        Skip::BalanceTooLow => "INSUFFICIENT_BALANCE".to_owned(),
        Skip::CalledOff => "ORDER_CALLED_OFF".to_owned(),
    }
}

fn calendar_day(day: PlannedDay) -> CalendarDay {
    let total = day.total();
    let items = day
        .items
        .into_iter()
        .map(|item| CalendarItem {
            subscription_id: item.subscription_id,
            product_id: item.product_id,
            variant_id: item.variant_id,
            delivers: item.outcome.is_ok(),
            quantity: item.outcome.as_ref().ok().map(|d| d.quantity),
            price: item.outcome.as_ref().ok().map(|d| d.price),
            reason: item.outcome.err().map(skip_reason),
        })
        .collect();
    CalendarDay {
        date: day.date,
        total,
        items,
    }
}

#[utoipa::path(get, path = "/subscriptions/calendar", tag = "subscriptions", security(("bearer" = [])), params(CalendarQuery),
    responses((status = 200, body = Calendar, description = "Each coming day: what will come at what price, or why not."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "`from` is well-formed but no day of the calendar (2030-02-30).")))]
async fn calendar(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    ApiQuery(query): ApiQuery<CalendarQuery>,
) -> ApiResult<Json<Calendar>> {
    let mut errors = FieldErrors::new();
    let from = date_query(&mut errors, "from", query.from.as_deref())?;
    let days = match query.days.as_deref() {
        None => Some(7),
        Some(raw) => {
            let parsed = raw
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_CALENDAR_DAYS).contains(d));
            if parsed.is_none() {
                errors.add("days", "must be a whole number from 1 to 31");
            }
            parsed
        }
    };
    errors.into_result(|| ())?;
    let (planned, balance) = api
        .subscriptions
        .calendar(caller.user.user_id, from, days.expect("checked"))
        .await?;
    Ok(Json(Calendar {
        balance,
        days: planned.into_iter().map(calendar_day).collect(),
    }))
}

#[utoipa::path(get, path = "/wallet", tag = "wallet", security(("bearer" = [])),
    responses((status = 200, body = WalletView, description = "The balance and the newest ledger entries."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn view_wallet(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
) -> ApiResult<Json<WalletView>> {
    Ok(Json(api.wallet.view(caller.user.user_id).await?))
}

/// `{amount, paymentToken?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopupBody {
    /// What to add: 1 to 1,000,000,000 paise (the balance may not pass that either: 409).
    #[schema(schema_with = topup_amount, required = true)]
    amount: Option<MoneyInput>,
    /// The simulated gateway's token: `tok_ok` (default), `tok_decline`, `tok_flaky`.
    #[schema(value_type = Option<String>, pattern = r"^[!-~]{1,64}$")]
    payment_token: Option<String>,
}

/// `{amount, currency?}` with the amount 1 paise at least.
fn topup_amount() -> utoipa::openapi::Object {
    let paise = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(milkrun_domain::money::MAX_AMOUNT))
        .description(Some("Paise."));
    let currency = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["INR"]));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("amount", paise)
        .required("amount")
        .property("currency", currency)
        .build()
}

#[utoipa::path(post, path = "/wallet/topups", tag = "wallet", security(("bearer" = [])), request_body = TopupBody,
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", description = "The same key charges and credits once, however often it is sent (422 `IDEMPOTENCY_KEY_REUSED` with another body); without one each request is a top-up of its own.")),
    responses((status = 201, body = Topup, description = "Charged and credited."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "The charge was declined (nothing charged), the key's first request is still running, or the balance would pass its cap."), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "`IDEMPOTENCY_KEY_REUSED` with another body.")))]
async fn top_up(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let user_id = caller.user.user_id;
    let key = claim_key(&headers, "wallet-topups", user_id)?;
    let raw: serde_json::Value = parse_json(&body)?;
    let parsed: TopupBody = parse_json(&body)?;
    let mut errors = FieldErrors::new();
    let amount = match &parsed.amount {
        None => {
            errors.add("amount", "is required");
            None
        }
        Some(amount) => errors.check("amount", amount.parse()).filter(|m| {
            let some = m.amount > 0;
            if !some {
                errors.add("amount", "must be 1 paise at least");
            }
            some
        }),
    };
    let token = parsed.payment_token;
    let fits =
        |t: &String| !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_graphic());
    if token.as_ref().is_some_and(|t| !fits(t)) {
        errors.add("paymentToken", "must be 1 to 64 printable ASCII characters");
    }
    errors.into_result(|| ())?;
    // The charge is keyed by the client's key, or (without one) by a fresh id: a retry
    // without a key is a second top-up, as a second POST /orders is a second order.
    let charge_key = match headers.get(milkrun_http::idempotency::HEADER) {
        Some(raw) => raw.to_str().unwrap_or_default().to_owned(),
        None => Uuid::now_v7().to_string(),
    };
    let stored = idempotent(api.idempotency.as_ref(), key, &raw, |_| async {
        let topup = api
            .wallet
            .top_up(
                &caller.audit,
                user_id,
                &charge_key,
                amount.expect("checked"),
                token,
            )
            .await?;
        let body = serde_json::to_value(topup).expect("a top-up serializes");
        Ok(Answer::later(StatusCode::CREATED, body))
    })
    .await?;
    Ok(respond(stored))
}

#[derive(Debug, Deserialize)]
pub struct StatementQuery {
    month: Option<String>,
}

impl IntoParams for StatementQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let month = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^\d{4}-(0[1-9]|1[0-2])$"))
            .build();
        vec![query_param(
            "month",
            true,
            "YYYY-MM, in Asia/Kolkata.",
            month,
        )]
    }
}

#[utoipa::path(get, path = "/wallet/statement", tag = "wallet", security(("bearer" = [])), params(StatementQuery),
    responses((status = 200, body = Statement, description = "The month's opening balance, every entry, closing balance and delivered days."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn statement(
    State(api): State<Api>,
    CustomerActor(caller): CustomerActor,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> ApiResult<Json<Statement>> {
    let month = query.month.filter(|m| m.len() == 7).ok_or_else(|| {
        ApiError::validation(&FieldErrors::single("month", "is required: YYYY-MM"))
    })?;
    Ok(Json(
        api.wallet.statement(caller.user.user_id, &month).await?,
    ))
}

//! The user service's HTTP surface: request/response shapes and one thin handler per route.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use milkrun_domain::notification::{Channel, MessageKind};
use milkrun_domain::schema;
use milkrun_domain::user::{
    Address, AddressInput, AdminUserChange, Device, Preferences, PreferencesChange, User,
};
use milkrun_domain::values::{DeliverySlot, Email, PaymentMethod, Role, UserStatus, parse_uuid};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::{
    Actor, AdminActor, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, ErrorBody, GuestActor,
    PageQuery, Paging,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::service::{ProfileChange, Registration, UserService};

milkrun_http::service_routes! { UserService;
    [register]
    [login]
    [check]
    [verify_email, verify_email_link]
    [get_me, patch_me]
    [put_address, delete_address]
    [put_preferences]
    [unsubscribe]
    [list_users]
    [get_user, patch_user]
}

type ApiResult<T> = Result<T, ApiError>;

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    #[schema(schema_with = schema::text_100, required = true)]
    name: Option<String>,
    /// One account per mailbox (409 if taken).
    #[schema(schema_with = schema::email_required, required = true)]
    email: Option<String>,
    /// 8 to 128 characters, any.
    #[schema(required = true, nullable = false, min_length = 8, max_length = 128)]
    password: Option<String>,
    #[schema(schema_with = schema::phone_or_null)]
    phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    user_id: Uuid,
    role: Role,
    is_profile_complete: bool,
}

#[utoipa::path(post, path = "/users/register", tag = "users", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse, description = "The account is created, as a customer; log in to get a token."), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "`CONFLICT`: an account already uses this email."), (status = 413, body = ErrorBody)))]
async fn register(
    State(service): State<UserService>,
    GuestActor(actor): GuestActor,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    let input = Registration {
        name: body.name,
        email: body.email,
        password: body.password,
        phone: body.phone,
    };
    let registered = service.register(input, &actor).await?;
    let response = RegisterResponse {
        user_id: registered.user_id,
        role: registered.role,
        is_profile_complete: registered.is_profile_complete,
    };
    Ok((StatusCode::CREATED, Json(response)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Any address may be tried; one that has no account is a 401 like a wrong password.
    #[schema(required = true, nullable = false, max_length = 254)]
    email: Option<String>,
    #[schema(required = true, nullable = false, max_length = 128)]
    password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    token: String,
    /// Seconds until the token expires.
    expires_in: i64,
    user_id: Uuid,
    role: Role,
    is_profile_complete: bool,
}

/// After 10 failed logins for one account, or 50 from one client, within 15 minutes, the
/// answer is 429 with `Retry-After` until the window ends.
#[utoipa::path(post, path = "/users/login", tag = "users", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse, description = "A bearer token for the account, how long it lasts, and who it is."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "`UNAUTHORIZED`: the email or the password is wrong (neither says which)."), (status = 403, body = ErrorBody, description = "`FORBIDDEN`: the account is disabled."), (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "`TOO_MANY_REQUESTS`: too many failed logins; retry after `Retry-After` seconds.", headers(("Retry-After" = u64, description = "Seconds until login may be tried again")))))]
async fn login(
    State(service): State<UserService>,
    GuestActor(actor): GuestActor,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let logged_in = service.login(body.email, body.password, &actor).await?;
    Ok(Json(LoginResponse {
        token: logged_in.token,
        expires_in: logged_in.expires_in,
        user_id: logged_in.user_id,
        role: logged_in.role,
        is_profile_complete: logged_in.is_profile_complete,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckRequest {
    #[schema(schema_with = schema::email_required, required = true)]
    email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    exists: bool,
}

#[utoipa::path(post, path = "/users/check", tag = "users", request_body = CheckRequest,
    responses((status = 200, body = CheckResponse, description = "Whether an account uses this email."), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn check(
    State(service): State<UserService>,
    ApiJson(body): ApiJson<CheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    Ok(Json(CheckResponse {
        exists: service.email_exists(body.email).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    /// The token from the welcome email; one that does not verify is a 401.
    #[schema(required = true, nullable = false, min_length = 1)]
    token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyEmailResponse {
    user_id: Uuid,
    email_verified: bool,
}

#[utoipa::path(post, path = "/users/verify-email", tag = "users", request_body = VerifyEmailRequest,
    responses((status = 200, body = VerifyEmailResponse, description = "The account's email is verified."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "`UNAUTHORIZED`: the token does not verify."), (status = 413, body = ErrorBody)))]
async fn verify_email(
    State(service): State<UserService>,
    GuestActor(actor): GuestActor,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> ApiResult<Json<VerifyEmailResponse>> {
    let user = service.verify_email(body.token, &actor).await?;
    Ok(Json(VerifyEmailResponse {
        user_id: user.user_id,
        email_verified: user.email_verified,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyEmailQuery {
    /// The token from the welcome email; one that does not verify is a 401.
    #[param(required = true, nullable = false, min_length = 1)]
    token: Option<String>,
}

/// The link in the welcome mail: the same verification, for a click.
#[utoipa::path(get, path = "/users/verify-email", tag = "users", params(VerifyEmailQuery),
    responses((status = 200, body = VerifyEmailResponse, description = "The account's email is verified."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "`UNAUTHORIZED`: the token does not verify.")))]
async fn verify_email_link(
    State(service): State<UserService>,
    GuestActor(actor): GuestActor,
    ApiQuery(query): ApiQuery<VerifyEmailQuery>,
) -> ApiResult<Json<VerifyEmailResponse>> {
    let user = service.verify_email(query.token, &actor).await?;
    Ok(Json(VerifyEmailResponse {
        user_id: user.user_id,
        email_verified: user.email_verified,
    }))
}

/// A user as clients see it: everything but the password hash and the storage version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    user_id: Uuid,
    email: Email,
    name: String,
    phone: Option<String>,
    role: Role,
    status: UserStatus,
    email_verified: bool,
    addresses: Vec<Address>,
    preferences: Preferences,
    devices: Vec<Device>,
    is_profile_complete: bool,
    profile_completion_prompted: bool,
    last_active_at: Option<DateTime<Utc>>,
    preferred_payment_method: Option<PaymentMethod>,
    order_count: u64,
    vendor_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<User> for UserProfile {
    fn from(user: User) -> Self {
        Self {
            user_id: user.user_id,
            email: user.email,
            name: user.name.into(),
            phone: user.phone.map(Into::into),
            role: user.role,
            status: user.status,
            email_verified: user.email_verified,
            addresses: user.addresses,
            preferences: user.preferences,
            devices: user.devices,
            is_profile_complete: user.is_profile_complete,
            profile_completion_prompted: user.profile_completion_prompted,
            last_active_at: user.last_active_at,
            preferred_payment_method: user.preferred_payment_method,
            order_count: user.order_count,
            vendor_id: user.vendor_id,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

fn profile(user: User) -> Json<UserProfile> {
    Json(user.into())
}

#[utoipa::path(get, path = "/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserProfile, description = "The caller's profile."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_me(
    State(service): State<UserService>,
    caller: AuthUser,
) -> ApiResult<Json<UserProfile>> {
    Ok(profile(service.me(caller.user_id).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchMeRequest {
    /// `null` keeps the name.
    #[schema(schema_with = schema::text_100_or_null)]
    name: Option<String>,
    /// `null` removes the phone.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schema::phone_or_null)]
    phone: Option<Option<String>>,
    profile_completion_prompted: Option<bool>,
}

#[utoipa::path(patch, path = "/users/me", tag = "users", security(("bearer" = [])), request_body = PatchMeRequest,
    responses((status = 200, body = UserProfile, description = "The caller's profile as it now is."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn patch_me(
    State(service): State<UserService>,
    actor: Actor,
    ApiJson(body): ApiJson<PatchMeRequest>,
) -> ApiResult<Json<UserProfile>> {
    let change = ProfileChange {
        name: body.name,
        phone: body.phone,
        profile_completion_prompted: body.profile_completion_prompted,
    };
    Ok(profile(service.update_me(&actor.audit, change).await?))
}

#[utoipa::path(put, path = "/users/me/addresses/{label}", tag = "users", security(("bearer" = [])), request_body = AddressInput,
    params(("label" = String, Path, description = "1 to 32 letters, digits, - or _", pattern = r"^[A-Za-z0-9_-]{1,32}$")),
    responses((status = 200, body = UserProfile, description = "The caller's profile with the address saved under that label."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The account already has 20 addresses"), (status = 413, body = ErrorBody)))]
async fn put_address(
    State(service): State<UserService>,
    actor: Actor,
    ApiPath(label): ApiPath<String>,
    ApiJson(body): ApiJson<AddressInput>,
) -> ApiResult<Json<UserProfile>> {
    Ok(profile(
        service.put_address(&actor.audit, &label, body).await?,
    ))
}

#[utoipa::path(delete, path = "/users/me/addresses/{label}", tag = "users", security(("bearer" = [])),
    params(("label" = String, Path, description = "A saved address's label; any other is a 404")),
    responses((status = 200, body = UserProfile, description = "The caller's profile without that address."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_address(
    State(service): State<UserService>,
    actor: Actor,
    ApiPath(label): ApiPath<String>,
) -> ApiResult<Json<UserProfile>> {
    Ok(profile(service.delete_address(&actor.audit, &label).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesRequest {
    delivery_slot: Option<DeliverySlot>,
    payment_method: Option<PaymentMethod>,
    #[serde(default)]
    newsletter_opt_in: bool,
    #[schema(schema_with = schema::notification_prefs_or_null)]
    notifications: Option<BTreeMap<MessageKind, BTreeSet<Channel>>>,
}

#[utoipa::path(put, path = "/users/me/preferences", tag = "users", security(("bearer" = [])), request_body = PreferencesRequest,
    responses((status = 200, body = UserProfile, description = "The caller's profile with its new preferences."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn put_preferences(
    State(service): State<UserService>,
    actor: Actor,
    ApiJson(body): ApiJson<PreferencesRequest>,
) -> ApiResult<Json<UserProfile>> {
    let change = PreferencesChange {
        delivery_slot: body.delivery_slot,
        payment_method: body.payment_method,
        newsletter_opt_in: body.newsletter_opt_in,
        notifications: body.notifications,
    };
    Ok(profile(
        service.put_preferences(&actor.audit, change).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// The token of a promotional mail's unsubscribe link; one that does not verify is a 401.
    #[param(required = true, nullable = false, min_length = 1, max_length = 4096)]
    token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnsubscribeResponse {
    user_id: Uuid,
    newsletter_opt_in: bool,
}

/// The link at the foot of every promotional mail: opts the account out of promotions,
/// without a login (the token names the account and can do nothing else).
#[utoipa::path(get, path = "/notifications/unsubscribe", tag = "notifications", params(UnsubscribeQuery),
    responses((status = 200, body = UnsubscribeResponse, description = "The account receives no more promotions (also when it had opted out already)."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "`UNAUTHORIZED`: the token does not verify.")))]
async fn unsubscribe(
    State(service): State<UserService>,
    GuestActor(actor): GuestActor,
    ApiQuery(query): ApiQuery<UnsubscribeQuery>,
) -> ApiResult<Json<UnsubscribeResponse>> {
    let user = service.unsubscribe(query.token, &actor).await?;
    Ok(Json(UnsubscribeResponse {
        user_id: user.user_id,
        newsletter_opt_in: user.preferences.newsletter_opt_in,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    items: Vec<UserProfile>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/users", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = UserList, description = "One page of accounts."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
async fn list_users(
    State(service): State<UserService>,
    _admin: AdminActor,
    paging: Paging,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<UserList>> {
    let mut errors = FieldErrors::new();
    let page = paging.request(
        USERS_SCOPE,
        query.limit.as_deref(),
        query.cursor,
        &mut errors,
    );
    errors.into_result(|| ())?;
    let page = page?;
    let page = paging
        .seal(USERS_SCOPE, service.list(&page).await?)
        .map(UserProfile::from);
    Ok(Json(UserList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Cursors of the all-users listing.
const USERS_SCOPE: &str = "users";

/// Path ids that are not UUIDs name nothing that exists.
fn user_id(raw: &str) -> Result<Uuid, ApiError> {
    parse_uuid(raw).ok_or_else(|| DomainError::NotFound("user").into())
}

#[utoipa::path(get, path = "/users/{userId}", tag = "admin", security(("bearer" = [])), params(("userId" = Uuid, Path)),
    responses((status = 200, body = UserProfile, description = "The account's profile."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(service): State<UserService>,
    _admin: AdminActor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<UserProfile>> {
    Ok(profile(service.get(user_id(&id)?).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchUserRequest {
    /// `null` keeps the role.
    role: Option<Role>,
    /// An existing vendor (404 otherwise); `null` clears it. A VENDOR account must have
    /// one and no other role may (409).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schema::uuid_or_null)]
    vendor_id: Option<Option<Uuid>>,
    /// `null` keeps the status.
    status: Option<UserStatus>,
}

#[utoipa::path(patch, path = "/users/{userId}", tag = "admin", security(("bearer" = [])), params(("userId" = Uuid, Path)), request_body = PatchUserRequest,
    responses((status = 200, body = UserProfile, description = "The account's profile as it now is."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn patch_user(
    State(service): State<UserService>,
    AdminActor(actor): AdminActor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchUserRequest>,
) -> ApiResult<Json<UserProfile>> {
    let change = AdminUserChange {
        role: body.role,
        vendor_id: body.vendor_id,
        status: body.status,
    };
    Ok(profile(
        service
            .admin_update(&actor.audit, user_id(&id)?, change)
            .await?,
    ))
}

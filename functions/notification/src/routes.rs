//! `GET /notifications`: the caller's own notifications, newest first. Administrators'
//! promotions: `POST /notifications/promotions` starts one, `GET
//! /notifications/promotions/{promotionId}` shows its progress.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use milkrun_domain::notification::{Notification, Promotion};
use milkrun_domain::ports::{NotificationStore, PromotionStore};
use milkrun_domain::values::parse_uuid;
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::{
    AdminActor, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, ErrorBody, PageQuery, Paging,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::promotions::{self, BODY_PATTERN, MAX_BODY_CHARS, PromotionText};

milkrun_http::service_routes! { NotificationService;
    [list_notifications]
    [start_promotion]
    [promotion_progress]
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Clone)]
pub struct NotificationService {
    pub notifications: Arc<dyn NotificationStore>,
    pub promotions: Arc<dyn PromotionStore>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationList {
    items: Vec<Notification>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = NotificationList, description = "One page of the caller's notifications."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "A `cursor` this listing did not issue.")))]
async fn list_notifications(
    State(service): State<NotificationService>,
    caller: AuthUser,
    paging: Paging,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<NotificationList>> {
    let mut errors = FieldErrors::new();
    // Scoped to the caller: another user's cursor does not open this listing.
    let scope = format!("notifications|{}", caller.user_id);
    let page = paging.request(&scope, query.limit.as_deref(), query.cursor, &mut errors);
    errors.into_result(|| ())?;
    let page = page?;
    let page = service
        .notifications
        .for_user(caller.user_id, &page)
        .await
        .map_err(DomainError::from)?;
    let page = paging.seal(&scope, page);
    Ok(Json(NotificationList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

fn body_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_BODY_CHARS))
        .pattern(Some(BODY_PATTERN))
        .description(Some(
            "The message: line breaks and tabs allowed, no other control characters, not \
             only white space; stored trimmed. The unsubscribe footer is added to each mail.",
        ))
        .build()
}

/// A promotion to every active customer with newsletterOptIn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionRequest {
    #[schema(schema_with = milkrun_domain::schema::text_200, required = true)]
    subject: Option<String>,
    #[schema(schema_with = body_schema, required = true)]
    body: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionStarted {
    promotion_id: Uuid,
}

#[utoipa::path(post, path = "/notifications/promotions", tag = "notifications", security(("bearer" = [])), request_body = PromotionRequest,
    responses((status = 202, body = PromotionStarted, description = "Recorded; batches of opted-in customers are sent in the background (see GET /notifications/promotions/{promotionId})."), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Administrators only."), (status = 413, body = ErrorBody)))]
async fn start_promotion(
    State(service): State<NotificationService>,
    AdminActor(actor): AdminActor,
    ApiJson(body): ApiJson<PromotionRequest>,
) -> ApiResult<(StatusCode, Json<PromotionStarted>)> {
    let text = PromotionText::parse(body.subject.as_deref(), body.body.as_deref())?;
    let promotion = promotions::start(service.promotions.as_ref(), &actor.audit, text).await?;
    let started = PromotionStarted {
        promotion_id: promotion.promotion_id,
    };
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// A promotion and how far its sending is (the store's cursor stays inside).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionProgress {
    promotion_id: Uuid,
    subject: String,
    body: String,
    /// Customers it reached (by at least one channel).
    sent: u64,
    /// Customers passed over: no channel takes promotions, or reached by an earlier run.
    skipped: u64,
    batches: u64,
    /// Every opted-in customer has been walked.
    done: bool,
    created_by: Uuid,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Promotion> for PromotionProgress {
    fn from(p: Promotion) -> Self {
        Self {
            promotion_id: p.promotion_id,
            subject: p.subject,
            body: p.body,
            sent: p.sent,
            skipped: p.skipped,
            batches: p.batches,
            done: p.done,
            created_by: p.created_by,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[utoipa::path(get, path = "/notifications/promotions/{promotionId}", tag = "notifications", security(("bearer" = [])),
    params(("promotionId" = Uuid, Path, description = "A promotion's id; any other is a 404")),
    responses((status = 200, body = PromotionProgress, description = "The promotion and its progress: recipients sent to and skipped, batches run, done."), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Administrators only."), (status = 404, body = ErrorBody)))]
async fn promotion_progress(
    State(service): State<NotificationService>,
    AdminActor(_actor): AdminActor,
    ApiPath(promotion_id): ApiPath<String>,
) -> ApiResult<Json<PromotionProgress>> {
    let not_found = || DomainError::NotFound("promotion");
    let promotion_id = parse_uuid(&promotion_id).ok_or_else(not_found)?;
    let promotion = service
        .promotions
        .get(promotion_id)
        .await
        .map_err(DomainError::from)?;
    Ok(Json(promotion.ok_or_else(not_found)?.into()))
}

//! `GET /notifications`: the caller's own notifications, newest first.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use milkrun_domain::notification::Notification;
use milkrun_domain::ports::NotificationStore;
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_http::{ApiError, ApiQuery, AuthUser, ErrorBody, PageQuery, Paging};
use serde::Serialize;
use utoipa::ToSchema;

milkrun_http::service_routes! { NotificationService;
    [list_notifications]
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Clone)]
pub struct NotificationService {
    pub notifications: Arc<dyn NotificationStore>,
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

//! One error type for every route, turned into the SPEC error body in exactly one place.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use milkrun_domain::{DomainError, ErrorCode, FieldErrors, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_ids::RequestIds;

/// Every refusal's body: `errorCode` is what a client matches on (`VALIDATION_ERROR`,
/// `NOT_FOUND`, `OUT_OF_STOCK`, ...), `errorMessage` is for people, `requestId` names the
/// request in the server's logs, and `details` (validation errors) names each bad field.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[schema(example = "VALIDATION_ERROR")]
    pub error_code: &'static str,
    pub error_message: String,
    pub timestamp: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// A refusal on its way to the client. Internal detail is logged, never returned.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Option<serde_json::Value>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An answer with `code` (its status is the one SPEC §4 gives it) and a message.
    pub fn of(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            retry_after_secs: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn validation(fields: &FieldErrors) -> Self {
        Self::of(
            ErrorCode::ValidationError,
            "One or more fields are invalid.",
        )
        .with_details(serde_json::json!({ "fields": fields.fields() }))
    }

    pub fn malformed_json(reason: &str) -> Self {
        Self::of(
            ErrorCode::MalformedJson,
            format!("The request body is not valid JSON: {reason}"),
        )
    }

    pub fn unauthorized() -> Self {
        Self::of(
            ErrorCode::Unauthorized,
            "Authentication is required or has failed.",
        )
    }

    pub fn forbidden(message: &str) -> Self {
        Self::of(ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::of(ErrorCode::NotFound, format!("The {what} was not found."))
    }

    /// A cursor that names no page of this listing: 404, naming `cursor`.
    pub fn unknown_cursor() -> Self {
        Self::of(
            ErrorCode::NotFound,
            "The cursor does not name a page of this listing.",
        )
        .with_details(serde_json::json!({
            "fields": { "cursor": "is not a cursor this listing issued" }
        }))
    }

    pub fn payload_too_large() -> Self {
        Self::of(ErrorCode::PayloadTooLarge, "The request body is too large.")
    }

    /// Logs `cause` with the request's correlation id and answers a bare 500.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::of(
            ErrorCode::InternalError,
            "Something went wrong on our side.",
        )
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }
}

/// The one place a domain refusal becomes an HTTP answer.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let code = error.code();
        match error {
            DomainError::Validation(fields) => Self::validation(&fields),
            DomainError::Unauthorized => Self::unauthorized(),
            DomainError::Forbidden(message) => Self::forbidden(message),
            DomainError::NotFound(what) => Self::not_found(what),
            DomainError::Refused { message, .. } => Self::of(code, message),
            DomainError::RefusedWith {
                message, details, ..
            } => Self::of(code, message).with_details(details),
            DomainError::TooManyRequests { retry_after_secs } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::of(code, "Too many attempts; try again later.")
            },
            DomainError::Store(StoreError::InvalidCursor) => Self::unknown_cursor(),
            DomainError::Store(StoreError::InsufficientStock) => Self::of(
                code,
                "There is not enough stock for this change. Nothing was changed.",
            ),
            DomainError::Store(StoreError::StockLimit) => Self::of(
                code,
                "This change would take stock above 1000000000 units. Nothing was changed.",
            ),
            DomainError::Store(store) => Self::internal(&store),
            DomainError::Internal(detail) => Self::internal(&detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // A 5xx was logged with its cause where it was made (`internal`); the middleware
        // logs every outcome once more with its status, so only refusals add their code here.
        if !status.is_server_error() {
            tracing::info!(
                status = status.as_u16(),
                code = self.code.as_str(),
                "request refused"
            );
        }
        let body = ErrorBody {
            error_code: self.code.as_str(),
            error_message: self.message,
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            request_id: RequestIds::current()
                .map(|ids| ids.request_id)
                .unwrap_or_default(),
            details: self.details,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

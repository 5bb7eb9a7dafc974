//! One error type for every route, turned into the SPEC error body in exactly one place.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use milkrun_domain::{DomainError, FieldErrors, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_ids::RequestIds;

/// `{errorCode, errorMessage, timestamp, requestId, details}` as SPEC §4 fixes it.
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
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn validation(fields: &FieldErrors) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "One or more fields are invalid.",
        )
        .with_details(serde_json::json!({ "fields": fields.fields() }))
    }

    pub fn malformed_json(reason: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            format!("The request body is not valid JSON: {reason}"),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Authentication is required or has failed.",
        )
    }

    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("The {what} was not found."),
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "The request body is too large.",
        )
    }

    /// Logs `cause` with the request's correlation id and answers a bare 500.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Something went wrong on our side.",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Validation(fields) => Self::validation(&fields),
            DomainError::Unauthorized => Self::unauthorized(),
            DomainError::Forbidden(message) => Self::forbidden(message),
            DomainError::NotFound(what) => Self::not_found(what),
            DomainError::Conflict(message) => Self::new(StatusCode::CONFLICT, "CONFLICT", message),
            DomainError::Store(StoreError::InvalidCursor) => Self::validation(
                &FieldErrors::single("cursor", "is not a cursor this list issued"),
            ),
            DomainError::Store(StoreError::InsufficientStock) => Self::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                "There is not enough stock for this change.",
            ),
            DomainError::Store(store) => Self::internal(&store),
            DomainError::Internal(detail) => Self::internal(&detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A 5xx was logged with its cause where it was made (`internal`); the middleware
        // logs every outcome once more with its status, so only refusals add their code here.
        if !self.status.is_server_error() {
            tracing::info!(
                status = self.status.as_u16(),
                code = self.code,
                "request refused"
            );
        }
        let body = ErrorBody {
            error_code: self.code,
            error_message: self.message,
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            request_id: RequestIds::current()
                .map(|ids| ids.request_id)
                .unwrap_or_default(),
            details: self.details,
        };
        (self.status, Json(body)).into_response()
    }
}

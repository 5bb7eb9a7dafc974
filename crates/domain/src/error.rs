use std::borrow::Cow;
use std::collections::BTreeMap;

/// Bad fields of one input, by JSON field name, each with a message a client can show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// Parses one field, recording its error under `field`; `None` when it was bad.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        parsed: Result<T, E>,
    ) -> Option<T> {
        parsed
            .map_err(|error| self.add(field, error.to_string()))
            .ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// `Ok(value)` when no field was bad, else the collected errors.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, DomainError> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(DomainError::Validation(self))
        }
    }
}

/// SPEC §4's error codes: what a client matches on in the error body, and what a Step
/// Functions Retry/Catch matches on as a task's `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    ValidationError,
    MalformedJson,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    InvalidTransition,
    IdempotencyInProgress,
    PayloadTooLarge,
    OutOfStock,
    ProfileIncomplete,
    NoVendorAvailable,
    IdempotencyKeyReused,
    PaymentDeclined,
    TooManyRequests,
    InternalError,
}

impl ErrorCode {
    /// The body's `errorCode`, e.g. `OUT_OF_STOCK`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "VALIDATION_ERROR",
            Self::MalformedJson => "MALFORMED_JSON",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict => "CONFLICT",
            Self::InvalidTransition => "INVALID_TRANSITION",
            Self::IdempotencyInProgress => "IDEMPOTENCY_IN_PROGRESS",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::OutOfStock => "OUT_OF_STOCK",
            Self::ProfileIncomplete => "PROFILE_INCOMPLETE",
            Self::NoVendorAvailable => "NO_VENDOR_AVAILABLE",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::PaymentDeclined => "PAYMENT_DECLINED",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }

    /// The HTTP status SPEC §4 gives the code.
    pub fn status(self) -> u16 {
        match self {
            Self::ValidationError | Self::MalformedJson => 400,
            Self::Unauthorized => 401,
            Self::PaymentDeclined => 402,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict | Self::InvalidTransition | Self::IdempotencyInProgress => 409,
            Self::PayloadTooLarge => 413,
            Self::OutOfStock
            | Self::ProfileIncomplete
            | Self::NoVendorAvailable
            | Self::IdempotencyKeyReused => 422,
            Self::TooManyRequests => 429,
            Self::InternalError => 500,
        }
    }

    /// The Lambda error type of a task or consumer failing with this code (`OutOfStock`),
    /// so that an ASL `ErrorEquals` reads like the SPEC.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::ValidationError => "ValidationError",
            Self::MalformedJson => "MalformedJson",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::Conflict => "Conflict",
            Self::InvalidTransition => "InvalidTransition",
            Self::IdempotencyInProgress => "IdempotencyInProgress",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::OutOfStock => "OutOfStock",
            Self::ProfileIncomplete => "ProfileIncomplete",
            Self::NoVendorAvailable => "NoVendorAvailable",
            Self::IdempotencyKeyReused => "IdempotencyKeyReused",
            Self::PaymentDeclined => "PaymentDeclined",
            Self::TooManyRequests => "TooManyRequests",
            Self::InternalError => "InternalError",
        }
    }
}

/// What a use case can refuse; the HTTP layer maps each to the SPEC error body in one place,
/// and a non-HTTP Lambda fails with its [`ErrorCode`] as the error type.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("authentication required or failed")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A refusal with one of the SPEC's 409 or 422 codes, and a message for the client.
    #[error("{message}")]
    Refused {
        code: ErrorCode,
        message: Cow<'static, str>,
    },
    #[error("too many requests; retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    /// A 409 `CONFLICT` saying why.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::refused(ErrorCode::Conflict, message)
    }

    pub fn refused(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::ValidationError,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Refused { code, .. } => *code,
            Self::TooManyRequests { .. } => ErrorCode::TooManyRequests,
            Self::Store(StoreError::InvalidCursor) => ErrorCode::ValidationError,
            Self::Store(StoreError::InsufficientStock | StoreError::StockLimit) => {
                ErrorCode::Conflict
            }
            Self::Store(_) | Self::Internal(_) => ErrorCode::InternalError,
        }
    }
}

/// What a storage, bus or mail adapter can report, whatever the technology behind it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness claim (an email, an idempotency key) is already held.
    #[error("already exists")]
    AlreadyExists,
    /// A conditional write lost a race: the item changed since it was read.
    #[error("the item changed concurrently")]
    VersionConflict,
    #[error("not found")]
    NotFound,
    /// A conditional stock decrement found too few units; nothing was changed.
    #[error("insufficient stock")]
    InsufficientStock,
    /// A stock change would take a row above its maximum; nothing was changed.
    #[error("stock limit exceeded")]
    StockLimit,
    /// A pagination cursor that this adapter did not issue.
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("{context}: {source}")]
    Backend {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    pub fn backend(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            context,
            source: Box::new(source),
        }
    }

    /// A backend failure described only by text (no error value to carry).
    pub fn backend_message(context: &'static str, message: impl Into<String>) -> Self {
        Self::backend(context, std::io::Error::other(message.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_spec_status_and_a_lambda_error_type() {
        let cases = [
            (ErrorCode::OutOfStock, "OUT_OF_STOCK", 422, "OutOfStock"),
            (
                ErrorCode::InvalidTransition,
                "INVALID_TRANSITION",
                409,
                "InvalidTransition",
            ),
            (
                ErrorCode::IdempotencyKeyReused,
                "IDEMPOTENCY_KEY_REUSED",
                422,
                "IdempotencyKeyReused",
            ),
            (
                ErrorCode::IdempotencyInProgress,
                "IDEMPOTENCY_IN_PROGRESS",
                409,
                "IdempotencyInProgress",
            ),
            (
                ErrorCode::ProfileIncomplete,
                "PROFILE_INCOMPLETE",
                422,
                "ProfileIncomplete",
            ),
            (
                ErrorCode::NoVendorAvailable,
                "NO_VENDOR_AVAILABLE",
                422,
                "NoVendorAvailable",
            ),
            (
                ErrorCode::ValidationError,
                "VALIDATION_ERROR",
                400,
                "ValidationError",
            ),
        ];
        for (code, text, status, error_type) in cases {
            assert_eq!(
                (code.as_str(), code.status(), code.error_type()),
                (text, status, error_type)
            );
        }
        assert_eq!(
            DomainError::refused(ErrorCode::OutOfStock, "short").code(),
            ErrorCode::OutOfStock
        );
        assert_eq!(DomainError::conflict("x").code().status(), 409);
        assert_eq!(
            DomainError::Internal("boom".into()).code(),
            ErrorCode::InternalError
        );
    }
}

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::payment::GatewayError;

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

    /// Parses a field that must be present: absent, it is recorded as required.
    pub fn required<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match raw {
            None => {
                self.add(field, "is required");
                None
            }
            Some(raw) => self.check(field, parse(raw)),
        }
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

/// Declares [`ErrorCode`] from one list: each code once, with its body `errorCode`, its HTTP
/// status and its Lambda error type, so the three cannot drift apart.
macro_rules! error_codes {
    ($($variant:ident => $text:literal, $status:literal, $error_type:literal;)+) => {
        /// SPEC §4's error codes: what a client matches on in the error body, and what a Step
        /// Functions Retry/Catch matches on as a task's `errorType`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant),+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            /// The body's `errorCode`, e.g. `OUT_OF_STOCK`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The HTTP status SPEC §4 gives the code.
            pub fn status(self) -> u16 {
                match self {
                    $(Self::$variant => $status),+
                }
            }

            /// The Lambda error type of a task or consumer failing with this code
            /// (`OutOfStock`), so that an ASL `ErrorEquals` reads like the SPEC.
            pub fn error_type(self) -> &'static str {
                match self {
                    $(Self::$variant => $error_type),+
                }
            }

            /// The code whose Lambda error type is `name` (`OutOfStock` →
            /// [`ErrorCode::OutOfStock`]); `None` for a name no code has (`States.Timeout`).
            pub fn from_error_type(name: &str) -> Option<Self> {
                match name {
                    $($error_type => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    ValidationError => "VALIDATION_ERROR", 400, "ValidationError";
    MalformedJson => "MALFORMED_JSON", 400, "MalformedJson";
    Unauthorized => "UNAUTHORIZED", 401, "Unauthorized";
    Forbidden => "FORBIDDEN", 403, "Forbidden";
    NotFound => "NOT_FOUND", 404, "NotFound";
    MethodNotAllowed => "METHOD_NOT_ALLOWED", 405, "MethodNotAllowed";
    Conflict => "CONFLICT", 409, "Conflict";
    InvalidTransition => "INVALID_TRANSITION", 409, "InvalidTransition";
    IdempotencyInProgress => "IDEMPOTENCY_IN_PROGRESS", 409, "IdempotencyInProgress";
    CutoffPassed => "CUTOFF_PASSED", 409, "CutoffPassed";
    PayloadTooLarge => "PAYLOAD_TOO_LARGE", 413, "PayloadTooLarge";
    OutOfStock => "OUT_OF_STOCK", 422, "OutOfStock";
    ProfileIncomplete => "PROFILE_INCOMPLETE", 422, "ProfileIncomplete";
    NoVendorAvailable => "NO_VENDOR_AVAILABLE", 422, "NoVendorAvailable";
    IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED", 422, "IdempotencyKeyReused";
    InsufficientBalance => "INSUFFICIENT_BALANCE", 422, "InsufficientBalance";
    PaymentDeclined => "PAYMENT_DECLINED", 402, "PaymentDeclined";
    TooManyRequests => "TOO_MANY_REQUESTS", 429, "TooManyRequests";
    InternalError => "INTERNAL_ERROR", 500, "InternalError";
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
    /// A refusal whose body carries `details` the client acts on (CUTOFF_PASSED's
    /// `nextDate`, INSUFFICIENT_BALANCE's `short`).
    #[error("{message}")]
    RefusedWith {
        code: ErrorCode,
        message: Cow<'static, str>,
        details: serde_json::Value,
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
            Self::Refused { code, .. } | Self::RefusedWith { code, .. } => *code,
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

/// The `Cause` of a task that failed on our side. What went wrong is logged; an execution
/// history (kept by Step Functions, shown in its console) never holds a store's, a backend's
/// or a gateway's own words.
pub const INTERNAL_CAUSE: &str = "Something went wrong on our side.";

/// The error type of a payment gateway that could not answer now: no SPEC code, and the
/// checkout definition retries it with backoff.
pub const PAYMENT_GATEWAY_UNAVAILABLE: &str = "PaymentGatewayUnavailable";

/// How a task fails (a Step Functions Task state, a scheduled job): `name` is the Lambda
/// `errorType` a definition's Retry and Catch match (`OutOfStock`, `PaymentDeclined`, ...),
/// `message` its `Cause`, which the execution history keeps. Built from a [`DomainError`] or
/// a [`GatewayError`], an internal failure's detail goes to the log and the cause says only
/// [`INTERNAL_CAUSE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct TaskError {
    pub name: String,
    pub message: String,
}

impl TaskError {
    /// A failure named `name` with `message` as its cause, as given: a message for an
    /// execution history, never an error's text from below.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
        }
    }

    /// `InternalError` with the generic cause; `detail` is logged.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "task failed on our side");
        Self::new(ErrorCode::InternalError.error_type(), INTERNAL_CAUSE)
    }
}

/// A domain error fails the task with its code's Lambda error type, so an `ErrorEquals`
/// reads like the SPEC; a store or internal error is redacted.
impl From<DomainError> for TaskError {
    fn from(error: DomainError) -> Self {
        let code = error.code();
        let message = match &error {
            _ if code == ErrorCode::InternalError => return Self::internal(&error),
            DomainError::Validation(fields) => {
                let fields: Vec<String> = fields
                    .fields()
                    .iter()
                    .map(|(field, problem)| format!("{field} {problem}"))
                    .collect();
                format!("Not valid: {}.", fields.join("; "))
            }
            other => other.to_string(),
        };
        Self::new(code.error_type(), message)
    }
}

/// A declined payment keeps its reason (the customer's to know); an unavailable or
/// malfunctioning gateway's own words are logged, not kept.
impl From<GatewayError> for TaskError {
    fn from(error: GatewayError) -> Self {
        match &error {
            GatewayError::Declined(_) => {
                Self::new(ErrorCode::PaymentDeclined.error_type(), error.to_string())
            }
            GatewayError::NotFound => {
                Self::new(ErrorCode::NotFound.error_type(), error.to_string())
            }
            GatewayError::Unavailable(_) => {
                tracing::warn!(%error, "the payment gateway did not answer");
                Self::new(
                    PAYMENT_GATEWAY_UNAVAILABLE,
                    "The payment gateway did not answer; the charge may be tried again.",
                )
            }
            GatewayError::Malfunction(_) => Self::internal(&error),
        }
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

    #[test]
    fn every_code_is_found_by_its_error_type() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_error_type(code.error_type()), Some(code));
        }
        assert_eq!(ErrorCode::from_error_type("States.Timeout"), None);
        assert_eq!(ErrorCode::from_error_type("OUT_OF_STOCK"), None);
    }

    #[test]
    fn a_store_or_internal_error_keeps_its_text_out_of_the_task_error() {
        let store: TaskError = DomainError::from(StoreError::backend_message(
            "reading orders",
            "table milkrun-orders-prod not found",
        ))
        .into();
        let internal: TaskError = DomainError::Internal("secret detail".into()).into();
        let gateway: TaskError = GatewayError::Malfunction("raw gateway reply".into()).into();
        for (error, detail) in [
            (&store, "milkrun-orders-prod"),
            (&internal, "secret detail"),
            (&gateway, "raw gateway reply"),
        ] {
            assert_eq!(error.name, "InternalError");
            assert_eq!(error.message, INTERNAL_CAUSE);
            assert!(!error.to_string().contains(detail), "{error}");
        }
        let flaky: TaskError = GatewayError::Unavailable("10.0.3.7 timed out".into()).into();
        assert_eq!(flaky.name, PAYMENT_GATEWAY_UNAVAILABLE);
        assert!(!flaky.message.contains("10.0.3.7"), "{}", flaky.message);
    }

    #[test]
    fn a_refusal_keeps_its_name_and_message() {
        let out: TaskError = DomainError::refused(ErrorCode::OutOfStock, "2 short").into();
        assert_eq!(out, TaskError::new("OutOfStock", "2 short"));
        let declined: TaskError = GatewayError::Declined("card declined".into()).into();
        assert_eq!(declined.name, "PaymentDeclined");
        assert!(declined.message.contains("card declined"));
        let invalid: TaskError =
            DomainError::Validation(FieldErrors::single("deliveryDate", "must be after today"))
                .into();
        assert_eq!(invalid.name, "ValidationError");
        assert!(
            invalid.message.contains("deliveryDate must be after today"),
            "{}",
            invalid.message
        );
    }
}

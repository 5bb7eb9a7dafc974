//! How a non-HTTP Lambda fails: with the domain's one [`TaskError`] (its `errorType` the
//! SPEC error code's, `OutOfStock`, `PaymentDeclined`, so a Step Functions Retry/Catch
//! matches it by name), whose cause never carries a store's or backend's words.

use lambda_runtime::Diagnostic;
pub use milkrun_domain::error::TaskError;

/// The Lambda failure of `error`: its name as the `errorType`, its (already redacted)
/// message as the `errorMessage`.
pub fn diagnostic(error: impl Into<TaskError>) -> Diagnostic {
    let TaskError { name, message } = error.into();
    Diagnostic {
        error_type: name,
        error_message: message,
    }
}

#[cfg(test)]
mod tests {
    use milkrun_domain::{DomainError, ErrorCode, StoreError};

    use super::*;

    #[test]
    fn a_task_fails_with_its_spec_code_as_the_error_type() {
        let out = diagnostic(DomainError::refused(ErrorCode::OutOfStock, "2 short"));
        assert_eq!(
            (out.error_type.as_str(), out.error_message.as_str()),
            ("OutOfStock", "2 short")
        );
        let internal = diagnostic(DomainError::from(StoreError::backend_message(
            "x",
            "table gone",
        )));
        assert_eq!(internal.error_type, "InternalError");
        assert!(
            !internal.error_message.contains("table gone"),
            "no internal detail"
        );
    }
}

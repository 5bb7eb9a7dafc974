//! How a non-HTTP Lambda fails: with the SPEC error code as its Lambda `errorType`
//! (`OutOfStock`, `PaymentDeclined`), so a Step Functions Retry/Catch matches it by name.

use lambda_runtime::Diagnostic;
use milkrun_domain::DomainError;

#[derive(Debug)]
pub struct TaskError(pub DomainError);

impl From<DomainError> for TaskError {
    fn from(error: DomainError) -> Self {
        Self(error)
    }
}

impl From<TaskError> for Diagnostic {
    fn from(TaskError(error): TaskError) -> Self {
        let code = error.code();
        // Internal detail goes to the log, never into a state machine's history.
        let message = match code {
            milkrun_domain::ErrorCode::InternalError => {
                tracing::error!(%error, "task failed");
                "Something went wrong on our side.".to_owned()
            }
            _ => error.to_string(),
        };
        Diagnostic {
            error_type: code.error_type().to_owned(),
            error_message: message,
        }
    }
}

#[cfg(test)]
mod tests {
    use milkrun_domain::{ErrorCode, StoreError};

    use super::*;

    #[test]
    fn a_task_fails_with_its_spec_code_as_the_error_type() {
        let out: Diagnostic =
            TaskError(DomainError::refused(ErrorCode::OutOfStock, "2 short")).into();
        assert_eq!(
            (out.error_type.as_str(), out.error_message.as_str()),
            ("OutOfStock", "2 short")
        );
        let internal: Diagnostic =
            TaskError(StoreError::backend_message("x", "table gone").into()).into();
        assert_eq!(internal.error_type, "InternalError");
        assert!(
            !internal.error_message.contains("table gone"),
            "no internal detail"
        );
    }
}

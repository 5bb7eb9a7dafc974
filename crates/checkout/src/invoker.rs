//! The task handler as the local ASL interpreter's [`TaskInvoker`]: the Task state's input
//! (its `Parameters`) in, the step's answer or a [`TaskFailure`] named like the Lambda's
//! `errorType` out.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::ErrorCode;
use milkrun_local::{TaskFailure, TaskInvoker};
use serde_json::Value;

use crate::tasks::{CheckoutTasks, TaskInput};

#[derive(Clone)]
pub struct CheckoutTaskInvoker {
    tasks: Arc<CheckoutTasks>,
}

impl CheckoutTaskInvoker {
    pub fn new(tasks: Arc<CheckoutTasks>) -> Self {
        Self { tasks }
    }
}

#[async_trait]
impl TaskInvoker for CheckoutTaskInvoker {
    /// Every resource is the one checkout task function, so `resource` is not consulted.
    async fn invoke(&self, _resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let input: TaskInput = serde_json::from_value(input).map_err(|error| {
            TaskFailure::new(
                ErrorCode::ValidationError.error_type(),
                format!("The task input is not {{step, orderId, error?}}: {error}"),
            )
        })?;
        self.tasks
            .run_input(&input)
            .await
            .map_err(|error| TaskFailure::new(error.name, error.message))
    }
}

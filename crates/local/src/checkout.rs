//! Checkout in local mode: the same `statemachine/checkout.asl.json` run by the ASL
//! interpreter in process, its Task states calling the same task handler the Lambda runs.
//!
//! - [`CheckoutTaskInvoker`]: the Task state's input (its `Parameters`) in, the step's answer
//!   or a [`TaskFailure`] named like the Lambda's `errorType` out.
//! - [`LocalCheckoutRunner`]: the [`CheckoutRunner`] port, one spawned execution per start,
//!   at most one running per execution name (as Step Functions refuses a second by name).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use milkrun_checkout::{CheckoutTasks, TaskInput};
use milkrun_domain::ErrorCode;
use milkrun_domain::StoreError;
use milkrun_domain::ports::{CheckoutRunner, CheckoutStart};
use serde_json::Value;

use crate::asl::{self, Definition, ExecutionStatus, TaskFailure, TaskInvoker};

/// The definition every host runs, compiled in.
pub const CHECKOUT_DEFINITION: &str = include_str!("../../../statemachine/checkout.asl.json");
/// The one task resource the definition names; locally every Task calls the handler.
pub const LOCAL_TASK_RESOURCE: &str = "local:checkout-task";

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
                format!("The task input is not {{step, orderId, error?, vendors?}}: {error}"),
            )
        })?;
        self.tasks
            .run_input(&input)
            .await
            .map_err(|error| TaskFailure::new(error.name, error.message))
    }
}

/// Runs checkout executions in process.
pub struct LocalCheckoutRunner {
    definition: Arc<Definition>,
    invoker: CheckoutTaskInvoker,
    running: Arc<Mutex<HashSet<String>>>,
}

impl LocalCheckoutRunner {
    /// # Panics
    /// If the compiled-in definition uses what the interpreter does not support: a build
    /// that could not run checkout must not start.
    pub fn new(tasks: Arc<CheckoutTasks>) -> Self {
        let substitutions = [("CheckoutTaskFunctionArn", LOCAL_TASK_RESOURCE)];
        let definition = Definition::parse(CHECKOUT_DEFINITION, substitutions)
            .unwrap_or_else(|error| panic!("statemachine/checkout.asl.json: {error}"));
        Self {
            definition: Arc::new(definition),
            invoker: CheckoutTaskInvoker::new(tasks),
            running: Arc::default(),
        }
    }
}

impl LocalCheckoutRunner {
    /// Waits until no execution runs (a CLI job's process must not end under its orders'
    /// checkouts; one cut short would be resumed by the next `milkrun serve`).
    pub async fn idle(&self) {
        while !self.running.lock().expect("not poisoned").is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl CheckoutRunner for LocalCheckoutRunner {
    async fn start(&self, start: &CheckoutStart) -> Result<(), StoreError> {
        let name = start.execution_name();
        if !self
            .running
            .lock()
            .expect("not poisoned")
            .insert(name.clone())
        {
            tracing::info!(execution = %name, "checkout execution already running");
            return Ok(());
        }
        let (definition, invoker, running) = (
            self.definition.clone(),
            self.invoker.clone(),
            self.running.clone(),
        );
        let input = start.input();
        tokio::spawn(async move {
            let outcome = asl::run(&definition, input, &invoker).await;
            running.lock().expect("not poisoned").remove(&name);
            // The states entered, as JSON: what the differential test compares with Step
            // Functions' execution history.
            let states = serde_json::to_string(&outcome.history).unwrap_or_default();
            match outcome.status {
                ExecutionStatus::Succeeded => {
                    tracing::info!(execution = %name, %states, "checkout execution succeeded")
                }
                ExecutionStatus::Failed { error, cause } => {
                    tracing::error!(execution = %name, %states, %error, %cause, "checkout execution failed")
                }
            }
        });
        Ok(())
    }
}

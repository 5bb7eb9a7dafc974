//! The checkout runner on Step Functions: one StartExecution per start, named by the order
//! and run ([`CheckoutStart::execution_name`]).

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use milkrun_domain::StoreError;
use milkrun_domain::ports::{CheckoutRunner, CheckoutStart};

use crate::config::{ConfigError, required_env};

pub struct StepFunctionsRunner {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctionsRunner {
    pub fn new(client: Client, state_machine_arn: String) -> Self {
        Self {
            client,
            state_machine_arn,
        }
    }

    /// The state machine from `CHECKOUT_STATE_MACHINE_ARN`, as the template sets it.
    pub fn from_env(client: Client) -> Result<Self, ConfigError> {
        Ok(Self::new(
            client,
            required_env("CHECKOUT_STATE_MACHINE_ARN")?,
        ))
    }
}

#[async_trait]
impl CheckoutRunner for StepFunctionsRunner {
    /// A start repeated by a retried request names the same execution. A Standard workflow
    /// would answer `ExecutionAlreadyExists`, success here (it runs already); the EXPRESS
    /// one the template declares does not deduplicate names, so a repeated start runs
    /// again, and what keeps it harmless is every step's idempotence by order and the
    /// order's own compare-and-swap status.
    async fn start(&self, start: &CheckoutStart) -> Result<(), StoreError> {
        let name = start.execution_name();
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(&name)
            .input(start.input().to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ExecutionAlreadyExists") => {
                tracing::info!(execution = %name, "checkout execution already started");
                Ok(())
            }
            Err(error) => Err(StoreError::backend(
                "starting the checkout execution",
                error,
            )),
        }
    }
}

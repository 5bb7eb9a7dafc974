//! A small Amazon States Language interpreter for local mode: it runs the same
//! `statemachine/checkout.asl.json` that Step Functions runs in AWS, calling the task handlers
//! in process through a [`TaskInvoker`].
//!
//! It supports exactly the subset that file uses, and [`Definition::parse`] refuses anything
//! else with an error naming it, so the file cannot quietly grow a construct that only AWS
//! understands:
//!
//! - top level and branches: `Comment`, `StartAt`, `States`;
//! - state types `Task`, `Choice`, `Parallel`, `Pass`, `Succeed`, `Fail` (no `Map`, no `Wait`);
//! - fields `Type`, `Comment`, `Next`, `End`, `InputPath`, `OutputPath`, `Parameters`
//!   (payload templates with `.$` keys), `ResultSelector`, `ResultPath` (a path or `null`),
//!   `Retry` (`ErrorEquals`, `IntervalSeconds`, `MaxAttempts`, `BackoffRate`), `Catch`
//!   (`ErrorEquals`, `Next`, `ResultPath`), `Resource`, `Branches`, `Choices`, `Default`,
//!   `Result` (Pass), `Error` and `Cause` (Fail);
//! - Choice rules `StringEquals`, `BooleanEquals`, `IsPresent`, `And`, `Or`, `Not`;
//! - reference paths `$` and `$.a.b` only (no `$$` context object, no brackets, wildcards,
//!   filters or recursive descent) and no intrinsic functions (`States.Format(...)` etc.);
//! - error names: `States.ALL` matches every error but `States.Runtime`; `States.TaskFailed`
//!   matches any error a Task's resource raised (not `States.*` names).
//!
//! Semantics follow the AWS documentation: InputPath → Parameters → (task) → ResultSelector →
//! ResultPath (into the state's raw input) → OutputPath; a Catch puts `{Error, Cause}` at its
//! ResultPath in the state's raw input. A path that matches nothing in InputPath, Parameters,
//! ResultSelector, a Choice comparison (other than `IsPresent`) or a ResultPath through a
//! non-object fails the execution with `States.Runtime`, which is neither retried nor caught.
//!
//! The execution history ([`ExecutionOutcome::history`]) lists each state entered, in order;
//! a retried task is entered once. For a Parallel state it lists the Parallel's name, then the
//! states each branch entered, branch after branch in `Branches` order (the branches run
//! concurrently, so the real interleaving is not recorded). If a branch fails, the Parallel
//! fails with the error of the first failed branch in `Branches` order, after all branches
//! have finished.
//!
//! This module is the API (a [`Definition`], [`run`] and what they take and answer);
//! `parse` loads a definition into its checked form, `paths` applies reference paths and
//! payload templates to values, and `exec` runs states, retries, catches and branches.

mod exec;
mod parse;
mod paths;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use exec::Executor;
use parse::Machine;

/// How a task failed, as Lambda reports it: `errorType` and `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// Runs a Task state's `Resource` (locally: the checkout task handler, in process).
#[async_trait]
pub trait TaskInvoker: Send + Sync {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure>;
}

/// Waits between retries; tests pass one that records the delays instead of waiting.
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, duration: Duration);
}

/// Really waits, on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionStatus {
    Succeeded,
    Failed { error: String, cause: String },
}

/// The result of [`run`]: status, output (`null` when failed) and the states entered.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionOutcome {
    pub status: ExecutionStatus,
    pub output: Value,
    pub history: Vec<String>,
}

/// Why a definition was refused at load time.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("the definition is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported state type \"{kind}\" in state \"{state}\"")]
    UnsupportedStateType { kind: String, state: String },
    #[error("unsupported field \"{field}\" in {place}")]
    UnsupportedField { field: String, place: String },
    #[error("unsupported comparison \"{comparison}\" in state \"{state}\"")]
    UnsupportedComparison { comparison: String, state: String },
    #[error("unsupported path \"{path}\" in {place}: only $ and $.a.b are supported")]
    UnsupportedPath { path: String, place: String },
    #[error("unresolved substitution \"{placeholder}\" in state \"{state}\"")]
    UnresolvedSubstitution { placeholder: String, state: String },
    #[error("state \"{target}\" named in {place} does not exist")]
    UnknownState { target: String, place: String },
    #[error("invalid {place}: {problem}")]
    Invalid { place: String, problem: String },
}

/// A parsed, checked state machine definition.
#[derive(Debug, Clone)]
pub struct Definition {
    machine: Machine,
}

impl Definition {
    /// Parses `json`, replacing each `${Name}` with its value from `substitutions` (as SAM's
    /// `DefinitionSubstitutions` does), and refuses anything outside the supported subset.
    pub fn parse<K, V>(
        json: &str,
        substitutions: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, DefinitionError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut value: Value = serde_json::from_str(json)?;
        let substitutions: Vec<(String, String)> = substitutions
            .into_iter()
            .map(|(k, v)| (format!("${{{}}}", k.as_ref()), v.as_ref().to_owned()))
            .collect();
        substitute(&mut value, &substitutions);
        let machine = Machine::parse(&value, "the definition")?;
        Ok(Self { machine })
    }

    /// The name of the state an execution enters first.
    pub fn start_at(&self) -> &str {
        &self.machine.start_at
    }
}

fn substitute(value: &mut Value, substitutions: &[(String, String)]) {
    match value {
        Value::String(s) => {
            for (placeholder, replacement) in substitutions {
                if s.contains(placeholder.as_str()) {
                    *s = s.replace(placeholder.as_str(), replacement);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, substitutions)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, substitutions)),
        _ => {}
    }
}

/// Runs `definition` on `input`, really sleeping between retries.
pub async fn run(
    definition: &Definition,
    input: Value,
    invoker: &dyn TaskInvoker,
) -> ExecutionOutcome {
    run_with_sleeper(definition, input, invoker, &TokioSleeper).await
}

/// Runs `definition` on `input`, waiting between retries through `sleeper`.
pub async fn run_with_sleeper(
    definition: &Definition,
    input: Value,
    invoker: &dyn TaskInvoker,
    sleeper: &dyn Sleeper,
) -> ExecutionOutcome {
    let executor = Executor { invoker, sleeper };
    let mut history = Vec::new();
    match executor
        .run_machine(&definition.machine, input, &mut history)
        .await
    {
        Ok(output) => ExecutionOutcome {
            status: ExecutionStatus::Succeeded,
            output,
            history,
        },
        Err(failure) => ExecutionOutcome {
            status: ExecutionStatus::Failed {
                error: failure.error,
                cause: failure.cause,
            },
            output: Value::Null,
            history,
        },
    }
}

/// What the tests of more than one part use: a recording sleeper and a small echoing
/// invoker.
#[cfg(test)]
mod test_support {
    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;
    use serde_json::{Value, json};

    use super::*;

    #[derive(Default)]
    pub(super) struct RecordingSleeper(pub(super) Mutex<Vec<Duration>>);

    #[async_trait]
    impl Sleeper for RecordingSleeper {
        async fn sleep(&self, duration: Duration) {
            self.0.lock().unwrap().push(duration);
        }
    }

    pub(super) fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Echoes its input back, with a marker, so data flow can be checked.
    struct Echo;

    #[async_trait]
    impl TaskInvoker for Echo {
        async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
            if resource == "fail" {
                return Err(TaskFailure::new("Boom", "it broke"));
            }
            Ok(json!({"resource": resource, "got": input, "extra": 1}))
        }
    }

    pub(super) async fn run_small(definition: Value, input: Value) -> ExecutionOutcome {
        let definition =
            Definition::parse(&definition.to_string(), [("Fn", "arn:fn")]).expect("parses");
        run_with_sleeper(&definition, input, &Echo, &RecordingSleeper::default()).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, VecDeque};
    use std::sync::Mutex;

    use serde_json::json;

    use super::test_support::{RecordingSleeper, names};
    use super::*;

    const CHECKOUT: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../statemachine/checkout.asl.json"
    ));
    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:checkout-task";

    fn checkout() -> Definition {
        Definition::parse(CHECKOUT, [("CheckoutTaskFunctionArn", ARN)]).expect("checkout parses")
    }

    /// A fake checkout task: answers per step from a script, else `{}` (`{"onHold": false}`
    /// for FraudCheck), and records every call.
    #[derive(Default)]
    struct FakeTasks {
        script: Mutex<HashMap<String, VecDeque<Result<Value, TaskFailure>>>>,
        calls: Mutex<Vec<(String, Value)>>,
    }

    impl FakeTasks {
        fn answer(self, step: &str, answer: Result<Value, TaskFailure>) -> Self {
            self.script
                .lock()
                .unwrap()
                .entry(step.to_owned())
                .or_default()
                .push_back(answer);
            self
        }

        fn fail(self, step: &str, error: &str) -> Self {
            self.answer(step, Err(TaskFailure::new(error, format!("{step} failed"))))
        }

        fn steps(&self) -> Vec<String> {
            self.calls
                .lock()
                .unwrap()
                .iter()
                .map(|(step, _)| step.clone())
                .collect()
        }

        fn input_of(&self, step: &str) -> Value {
            self.calls
                .lock()
                .unwrap()
                .iter()
                .find(|(s, _)| s == step)
                .map(|(_, input)| input.clone())
                .unwrap_or(Value::Null)
        }
    }

    #[async_trait]
    impl TaskInvoker for FakeTasks {
        async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
            let step = input["step"].as_str().unwrap_or(resource).to_owned();
            self.calls.lock().unwrap().push((step.clone(), input));
            let scripted = self
                .script
                .lock()
                .unwrap()
                .get_mut(&step)
                .and_then(VecDeque::pop_front);
            scripted.unwrap_or_else(|| {
                Ok(match step.as_str() {
                    "FraudCheck" => json!({"onHold": false, "score": 3}),
                    "AssignVendors" => json!({"vendors": [{"line": 0, "vendorId": "v-1"}]}),
                    _ => json!({}),
                })
            })
        }
    }

    async fn run_checkout(input: Value, tasks: &FakeTasks) -> (ExecutionOutcome, Vec<Duration>) {
        let sleeper = RecordingSleeper::default();
        let outcome = run_with_sleeper(&checkout(), input, tasks, &sleeper).await;
        let slept = sleeper.0.into_inner().unwrap();
        (outcome, slept)
    }

    fn card() -> Value {
        json!({"orderId": "o-1", "paymentMethod": "CARD"})
    }

    fn failed(error: &str) -> ExecutionStatus {
        ExecutionStatus::Failed {
            error: error.to_owned(),
            cause: match error {
                "PaymentFailed" => {
                    "The payment was declined; the order is PAYMENT_FAILED and its stock was released."
                }
                _ => {
                    "A checkout step failed; reserved stock was released and any captured payment refunded."
                }
            }
            .to_owned(),
        }
    }

    const HAPPY: &[&str] = &[
        "StartOrResume",
        "ValidateProfile",
        "ValidateOrder",
        "AssignVendors",
        "ReserveStock",
        "PaymentRoute",
        "ProcessPayment",
        "FraudCheck",
        "FraudDecision",
        "ConfirmOrder",
        "ScheduleDelivery",
        "CheckoutSucceeded",
    ];

    #[test]
    fn the_checkout_state_machine_parses_and_needs_its_substitution() {
        assert_eq!(checkout().start_at(), "StartOrResume");
        let err = Definition::parse(CHECKOUT, Vec::<(&str, &str)>::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("unresolved substitution \"${CheckoutTaskFunctionArn}\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_card_checkout_runs_every_step_and_keeps_its_context() {
        let tasks = FakeTasks::default();
        let (outcome, slept) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(outcome.history, names(HAPPY));
        assert_eq!(
            outcome.output,
            json!({
                "orderId": "o-1",
                "paymentMethod": "CARD",
                "assignment": {"vendors": [{"line": 0, "vendorId": "v-1"}]},
                "fraud": {"onHold": false}
            })
        );
        assert_eq!(
            tasks.input_of("ReserveStock"),
            json!({
                "step": "ReserveStock",
                "orderId": "o-1",
                "vendors": [{"line": 0, "vendorId": "v-1"}]
            }),
            "AssignVendors' choice is handed over"
        );
        assert!(tasks.calls.lock().unwrap().len() == 8 && slept.is_empty());
    }

    #[tokio::test]
    async fn an_execution_can_be_spawned_on_tokio() {
        let definition = checkout();
        let outcome = tokio::spawn(async move {
            let tasks = FakeTasks::default();
            run(&definition, card(), &tasks).await
        })
        .await
        .expect("the execution task completes");
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    }

    #[tokio::test]
    async fn cash_on_delivery_skips_payment() {
        let tasks = FakeTasks::default();
        let input = json!({"orderId": "o-2", "paymentMethod": "COD"});
        let (outcome, _) = run_checkout(input, &tasks).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        let expected: Vec<&str> = HAPPY
            .iter()
            .copied()
            .filter(|s| *s != "ProcessPayment")
            .collect();
        assert_eq!(outcome.history, names(&expected));
        assert!(!tasks.steps().contains(&"ProcessPayment".to_owned()));
    }

    #[tokio::test]
    async fn a_declined_payment_releases_stock_and_marks_payment_failed() {
        let tasks = FakeTasks::default().fail("ProcessPayment", "PaymentDeclined");
        let (outcome, slept) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, failed("PaymentFailed"));
        assert_eq!(outcome.output, Value::Null);
        assert_eq!(
            outcome.history[5..],
            names(&[
                "PaymentRoute",
                "ProcessPayment",
                "ReleaseStock",
                "FailureKind",
                "MarkPaymentFailed",
                "PaymentFailed"
            ])
        );
        assert!(slept.is_empty(), "a decline is not retried");
        assert!(!tasks.steps().contains(&"RefundPayment".to_owned()));
        assert_eq!(
            tasks.input_of("MarkPaymentFailed")["error"],
            json!({"Error": "PaymentDeclined", "Cause": "ProcessPayment failed"})
        );
    }

    #[tokio::test]
    async fn a_transient_gateway_error_is_retried_with_backoff() {
        let tasks = FakeTasks::default()
            .fail("ProcessPayment", "PaymentGatewayUnavailable")
            .fail("ProcessPayment", "PaymentGatewayUnavailable");
        let (outcome, slept) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(
            outcome.history,
            names(HAPPY),
            "a retried task is entered once"
        );
        let payments = tasks
            .steps()
            .iter()
            .filter(|s| *s == "ProcessPayment")
            .count();
        assert_eq!(payments, 3);
        assert_eq!(slept, [Duration::from_secs(1), Duration::from_secs(2)]);
    }

    #[tokio::test]
    async fn a_gateway_down_for_good_exhausts_retries_then_compensates() {
        let mut tasks = FakeTasks::default();
        for _ in 0..4 {
            tasks = tasks.fail("ProcessPayment", "PaymentGatewayUnavailable");
        }
        let (outcome, slept) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, failed("CheckoutFailed"));
        assert_eq!(slept.len(), 3);
        assert_eq!(slept[2], Duration::from_secs(4));
        assert!(outcome.history.ends_with(&names(&[
            "ProcessPayment",
            "RefundPayment",
            "ReleaseStock",
            "FailureKind",
            "MarkFailed",
            "CheckoutFailed"
        ])));
    }

    #[tokio::test]
    async fn a_fraud_flag_ends_the_execution_on_hold() {
        let tasks = FakeTasks::default().answer("FraudCheck", Ok(json!({"onHold": true})));
        let (outcome, _) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(outcome.history.last().map(String::as_str), Some("OnHold"));
        assert!(!tasks.steps().contains(&"ConfirmOrder".to_owned()));
        assert_eq!(outcome.output["fraud"], json!({"onHold": true}));
    }

    #[tokio::test]
    async fn scheduling_is_the_last_task_and_its_failure_compensates() {
        let tasks = FakeTasks::default().fail("ScheduleDelivery", "DeliveryStoreUnavailable");
        let (outcome, _) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, failed("CheckoutFailed"));
        assert!(outcome.history.ends_with(&names(&[
            "ScheduleDelivery",
            "RefundPayment",
            "ReleaseStock",
            "FailureKind",
            "MarkFailed",
            "CheckoutFailed"
        ])));
        let succeeded = run_checkout(card(), &FakeTasks::default()).await.0;
        assert_eq!(
            succeeded.history.iter().rev().nth(1).map(String::as_str),
            Some("ScheduleDelivery"),
            "no task runs after scheduling: step 9 rides on the events"
        );
    }
}

//! Running a parsed definition: states, retries, catches and parallel branches.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Value, json};

use super::parse::{Kind, Machine, Rule, State};
use super::paths::{Path, fill, place_result, select};
use super::{Sleeper, TaskInvoker};

pub(super) const RUNTIME: &str = "States.Runtime";
/// A guard against a definition that loops forever.
pub(super) const MAX_TRANSITIONS: usize = 10_000;

/// A state's failure: the error name and cause an ASL Retry/Catch matches and reports.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) error: String,
    pub(super) cause: String,
}

impl Failure {
    pub(super) fn runtime(cause: impl Into<String>) -> Self {
        Self {
            error: RUNTIME.to_owned(),
            cause: cause.into(),
        }
    }
}

pub(super) fn matches(names: &[String], error: &str, from_task: bool) -> bool {
    names.iter().any(|name| match name.as_str() {
        "States.ALL" => error != RUNTIME,
        "States.TaskFailed" => from_task && !error.starts_with("States."),
        _ => name == error,
    })
}

impl Rule {
    pub(super) fn holds(&self, input: &Value) -> Result<bool, Failure> {
        let found = |path: &Path| {
            path.get(input).ok_or_else(|| {
                Failure::runtime(format!(
                    "Invalid path '{}': the choice state's condition path references an undefined value",
                    path.text()
                ))
            })
        };
        Ok(match self {
            Self::StringEquals(path, expected) => found(path)?.as_str() == Some(expected.as_str()),
            Self::BooleanEquals(path, expected) => found(path)?.as_bool() == Some(*expected),
            Self::IsPresent(path, expected) => path.get(input).is_some() == *expected,
            Self::And(rules) => {
                for rule in rules {
                    if !rule.holds(input)? {
                        return Ok(false);
                    }
                }
                true
            }
            Self::Or(rules) => {
                for rule in rules {
                    if rule.holds(input)? {
                        return Ok(true);
                    }
                }
                false
            }
            Self::Not(rule) => !rule.holds(input)?,
        })
    }
}

pub(super) enum Step {
    Next(String, Value),
    End(Value),
}

pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(super) struct Executor<'a> {
    pub(super) invoker: &'a dyn TaskInvoker,
    pub(super) sleeper: &'a dyn Sleeper,
}

impl<'a> Executor<'a> {
    pub(super) fn run_machine<'b>(
        &'b self,
        machine: &'b Machine,
        input: Value,
        history: &'b mut Vec<String>,
    ) -> BoxFuture<'b, Result<Value, Failure>> {
        Box::pin(async move {
            let mut current = machine.start_at.as_str();
            let mut value = input;
            for _ in 0..MAX_TRANSITIONS {
                let state = &machine.states[current];
                history.push(current.to_owned());
                match self.run_state(current, state, value, history).await? {
                    Step::End(output) => return Ok(output),
                    Step::Next(next, output) => {
                        // Checked at load time: every target exists.
                        current = machine
                            .states
                            .get_key_value(next.as_str())
                            .map(|(k, _)| k.as_str())
                            .unwrap_or(current);
                        value = output;
                    }
                }
            }
            Err(Failure::runtime(format!(
                "more than {MAX_TRANSITIONS} state transitions"
            )))
        })
    }

    pub(super) async fn run_state(
        &self,
        name: &str,
        state: &State,
        raw: Value,
        history: &mut Vec<String>,
    ) -> Result<Step, Failure> {
        let what = format!("state '{name}'");
        let effective = select(state.input_path.as_ref(), raw.clone(), &what)?;
        let finish = |output: Value| -> Step {
            match &state.next {
                Some(next) => Step::Next(next.clone(), output),
                None => Step::End(output),
            }
        };
        match &state.kind {
            Kind::Choice { choices, default } => {
                for (rule, next) in choices {
                    if rule.holds(&effective)? {
                        let output = select(state.output_path.as_ref(), effective, &what)?;
                        return Ok(Step::Next(next.clone(), output));
                    }
                }
                match default {
                    Some(next) => {
                        let output = select(state.output_path.as_ref(), effective, &what)?;
                        Ok(Step::Next(next.clone(), output))
                    }
                    None => Err(Failure {
                        error: "States.NoChoiceMatched".to_owned(),
                        cause: format!("no choice rule of state '{name}' matched"),
                    }),
                }
            }
            Kind::Succeed => Ok(Step::End(select(
                state.output_path.as_ref(),
                effective,
                &what,
            )?)),
            Kind::Fail { error, cause } => Err(Failure {
                error: error.clone(),
                cause: cause.clone(),
            }),
            Kind::Pass { result } => {
                let effective = match &state.parameters {
                    Some(t) => fill(t, &effective, &what)?,
                    None => effective,
                };
                let result = result.clone().unwrap_or(effective);
                let output = place_result(state.result_path.as_ref(), raw, result)?;
                Ok(finish(select(state.output_path.as_ref(), output, &what)?))
            }
            Kind::Task { .. } | Kind::Parallel { .. } => {
                let effective = match &state.parameters {
                    Some(t) => fill(t, &effective, &what)?,
                    None => effective,
                };
                let from_task = matches!(state.kind, Kind::Task { .. });
                let mut attempts = vec![0u64; state.retry.len()];
                let failure = loop {
                    let attempt = self.attempt(state, effective.clone(), history).await;
                    let failure = match attempt {
                        Ok(result) => {
                            let result = match &state.result_selector {
                                Some(t) => fill(t, &result, &what)?,
                                None => result,
                            };
                            let output = place_result(state.result_path.as_ref(), raw, result)?;
                            return Ok(finish(select(state.output_path.as_ref(), output, &what)?));
                        }
                        Err(failure) => failure,
                    };
                    if failure.error == RUNTIME {
                        return Err(failure);
                    }
                    let retrier = state
                        .retry
                        .iter()
                        .position(|r| matches(&r.error_equals, &failure.error, from_task));
                    match retrier {
                        Some(i) if attempts[i] < state.retry[i].max_attempts => {
                            let r = &state.retry[i];
                            let exponent = i32::try_from(attempts[i]).unwrap_or(i32::MAX);
                            let delay = r.interval_seconds * r.backoff_rate.powi(exponent);
                            attempts[i] += 1;
                            self.sleeper.sleep(Duration::from_secs_f64(delay)).await;
                        }
                        _ => break failure,
                    }
                };
                match state
                    .catch
                    .iter()
                    .find(|c| matches(&c.error_equals, &failure.error, from_task))
                {
                    Some(catcher) => {
                        let error = json!({"Error": failure.error, "Cause": failure.cause});
                        let output = place_result(catcher.result_path.as_ref(), raw, error)?;
                        Ok(Step::Next(catcher.next.clone(), output))
                    }
                    None => Err(failure),
                }
            }
        }
    }

    /// One attempt of a Task or Parallel state on its effective input.
    pub(super) async fn attempt(
        &self,
        state: &State,
        input: Value,
        history: &mut Vec<String>,
    ) -> Result<Value, Failure> {
        match &state.kind {
            Kind::Task { resource } => {
                self.invoker
                    .invoke(resource, input)
                    .await
                    .map_err(|f| Failure {
                        error: f.error,
                        cause: f.cause,
                    })
            }
            Kind::Parallel { branches } => {
                let mut histories = vec![Vec::new(); branches.len()];
                let runs = branches
                    .iter()
                    .zip(histories.iter_mut())
                    .map(|(branch, h)| self.run_machine(branch, input.clone(), h));
                let results = futures::future::join_all(runs).await;
                histories.into_iter().for_each(|h| history.extend(h));
                results
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            _ => unreachable!("only Task and Parallel states make attempts"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::asl::ExecutionStatus;
    use crate::asl::test_support::{names, run_small};

    #[tokio::test]
    async fn task_failed_catches_task_errors_and_not_or_choices_and_pass_work() {
        let definition = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "fail",
                  "Retry": [{"ErrorEquals": ["Other"], "MaxAttempts": 5}],
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "C"}],
                  "End": true},
            "C": {"Type": "Choice", "Choices": [
                {"Or": [{"Variable": "$.flag", "IsPresent": true},
                        {"Not": {"Variable": "$.err.Error", "StringEquals": "Boom"}}],
                 "Next": "Bad"}],
                 "Default": "P"},
            "Bad": {"Type": "Fail", "Error": "Wrong", "Cause": "wrong branch"},
            "P": {"Type": "Pass", "Result": {"ok": true}, "ResultPath": "$.pass", "End": true}}});
        let outcome = run_small(definition, json!({"n": 1})).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(outcome.history, names(&["T", "C", "P"]));
        assert_eq!(
            outcome.output,
            json!({"n": 1, "err": {"Error": "Boom", "Cause": "it broke"}, "pass": {"ok": true}})
        );
    }

    #[tokio::test]
    async fn a_parallel_outputs_its_branches_in_order_and_fails_with_a_branch_error() {
        let branch = |resource: &str| {
            json!({"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": resource,
                "ResultSelector": {"r.$": "$.resource"}, "End": true}}})
        };
        let ok = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel",
            "Branches": [branch("one"), branch("two")], "ResultPath": "$.both", "End": true}}});
        let outcome = run_small(ok, json!({})).await;
        assert_eq!(outcome.history, names(&["P", "B", "B"]));
        assert_eq!(
            outcome.output,
            json!({"both": [{"r": "one"}, {"r": "two"}]})
        );

        let failing = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel",
            "Branches": [branch("one"), branch("fail")], "End": true}}});
        let outcome = run_small(failing, json!({})).await;
        assert_eq!(
            outcome.status,
            ExecutionStatus::Failed {
                error: "Boom".into(),
                cause: "it broke".into()
            }
        );
    }
}

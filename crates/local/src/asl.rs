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

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

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

// ---------------------------------------------------------------------------------------------
// The parsed form.

const RUNTIME: &str = "States.Runtime";
/// A guard against a definition that loops forever.
const MAX_TRANSITIONS: usize = 10_000;

#[derive(Debug, Clone)]
struct Machine {
    start_at: String,
    states: HashMap<String, State>,
}

#[derive(Debug, Clone)]
struct State {
    kind: Kind,
    input_path: Option<Path>,
    output_path: Option<Path>,
    parameters: Option<Value>,
    result_selector: Option<Value>,
    result_path: Option<Path>,
    retry: Vec<Retrier>,
    catch: Vec<Catcher>,
    next: Option<String>,
}

#[derive(Debug, Clone)]
enum Kind {
    Task {
        resource: String,
    },
    Parallel {
        branches: Vec<Machine>,
    },
    Choice {
        choices: Vec<(Rule, String)>,
        default: Option<String>,
    },
    Pass {
        result: Option<Value>,
    },
    Succeed,
    Fail {
        error: String,
        cause: String,
    },
}

/// `$` (no segments) or `$.a.b`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Path(Vec<String>);

#[derive(Debug, Clone)]
struct Retrier {
    error_equals: Vec<String>,
    interval_seconds: f64,
    max_attempts: u64,
    backoff_rate: f64,
}

#[derive(Debug, Clone)]
struct Catcher {
    error_equals: Vec<String>,
    next: String,
    result_path: Option<Path>,
}

#[derive(Debug, Clone)]
enum Rule {
    StringEquals(Path, String),
    BooleanEquals(Path, bool),
    IsPresent(Path, bool),
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
}

fn invalid(place: &str, problem: impl Into<String>) -> DefinitionError {
    DefinitionError::Invalid {
        place: place.to_owned(),
        problem: problem.into(),
    }
}

fn object<'a>(value: &'a Value, place: &str) -> Result<&'a Map<String, Value>, DefinitionError> {
    value
        .as_object()
        .ok_or_else(|| invalid(place, "expected a JSON object"))
}

fn only_fields(
    map: &Map<String, Value>,
    allowed: &[&str],
    place: &str,
) -> Result<(), DefinitionError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(field) => Err(DefinitionError::UnsupportedField {
            field: field.clone(),
            place: place.to_owned(),
        }),
        None => Ok(()),
    }
}

fn string<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    place: &str,
) -> Result<Option<&'a str>, DefinitionError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(place, format!("\"{field}\" must be a string"))),
    }
}

fn required_string<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    place: &str,
) -> Result<&'a str, DefinitionError> {
    string(map, field, place)?.ok_or_else(|| invalid(place, format!("\"{field}\" is required")))
}

impl Path {
    fn parse(text: &str, place: &str) -> Result<Self, DefinitionError> {
        let unsupported = || DefinitionError::UnsupportedPath {
            path: text.to_owned(),
            place: place.to_owned(),
        };
        if text == "$" {
            return Ok(Self(Vec::new()));
        }
        let rest = text.strip_prefix("$.").ok_or_else(unsupported)?;
        let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
        let plain = |s: &String| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        };
        if segments.iter().all(plain) {
            Ok(Self(segments))
        } else {
            Err(unsupported())
        }
    }

    /// A path field that may also be `null` (`None` here).
    fn parse_nullable(
        map: &Map<String, Value>,
        field: &str,
        place: &str,
    ) -> Result<Option<Option<Self>>, DefinitionError> {
        match map.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => {
                Ok(Some(Some(Self::parse(s, &format!("{field} of {place}"))?)))
            }
            Some(_) => Err(invalid(
                place,
                format!("\"{field}\" must be a path or null"),
            )),
        }
    }

    fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.0
            .iter()
            .try_fold(value, |v, segment| v.as_object()?.get(segment))
    }

    fn text(&self) -> String {
        std::iter::once("$".to_owned())
            .chain(self.0.iter().cloned())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Checks a payload template (Parameters, ResultSelector): every `.$` key holds a path.
fn check_template(template: &Value, place: &str) -> Result<(), DefinitionError> {
    match template {
        Value::Object(map) => map.iter().try_for_each(|(key, value)| {
            if key.ends_with(".$") {
                let path = value
                    .as_str()
                    .ok_or_else(|| invalid(place, format!("\"{key}\" must hold a path")))?;
                if path.starts_with("States.") {
                    return Err(invalid(
                        place,
                        format!("intrinsic functions are not supported: \"{path}\""),
                    ));
                }
                Path::parse(path, place).map(|_| ())
            } else {
                check_template(value, place)
            }
        }),
        Value::Array(items) => items.iter().try_for_each(|v| check_template(v, place)),
        _ => Ok(()),
    }
}

fn error_equals(map: &Map<String, Value>, place: &str) -> Result<Vec<String>, DefinitionError> {
    let names: Vec<String> = map
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(place, "\"ErrorEquals\" must be an array of error names"))?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(|| invalid(place, "\"ErrorEquals\" must hold strings"))?;
    if names.is_empty() {
        return Err(invalid(place, "\"ErrorEquals\" is empty"));
    }
    if names.len() > 1 && names.iter().any(|n| n == "States.ALL") {
        return Err(invalid(place, "\"States.ALL\" must appear alone"));
    }
    Ok(names)
}

impl Retrier {
    fn parse(value: &Value, place: &str) -> Result<Self, DefinitionError> {
        let map = object(value, place)?;
        only_fields(
            map,
            &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "Comment",
            ],
            place,
        )?;
        let number = |field: &str, default: f64| match map.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| invalid(place, format!("\"{field}\" must be a number"))),
        };
        let interval_seconds = number("IntervalSeconds", 1.0)?;
        let backoff_rate = number("BackoffRate", 2.0)?;
        let max_attempts = match map.get("MaxAttempts") {
            None => 3,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| invalid(place, "\"MaxAttempts\" must be a non-negative integer"))?,
        };
        if interval_seconds < 1.0 || interval_seconds.fract() != 0.0 {
            return Err(invalid(
                place,
                "\"IntervalSeconds\" must be a positive integer",
            ));
        }
        if backoff_rate < 1.0 {
            return Err(invalid(place, "\"BackoffRate\" must be at least 1.0"));
        }
        Ok(Self {
            error_equals: error_equals(map, place)?,
            interval_seconds,
            max_attempts,
            backoff_rate,
        })
    }
}

impl Catcher {
    fn parse(value: &Value, place: &str) -> Result<Self, DefinitionError> {
        let map = object(value, place)?;
        only_fields(
            map,
            &["ErrorEquals", "Next", "ResultPath", "Comment"],
            place,
        )?;
        Ok(Self {
            error_equals: error_equals(map, place)?,
            next: required_string(map, "Next", place)?.to_owned(),
            result_path: Path::parse_nullable(map, "ResultPath", place)?
                .unwrap_or(Some(Path(Vec::new()))),
        })
    }
}

impl Rule {
    /// A rule of a Choice; `top` rules carry `Next` (checked by the caller).
    fn parse(value: &Value, state: &str, top: bool) -> Result<Self, DefinitionError> {
        let place = format!("a choice rule of state \"{state}\"");
        let map = object(value, &place)?;
        let mut operators = map
            .keys()
            .filter(|k| !matches!(k.as_str(), "Variable" | "Comment") && (!top || *k != "Next"));
        let operator = operators
            .next()
            .ok_or_else(|| invalid(&place, "no comparison"))?;
        if let Some(extra) = operators.next() {
            return Err(invalid(
                &place,
                format!("more than one comparison (\"{operator}\", \"{extra}\")"),
            ));
        }
        let operand = &map[operator];
        let rules = |operand: &Value| -> Result<Vec<Rule>, DefinitionError> {
            let items = operand
                .as_array()
                .filter(|items| !items.is_empty())
                .ok_or_else(|| invalid(&place, format!("\"{operator}\" needs rules")))?;
            items.iter().map(|v| Rule::parse(v, state, false)).collect()
        };
        let variable = || -> Result<Path, DefinitionError> {
            let text = required_string(map, "Variable", &place)?;
            Path::parse(text, &place)
        };
        let wrong = |kind: &str| invalid(&place, format!("\"{operator}\" needs a {kind}"));
        match operator.as_str() {
            "And" | "Or" | "Not" if map.contains_key("Variable") => {
                Err(invalid(&place, format!("\"{operator}\" takes no Variable")))
            }
            "And" => Ok(Self::And(rules(operand)?)),
            "Or" => Ok(Self::Or(rules(operand)?)),
            "Not" => Ok(Self::Not(Box::new(Rule::parse(operand, state, false)?))),
            "StringEquals" => Ok(Self::StringEquals(
                variable()?,
                operand.as_str().ok_or_else(|| wrong("string"))?.to_owned(),
            )),
            "BooleanEquals" => Ok(Self::BooleanEquals(
                variable()?,
                operand.as_bool().ok_or_else(|| wrong("boolean"))?,
            )),
            "IsPresent" => Ok(Self::IsPresent(
                variable()?,
                operand.as_bool().ok_or_else(|| wrong("boolean"))?,
            )),
            other => Err(DefinitionError::UnsupportedComparison {
                comparison: other.to_owned(),
                state: state.to_owned(),
            }),
        }
    }

    fn holds(&self, input: &Value) -> Result<bool, Failure> {
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

const COMMON: &[&str] = &["Type", "Comment"];
const TASK_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Resource",
];
const PARALLEL_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Branches",
];
const CHOICE_FIELDS: &[&str] = &["InputPath", "OutputPath", "Choices", "Default"];
const PASS_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultPath",
    "Result",
];
const SUCCEED_FIELDS: &[&str] = &["InputPath", "OutputPath"];
const FAIL_FIELDS: &[&str] = &["Error", "Cause"];

impl State {
    fn parse(name: &str, value: &Value) -> Result<Self, DefinitionError> {
        let place = format!("state \"{name}\"");
        let map = object(value, &place)?;
        let kind_name = required_string(map, "Type", &place)?;
        let fields = match kind_name {
            "Task" => TASK_FIELDS,
            "Parallel" => PARALLEL_FIELDS,
            "Choice" => CHOICE_FIELDS,
            "Pass" => PASS_FIELDS,
            "Succeed" => SUCCEED_FIELDS,
            "Fail" => FAIL_FIELDS,
            other => {
                return Err(DefinitionError::UnsupportedStateType {
                    kind: other.to_owned(),
                    state: name.to_owned(),
                });
            }
        };
        if let Some(field) = map
            .keys()
            .find(|k| !COMMON.contains(&k.as_str()) && !fields.contains(&k.as_str()))
        {
            return Err(DefinitionError::UnsupportedField {
                field: field.clone(),
                place,
            });
        }

        let kind = match kind_name {
            "Task" => {
                let resource = required_string(map, "Resource", &place)?;
                if let Some(start) = resource.find("${") {
                    let end = resource[start..]
                        .find('}')
                        .map_or(resource.len(), |e| start + e + 1);
                    return Err(DefinitionError::UnresolvedSubstitution {
                        placeholder: resource[start..end].to_owned(),
                        state: name.to_owned(),
                    });
                }
                Kind::Task {
                    resource: resource.to_owned(),
                }
            }
            "Parallel" => {
                let branches = map
                    .get("Branches")
                    .and_then(Value::as_array)
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| invalid(&place, "\"Branches\" must be a non-empty array"))?;
                let branches = branches
                    .iter()
                    .enumerate()
                    .map(|(i, b)| Machine::parse(b, &format!("branch {i} of {place}")))
                    .collect::<Result<_, _>>()?;
                Kind::Parallel { branches }
            }
            "Choice" => {
                let choices = map
                    .get("Choices")
                    .and_then(Value::as_array)
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| invalid(&place, "\"Choices\" must be a non-empty array"))?;
                let choices = choices
                    .iter()
                    .map(|choice| {
                        let rule = Rule::parse(choice, name, true)?;
                        let next = choice
                            .get("Next")
                            .and_then(Value::as_str)
                            .ok_or_else(|| invalid(&place, "a choice rule lacks \"Next\""))?;
                        Ok((rule, next.to_owned()))
                    })
                    .collect::<Result<_, DefinitionError>>()?;
                Kind::Choice {
                    choices,
                    default: string(map, "Default", &place)?.map(str::to_owned),
                }
            }
            "Pass" => Kind::Pass {
                result: map.get("Result").cloned(),
            },
            "Succeed" => Kind::Succeed,
            _ => Kind::Fail {
                error: string(map, "Error", &place)?.unwrap_or_default().to_owned(),
                cause: string(map, "Cause", &place)?.unwrap_or_default().to_owned(),
            },
        };

        let next = string(map, "Next", &place)?.map(str::to_owned);
        let end = match map.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid(&place, "\"End\" must be a boolean")),
        };
        let transitions = matches!(
            kind,
            Kind::Task { .. } | Kind::Parallel { .. } | Kind::Pass { .. }
        );
        if transitions && next.is_some() == end {
            return Err(invalid(
                &place,
                "exactly one of \"Next\" and \"End\": true is required",
            ));
        }

        let path = |field: &str| -> Result<Option<Path>, DefinitionError> {
            match string(map, field, &place)? {
                None => Ok(None),
                Some(text) => Path::parse(text, &format!("{field} of {place}")).map(Some),
            }
        };
        let template = |field: &str| -> Result<Option<Value>, DefinitionError> {
            match map.get(field) {
                None => Ok(None),
                Some(t) => {
                    check_template(t, &format!("{field} of {place}"))?;
                    Ok(Some(t.clone()))
                }
            }
        };
        let list = |field: &str| -> Result<&[Value], DefinitionError> {
            match map.get(field) {
                None => Ok(&[]),
                Some(Value::Array(items)) => Ok(items),
                Some(_) => Err(invalid(&place, format!("\"{field}\" must be an array"))),
            }
        };
        if map.get("InputPath").is_some_and(Value::is_null)
            || map.get("OutputPath").is_some_and(Value::is_null)
        {
            return Err(invalid(
                &place,
                "a null InputPath or OutputPath is not supported",
            ));
        }
        Ok(Self {
            input_path: path("InputPath")?,
            output_path: path("OutputPath")?,
            parameters: template("Parameters")?,
            result_selector: template("ResultSelector")?,
            result_path: Path::parse_nullable(map, "ResultPath", &place)?
                .unwrap_or(Some(Path(Vec::new()))),
            retry: list("Retry")?
                .iter()
                .map(|r| Retrier::parse(r, &format!("a Retry of {place}")))
                .collect::<Result<_, _>>()?,
            catch: list("Catch")?
                .iter()
                .map(|c| Catcher::parse(c, &format!("a Catch of {place}")))
                .collect::<Result<_, _>>()?,
            next,
            kind,
        })
    }

    /// The states this one can move to, with where each is named.
    fn targets(&self, name: &str) -> Vec<(&str, String)> {
        let mut targets = Vec::new();
        if let Some(next) = &self.next {
            targets.push((next.as_str(), format!("Next of state \"{name}\"")));
        }
        for catcher in &self.catch {
            targets.push((
                catcher.next.as_str(),
                format!("a Catch of state \"{name}\""),
            ));
        }
        if let Kind::Choice { choices, default } = &self.kind {
            for (_, next) in choices {
                targets.push((next.as_str(), format!("a choice rule of state \"{name}\"")));
            }
            if let Some(default) = default {
                targets.push((default.as_str(), format!("Default of state \"{name}\"")));
            }
        }
        targets
    }
}

impl Machine {
    fn parse(value: &Value, place: &str) -> Result<Self, DefinitionError> {
        let map = object(value, place)?;
        only_fields(map, &["Comment", "StartAt", "States"], place)?;
        let start_at = required_string(map, "StartAt", place)?.to_owned();
        let states = map
            .get("States")
            .and_then(Value::as_object)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(place, "\"States\" must be a non-empty object"))?
            .iter()
            .map(|(name, state)| Ok((name.clone(), State::parse(name, state)?)))
            .collect::<Result<HashMap<_, _>, DefinitionError>>()?;
        if !states.contains_key(&start_at) {
            return Err(DefinitionError::UnknownState {
                target: start_at,
                place: format!("StartAt of {place}"),
            });
        }
        for (name, state) in &states {
            for (target, named_in) in state.targets(name) {
                if !states.contains_key(target) {
                    return Err(DefinitionError::UnknownState {
                        target: target.to_owned(),
                        place: named_in,
                    });
                }
            }
        }
        Ok(Self { start_at, states })
    }
}

// ---------------------------------------------------------------------------------------------
// Execution.

/// A state's failure: the error name and cause an ASL Retry/Catch matches and reports.
#[derive(Debug, Clone)]
struct Failure {
    error: String,
    cause: String,
}

impl Failure {
    fn runtime(cause: impl Into<String>) -> Self {
        Self {
            error: RUNTIME.to_owned(),
            cause: cause.into(),
        }
    }
}

fn matches(names: &[String], error: &str, from_task: bool) -> bool {
    names.iter().any(|name| match name.as_str() {
        "States.ALL" => error != RUNTIME,
        "States.TaskFailed" => from_task && !error.starts_with("States."),
        _ => name == error,
    })
}

fn select(path: Option<&Path>, value: Value, what: &str) -> Result<Value, Failure> {
    match path {
        None => Ok(value),
        Some(path) => path.get(&value).cloned().ok_or_else(|| {
            Failure::runtime(format!(
                "Invalid path '{}' in {what}: no such value in the input",
                path.text()
            ))
        }),
    }
}

/// Fills a payload template from `input`: `"key.$": "$.path"` becomes `"key": <value>`.
fn fill(template: &Value, input: &Value, what: &str) -> Result<Value, Failure> {
    match template {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                if let Some(key) = key.strip_suffix(".$") {
                    // Checked at load time: a path string.
                    let text = value.as_str().unwrap_or("$");
                    let path =
                        Path::parse(text, what).map_err(|e| Failure::runtime(e.to_string()))?;
                    let found = path.get(input).ok_or_else(|| {
                        Failure::runtime(format!(
                            "The JSONPath '{text}' specified for the field '{key}.$' in {what} could not be found in the input"
                        ))
                    })?;
                    out.insert(key.to_owned(), found.clone());
                } else {
                    out.insert(key.clone(), fill(value, input, what)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|v| fill(v, input, what))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Puts `result` at `path` in `input` (`None`: discard the result, keep the input).
fn place_result(path: Option<&Path>, mut input: Value, result: Value) -> Result<Value, Failure> {
    let Some(path) = path else {
        return Ok(input);
    };
    let Some((last, parents)) = path.0.split_last() else {
        return Ok(result);
    };
    let mut node = &mut input;
    for segment in parents {
        let map = node.as_object_mut().ok_or_else(|| {
            Failure::runtime(format!(
                "Unable to apply ResultPath '{}': the input is not an object",
                path.text()
            ))
        })?;
        node = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let map = node.as_object_mut().ok_or_else(|| {
        Failure::runtime(format!(
            "Unable to apply ResultPath '{}': the input is not an object",
            path.text()
        ))
    })?;
    map.insert(last.clone(), result);
    Ok(input)
}

enum Step {
    Next(String, Value),
    End(Value),
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct Executor<'a> {
    invoker: &'a dyn TaskInvoker,
    sleeper: &'a dyn Sleeper,
}

impl<'a> Executor<'a> {
    fn run_machine<'b>(
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

    async fn run_state(
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
    async fn attempt(
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
    use std::collections::VecDeque;
    use std::sync::Mutex;

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
                Ok(if step == "FraudCheck" {
                    json!({"onHold": false, "score": 3})
                } else {
                    json!({})
                })
            })
        }
    }

    #[derive(Default)]
    struct RecordingSleeper(Mutex<Vec<Duration>>);

    #[async_trait]
    impl Sleeper for RecordingSleeper {
        async fn sleep(&self, duration: Duration) {
            self.0.lock().unwrap().push(duration);
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

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
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
        "NotifyAndRecord",
        "NotifyCustomer",
        "NotifyVendors",
        "RecordAnalytics",
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
            json!({"orderId": "o-1", "paymentMethod": "CARD", "fraud": {"onHold": false}})
        );
        assert_eq!(
            tasks.input_of("ReserveStock"),
            json!({"step": "ReserveStock", "orderId": "o-1"})
        );
        assert!(tasks.calls.lock().unwrap().len() == 11 && slept.is_empty());
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
    async fn a_resumed_execution_enters_at_confirm_order() {
        let tasks = FakeTasks::default();
        let input = json!({"orderId": "o-3", "paymentMethod": "CARD", "resume": "ConfirmOrder"});
        let (outcome, _) = run_checkout(input, &tasks).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        let mut expected = vec!["StartOrResume"];
        expected.extend_from_slice(&HAPPY[9..]);
        assert_eq!(outcome.history, names(&expected));
        assert_eq!(tasks.steps()[0], "ConfirmOrder");
    }

    #[tokio::test]
    async fn an_unexpected_error_is_caught_into_compensation() {
        let tasks = FakeTasks::default().fail("ScheduleDelivery", "Lambda.Unknown");
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
        assert_eq!(
            tasks.input_of("MarkFailed")["error"]["Error"],
            "Lambda.Unknown"
        );
    }

    #[tokio::test]
    async fn an_incomplete_profile_is_marked_failed_without_compensation() {
        let tasks = FakeTasks::default().fail("ValidateProfile", "ProfileIncomplete");
        let (outcome, _) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, failed("CheckoutFailed"));
        assert_eq!(
            outcome.history,
            names(&[
                "StartOrResume",
                "ValidateProfile",
                "MarkFailed",
                "CheckoutFailed"
            ])
        );
    }

    #[tokio::test]
    async fn out_of_stock_releases_without_refunding() {
        let tasks = FakeTasks::default().fail("ReserveStock", "OutOfStock");
        let (outcome, _) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, failed("CheckoutFailed"));
        assert!(outcome.history.ends_with(&names(&[
            "ReserveStock",
            "ReleaseStock",
            "FailureKind",
            "MarkFailed",
            "CheckoutFailed"
        ])));
    }

    #[tokio::test]
    async fn a_failed_notification_does_not_undo_the_order() {
        let tasks = FakeTasks::default().fail("NotifyVendors", "SnsUnavailable");
        let (outcome, _) = run_checkout(card(), &tasks).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(outcome.history, names(HAPPY), "every branch still ran");
        assert_eq!(outcome.output["notifyError"]["Error"], "SnsUnavailable");
    }

    fn refused(definition: Value) -> String {
        Definition::parse(&definition.to_string(), Vec::<(&str, &str)>::new())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unsupported_constructs_are_refused_by_name() {
        let map = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true}}});
        assert_eq!(
            refused(map),
            "unsupported state type \"Map\" in state \"M\""
        );

        let field = json!({"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "r",
            "ItemsPath": "$.items", "End": true}}});
        assert_eq!(
            refused(field),
            "unsupported field \"ItemsPath\" in state \"X\""
        );

        let comparison = json!({"StartAt": "Y", "States": {
            "Y": {"Type": "Choice", "Choices": [
                {"Not": {"Variable": "$.n", "NumericGreaterThan": 3}, "Next": "Z"}]},
            "Z": {"Type": "Succeed"}}});
        assert_eq!(
            refused(comparison),
            "unsupported comparison \"NumericGreaterThan\" in state \"Y\""
        );

        let retry = json!({"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "r",
            "Retry": [{"ErrorEquals": ["States.ALL"], "JitterStrategy": "FULL"}], "End": true}}});
        assert_eq!(
            refused(retry),
            "unsupported field \"JitterStrategy\" in a Retry of state \"X\""
        );

        let context = json!({"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "r",
            "Parameters": {"name.$": "$$.Execution.Name"}, "End": true}}});
        assert!(refused(context).contains("unsupported path \"$$.Execution.Name\""));

        let intrinsic = json!({"StartAt": "X", "States": {"X": {"Type": "Pass",
            "Parameters": {"s.$": "States.Format('{}', $.a)"}, "End": true}}});
        assert!(refused(intrinsic).contains("intrinsic functions are not supported"));

        let top = json!({"StartAt": "S", "QueryLanguage": "JSONata",
            "States": {"S": {"Type": "Succeed"}}});
        assert_eq!(
            refused(top),
            "unsupported field \"QueryLanguage\" in the definition"
        );

        let dangling =
            json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "Next": "Nowhere"}}});
        assert_eq!(
            refused(dangling),
            "state \"Nowhere\" named in Next of state \"S\" does not exist"
        );

        let in_branch = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}]}}});
        assert_eq!(
            refused(in_branch),
            "unsupported state type \"Wait\" in state \"W\""
        );
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

    async fn run_small(definition: Value, input: Value) -> ExecutionOutcome {
        let definition =
            Definition::parse(&definition.to_string(), [("Fn", "arn:fn")]).expect("parses");
        run_with_sleeper(&definition, input, &Echo, &RecordingSleeper::default()).await
    }

    #[tokio::test]
    async fn input_path_parameters_result_selector_result_path_and_output_path_compose() {
        let definition = json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "${Fn}",
            "InputPath": "$.order",
            "Parameters": {"step": "X", "id.$": "$.id", "nested": {"lines.$": "$.lines"}, "list": [{"v.$": "$.id"}]},
            "ResultSelector": {"echoed.$": "$.got", "from.$": "$.resource", "fixed": true},
            "ResultPath": "$.out.task",
            "OutputPath": "$.out",
            "End": true}}});
        let input = json!({"order": {"id": "o-9", "lines": [1, 2]}, "keep": "me"});
        let outcome = run_small(definition, input).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(
            outcome.output,
            json!({"task": {
                "echoed": {"step": "X", "id": "o-9", "nested": {"lines": [1, 2]}, "list": [{"v": "o-9"}]},
                "from": "arn:fn", "fixed": true}})
        );
    }

    #[tokio::test]
    async fn result_path_dollar_replaces_and_null_discards() {
        let replace = json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "r", "ResultPath": "$", "End": true}}});
        let outcome = run_small(replace, json!({"a": 1})).await;
        assert_eq!(
            outcome.output,
            json!({"resource": "r", "got": {"a": 1}, "extra": 1})
        );

        let discard = json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "r", "ResultPath": null, "End": true}}});
        assert_eq!(
            run_small(discard, json!({"a": 1})).await.output,
            json!({"a": 1})
        );
    }

    #[tokio::test]
    async fn a_missing_path_fails_with_states_runtime_uncaught() {
        let definition = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Parameters": {"id.$": "$.missing"},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S"}], "End": true},
            "S": {"Type": "Succeed"}}});
        let outcome = run_small(definition, json!({})).await;
        assert!(
            matches!(&outcome.status, ExecutionStatus::Failed { error, .. } if error == "States.Runtime"),
            "{:?}",
            outcome.status
        );
        assert_eq!(outcome.history, names(&["T"]));
    }

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

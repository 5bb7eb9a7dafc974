//! Loading a definition: the parsed form of a state machine and the checks that refuse
//! anything outside the supported subset.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::DefinitionError;
use super::paths::{Path, check_template};

#[derive(Debug, Clone)]
pub(super) struct Machine {
    pub(super) start_at: String,
    pub(super) states: HashMap<String, State>,
}

#[derive(Debug, Clone)]
pub(super) struct State {
    pub(super) kind: Kind,
    pub(super) input_path: Option<Path>,
    pub(super) output_path: Option<Path>,
    pub(super) parameters: Option<Value>,
    pub(super) result_selector: Option<Value>,
    pub(super) result_path: Option<Path>,
    pub(super) retry: Vec<Retrier>,
    pub(super) catch: Vec<Catcher>,
    pub(super) next: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
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

#[derive(Debug, Clone)]
pub(super) struct Retrier {
    pub(super) error_equals: Vec<String>,
    pub(super) interval_seconds: f64,
    pub(super) max_attempts: u64,
    pub(super) backoff_rate: f64,
}

#[derive(Debug, Clone)]
pub(super) struct Catcher {
    pub(super) error_equals: Vec<String>,
    pub(super) next: String,
    pub(super) result_path: Option<Path>,
}

#[derive(Debug, Clone)]
pub(super) enum Rule {
    StringEquals(Path, String),
    BooleanEquals(Path, bool),
    IsPresent(Path, bool),
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
}

pub(super) fn invalid(place: &str, problem: impl Into<String>) -> DefinitionError {
    DefinitionError::Invalid {
        place: place.to_owned(),
        problem: problem.into(),
    }
}

pub(super) fn object<'a>(
    value: &'a Value,
    place: &str,
) -> Result<&'a Map<String, Value>, DefinitionError> {
    value
        .as_object()
        .ok_or_else(|| invalid(place, "expected a JSON object"))
}

pub(super) fn only_fields(
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

pub(super) fn string<'a>(
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

pub(super) fn required_string<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    place: &str,
) -> Result<&'a str, DefinitionError> {
    string(map, field, place)?.ok_or_else(|| invalid(place, format!("\"{field}\" is required")))
}

pub(super) fn error_equals(
    map: &Map<String, Value>,
    place: &str,
) -> Result<Vec<String>, DefinitionError> {
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
    pub(super) fn parse(value: &Value, place: &str) -> Result<Self, DefinitionError> {
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
    pub(super) fn parse(value: &Value, place: &str) -> Result<Self, DefinitionError> {
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
    pub(super) fn parse(value: &Value, state: &str, top: bool) -> Result<Self, DefinitionError> {
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
}

pub(super) const COMMON: &[&str] = &["Type", "Comment"];
pub(super) const TASK_FIELDS: &[&str] = &[
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
pub(super) const PARALLEL_FIELDS: &[&str] = &[
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
pub(super) const CHOICE_FIELDS: &[&str] = &["InputPath", "OutputPath", "Choices", "Default"];
pub(super) const PASS_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultPath",
    "Result",
];
pub(super) const SUCCEED_FIELDS: &[&str] = &["InputPath", "OutputPath"];
pub(super) const FAIL_FIELDS: &[&str] = &["Error", "Cause"];

impl State {
    pub(super) fn parse(name: &str, value: &Value) -> Result<Self, DefinitionError> {
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
    pub(super) fn targets(&self, name: &str) -> Vec<(&str, String)> {
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
    pub(super) fn parse(value: &Value, place: &str) -> Result<Self, DefinitionError> {
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::asl::Definition;

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
}

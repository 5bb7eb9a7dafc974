//! Reference paths (`$` and `$.a.b`): parsing them, checking payload templates, and
//! applying InputPath, Parameters, ResultSelector, ResultPath and OutputPath to a value.

use serde_json::{Map, Value};

use super::DefinitionError;
use super::exec::Failure;
use super::parse::invalid;

/// `$` (no segments) or `$.a.b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Path(pub(super) Vec<String>);

impl Path {
    pub(super) fn parse(text: &str, place: &str) -> Result<Self, DefinitionError> {
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
    pub(super) fn parse_nullable(
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

    pub(super) fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.0
            .iter()
            .try_fold(value, |v, segment| v.as_object()?.get(segment))
    }

    pub(super) fn text(&self) -> String {
        std::iter::once("$".to_owned())
            .chain(self.0.iter().cloned())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Checks a payload template (Parameters, ResultSelector): every `.$` key holds a path.
pub(super) fn check_template(template: &Value, place: &str) -> Result<(), DefinitionError> {
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

pub(super) fn select(path: Option<&Path>, value: Value, what: &str) -> Result<Value, Failure> {
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
pub(super) fn fill(template: &Value, input: &Value, what: &str) -> Result<Value, Failure> {
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
pub(super) fn place_result(
    path: Option<&Path>,
    mut input: Value,
    result: Value,
) -> Result<Value, Failure> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::asl::ExecutionStatus;
    use crate::asl::test_support::{names, run_small};

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
}

//! `docs/openapi.json` is what the routes declare: the docs function serves that file and
//! clients generate from it, while `milkrun serve` serves the routes' own document.

use std::path::PathBuf;

use serde_json::Value;

const REGENERATE: &str = "MILKRUN_WRITE_OPENAPI=1 cargo test --workspace --test openapi";

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn docs_openapi_json_is_what_the_routes_declare() {
    let generated = milkrun_registry::openapi_json();
    let path = committed_path();
    if std::env::var_os("MILKRUN_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("docs/openapi.json is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "docs/openapi.json differs from what the routes declare (first at line {}: {:?} \
             where the routes give {:?}); regenerate it with `{REGENERATE}`, then read the \
             diff and commit it",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            generated.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

/// OpenAPI requires a description on every response; a route's success answer gives its
/// own (the error statuses have a shared one, `milkrun_http::docs::error_description`).
#[test]
fn every_response_is_described() {
    let document = serde_json::to_value(milkrun_registry::openapi()).unwrap();
    let mut undescribed = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                let description = response["description"].as_str().unwrap_or_default();
                if description.trim().is_empty() {
                    undescribed.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(
        undescribed.is_empty(),
        "responses without a description: {undescribed:#?}"
    );
}

/// The document speaks to clients: every description says the rule, not where it is written
/// (no spec section, no link to a Rust item).
#[test]
fn no_description_cites_the_spec_or_the_code() {
    fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::String(text)
                if text.contains("SPEC") || text.contains('§') || text.contains("[`") =>
            {
                found.push(format!("{at}: {text}"));
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{at}/{index}"), found);
                }
            }
            Value::Object(fields) => {
                // An enum's values are names, not prose (FRAUD_SUSPECTED holds "SPEC").
                for (key, field) in fields.iter().filter(|(key, _)| *key != "enum") {
                    walk(field, &format!("{at}/{key}"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(
        &serde_json::to_value(milkrun_registry::openapi()).unwrap(),
        "",
        &mut found,
    );
    assert!(
        found.is_empty(),
        "texts citing the spec or the code: {found:#?}"
    );
}

//! Every metric of the `milkrun` namespace that template.yaml's dashboard and alarms read is
//! one this crate names, so a renamed metric fails here instead of drawing an empty graph
//! and an alarm that never fires.

use std::collections::BTreeSet;

use milkrun_metrics::{ALL, DEAD_LETTERED, NAMESPACE};

const TEMPLATE: &str = include_str!("../../../template.yaml");

/// The text after each `marker`, up to `end`.
fn after<'a>(text: &'a str, marker: &str, end: char) -> Vec<&'a str> {
    text.match_indices(marker)
        .map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            &rest[..rest.find(end).unwrap_or(rest.len())]
        })
        .collect()
}

/// The milkrun metrics the dashboard body names: in a metric array
/// (`["milkrun", "Name", ...]`) or a SEARCH expression (`MetricName=\"Name\"`, the
/// expression's quotes escaped in the JSON).
fn in_dashboard(template: &str) -> BTreeSet<&str> {
    let start = template
        .find("AWS::CloudWatch::Dashboard")
        .expect("a dashboard");
    let body = &template[start..];
    let body = &body[..body.find("\n\n").expect("the dashboard ends")];
    let arrays = after(body, &format!("[\"{NAMESPACE}\", \""), '"');
    let searches: Vec<&str> = after(body, "SEARCH('{", '\'')
        .into_iter()
        .filter(|query| query.starts_with(&format!("{NAMESPACE},")))
        .flat_map(|query| after(query, "MetricName=\\\"", '\\'))
        .collect();
    arrays.into_iter().chain(searches).collect()
}

/// The metrics named under `Namespace: milkrun` anywhere in the template (the alarms).
fn in_alarms(template: &str) -> BTreeSet<&str> {
    let lines: Vec<&str> = template.lines().collect();
    let mut names = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == format!("Namespace: {NAMESPACE}") {
            let name = lines[i + 1..]
                .iter()
                .find_map(|l| l.trim().strip_prefix("MetricName: "))
                .expect("a metric name after the namespace");
            names.insert(name);
        }
    }
    names
}

fn known() -> BTreeSet<&'static str> {
    ALL.iter().map(|m| m.name).collect()
}

#[test]
fn the_dashboard_reads_only_named_metrics_and_every_lambda_one() {
    let used = in_dashboard(TEMPLATE);
    let known = known();
    let unknown: Vec<_> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "not in milkrun_metrics::ALL: {unknown:?}"
    );
    // Every metric a Lambda function emits has its graph; DeadLettered is the local bus's
    // (in AWS the DLQs' own depth is graphed).
    let mut expected = known;
    expected.remove(DEAD_LETTERED.name);
    assert_eq!(used, expected);
}

#[test]
fn the_alarms_read_only_named_metrics() {
    let used = in_alarms(TEMPLATE);
    assert!(
        used.contains("CheckoutOutcome"),
        "the failure-rate alarm: {used:?}"
    );
    let known = known();
    let unknown: Vec<_> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "not in milkrun_metrics::ALL: {unknown:?}"
    );
}

#[test]
fn a_renamed_metric_is_caught() {
    let renamed = TEMPLATE.replace("\"PaymentDeclined\"", "\"PaymentsDeclined\"");
    assert!(in_dashboard(&renamed).contains("PaymentsDeclined"));
    let renamed = TEMPLATE.replace("MetricName=\\\"OrdersPlaced", "MetricName=\\\"OrderPlaced");
    assert!(in_dashboard(&renamed).contains("OrderPlaced"));
    let renamed = TEMPLATE.replace(
        "MetricName: CheckoutOutcome",
        "MetricName: CheckoutOutcomes",
    );
    assert!(in_alarms(&renamed).contains("CheckoutOutcomes"));
}

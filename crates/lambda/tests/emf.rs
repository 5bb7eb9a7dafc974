//! The Embedded Metric Format lines the Lambda host writes: each metric of
//! `milkrun_metrics::ALL` parsed back from the flushed JSON (namespace, dimension set and
//! values, name, unit, value), and the flush after each invocation. One test: the recorder
//! is the process's global one, installed once.

use std::collections::BTreeMap;

use lambda_runtime::tower::{Layer, Service, ServiceExt, service_fn};
use milkrun_domain::notification::Channel;
use milkrun_domain::order::OrderStatus;
use milkrun_lambda::emf::{FlushLayer, builder, flush};
use milkrun_metrics::{ALL, FUNCTION, NAMESPACE};
use serde_json::Value;

const FUNCTION_NAME: &str = "milkrun-dev-CheckoutTaskFunction-AbC123";
const AT: u64 = 1_765_000_000_000;

/// Flushes `collector` and parses each line written.
fn flushed(collector: &metrics_cloudwatch_embedded::Collector) -> Vec<Value> {
    let mut out = Vec::new();
    flush(collector, &mut out);
    let text = String::from_utf8(out).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).expect("one JSON document a line"))
        .collect()
}

/// Each metric's value by (name, its own dimension's value), checking every line's frame.
fn values(lines: &[Value]) -> BTreeMap<(String, Option<String>), u64> {
    let mut seen = BTreeMap::new();
    for line in lines {
        let aws = &line["_aws"];
        assert_eq!(aws["Timestamp"], AT);
        let declared = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(declared.len(), 1, "{line}");
        assert_eq!(declared[0]["Namespace"], NAMESPACE);
        let dimensions = declared[0]["Dimensions"].as_array().unwrap();
        assert_eq!(dimensions.len(), 1, "one dimension set: {line}");
        let dimensions: Vec<&str> = dimensions[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert_eq!(dimensions[0], FUNCTION);
        assert!(dimensions.len() <= 2, "dimensions kept few: {line}");
        for dimension in &dimensions {
            assert!(
                line[dimension].is_string(),
                "each dimension's value: {line}"
            );
        }
        assert_eq!(line[FUNCTION], FUNCTION_NAME);
        for metric in declared[0]["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let known = ALL.iter().find(|m| m.name == name).expect("a named metric");
            assert_eq!(metric["Unit"], "Count", "{name}'s unit");
            let own: Vec<&str> = dimensions[1..].to_vec();
            assert_eq!(
                own,
                known.dimension.into_iter().collect::<Vec<_>>(),
                "{name}"
            );
            let label = own.first().map(|d| line[*d].as_str().unwrap().to_owned());
            let value = line[name].as_u64().expect("a whole count");
            assert!(
                seen.insert((name.to_owned(), label), value).is_none(),
                "{name} once per flush"
            );
        }
    }
    seen
}

fn key(name: &str, label: Option<&str>) -> (String, Option<String>) {
    (name.to_owned(), label.map(str::to_owned))
}

#[tokio::test]
async fn every_metric_is_written_as_embedded_metric_format_and_flushed_per_invocation() {
    let collector = builder(FUNCTION_NAME).with_timestamp(AT).init().unwrap();
    milkrun_metrics::describe();

    milkrun_metrics::order_placed();
    milkrun_metrics::checkout_outcome(OrderStatus::Preparing);
    milkrun_metrics::checkout_outcome(OrderStatus::Failed);
    milkrun_metrics::checkout_outcome(OrderStatus::Failed);
    milkrun_metrics::payment_declined();
    milkrun_metrics::subscription_order_created();
    milkrun_metrics::subscription_day_skipped();
    milkrun_metrics::notification_sent(Channel::Email);
    milkrun_metrics::dead_lettered("notification");
    let seen = values(&flushed(collector));
    let expected = BTreeMap::from([
        (key("OrdersPlaced", None), 1),
        (key("CheckoutOutcome", Some("PREPARING")), 1),
        (key("CheckoutOutcome", Some("FAILED")), 2),
        (key("PaymentDeclined", None), 1),
        (key("SubscriptionOrdersCreated", None), 1),
        (key("SubscriptionDaysSkipped", None), 1),
        (key("NotificationsSent", Some("EMAIL")), 1),
        (key("DeadLettered", Some("notification")), 1),
    ]);
    assert_eq!(seen, expected);
    for metric in ALL {
        assert!(
            seen.keys().any(|(name, _)| name == metric.name),
            "{metric:?}"
        );
    }
    assert!(
        flushed(collector).is_empty(),
        "a flush writes each count once"
    );

    // The layer flushes once the invocation is answered: nothing is left for the next.
    let handler = service_fn(|()| async {
        milkrun_metrics::order_placed();
        Ok::<_, lambda_runtime::Error>("answered")
    });
    let mut service = FlushLayer(collector).layer(handler);
    let answer = service.ready().await.unwrap().call(()).await.unwrap();
    assert_eq!(answer, "answered");
    assert!(flushed(collector).is_empty(), "flushed by the layer");
    milkrun_metrics::order_placed();
    let left = values(&flushed(collector));
    assert_eq!(left, BTreeMap::from([(key("OrdersPlaced", None), 1)]));
}

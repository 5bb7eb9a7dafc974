//! The arithmetic: 1,000 checkouts at us-east-1 list prices.

use std::collections::BTreeMap;

use super::latency::ms;
use super::metered::Metered;
use crate::item_meter::Tally;

/// us-east-1 list prices, as published (checked against the pricing pages as we knew them in
/// 2025; verify before relying on them).
pub(crate) mod price {
    /// Lambda: per request, and per GB-second on arm64 (first 7.5 billion GB-s a month).
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    pub const LAMBDA_ARM_GB_S: f64 = 0.000_013_333_4;
    /// Step Functions Express: per request (execution started), and per GB-second of
    /// duration (first 1,000 GB-hours a month), billed in 64 MB and 100 ms increments.
    pub const EXPRESS_REQUEST: f64 = 1.00 / 1e6;
    pub const EXPRESS_GB_S: f64 = 0.000_016_67;
    /// Step Functions Standard: per state transition.
    pub const STANDARD_TRANSITION: f64 = 25.0 / 1e6;
    /// DynamoDB on-demand, as the brief gives them (the list price until 2024-10-31)…
    pub const WRU_BRIEF: f64 = 1.25 / 1e6;
    pub const RRU_BRIEF: f64 = 0.25 / 1e6;
    /// …and since 2024-11-01 (on-demand throughput halved).
    pub const WRU_NOW: f64 = 0.625 / 1e6;
    pub const RRU_NOW: f64 = 0.125 / 1e6;
    /// SNS: per publish (64 KB chunk); deliveries to SQS are free.
    pub const SNS_PUBLISH: f64 = 0.50 / 1e6;
    /// SQS standard: per request (64 KB chunk).
    pub const SQS_REQUEST: f64 = 0.40 / 1e6;
    /// SES: per message sent.
    pub const SES_MESSAGE: f64 = 0.10 / 1e3;
    /// API Gateway REST API: per request (first 333 million a month).
    pub const REST_API_REQUEST: f64 = 3.50 / 1e6;
    /// CloudWatch Logs: per GB ingested (standard class).
    pub const LOGS_GB: f64 = 0.50;
}

/// What Lambda writes beside the function's own lines at system log level INFO: START, END
/// and REPORT (with the X-Ray trace id under active tracing), about this many bytes an
/// invocation as text lines. The JSON format's `platform.start` and `platform.report`
/// records are larger, so the INFO row is a lower bound (and DEBUG writes more).
pub(super) const PLATFORM_LOG_BYTES_AT_INFO: f64 = 350.0;

/// Lambda's own bytes an invocation as template.yaml deploys it: its `SystemLogLevel`
/// parameter's default. WARN leaves START, END and REPORT out; INFO and DEBUG write them.
pub(super) fn platform_log_bytes() -> f64 {
    match template_system_log_level() {
        "WARN" => 0.0,
        _ => PLATFORM_LOG_BYTES_AT_INFO,
    }
}

/// The template the bill is held to: its logging configuration and its event mappings.
const TEMPLATE: &str = include_str!("../../../template.yaml");

/// The default of template.yaml's `SystemLogLevel` parameter, which every function's
/// `LoggingConfig` takes.
fn template_system_log_level() -> &'static str {
    let (_, parameter) = TEMPLATE
        .split_once("\n  SystemLogLevel:\n")
        .expect("template.yaml has a SystemLogLevel parameter");
    parameter
        .lines()
        .take_while(|line| line.starts_with("    "))
        .find_map(|line| line.trim().strip_prefix("Default: "))
        .expect("the SystemLogLevel parameter has a default")
}
/// One Embedded Metric Format line of ours (a counter with the function dimension and one
/// of its own, as crates/lambda/tests/emf.rs parses them, and a 54-character function name
/// such as `milkrun-prod-NotificationConsumerFunction-AbCdEfGh1234`): about this many bytes.
/// Each metric increment is billed a line, an upper bound: one invocation's increments of
/// a metric and dimension value share one.
pub(super) const EMF_LINE_BYTES: f64 = 285.0;
/// For the second duration estimate: one DynamoDB round trip in the region (single-digit
/// milliseconds; transactions take longer, small reads less).
pub(super) const DYNAMODB_ROUND_TRIP_MS: f64 = 6.0;
/// Lambda's CPU share at 256 MB against a full vCPU at 1,769 MB.
pub(super) const CPU_SLOWDOWN_256: f64 = 1769.0 / 256.0;
/// The Step Functions to Lambda hop, per Task state (Express, synchronous invoke).
pub(super) const TASK_HOP_MS: f64 = 15.0;

/// Issue 17's goal: dollars per 1,000 checkouts.
const GOAL: f64 = 0.045;
/// The most a batch holds on the event path: an SQS receive, an SNS PublishBatch, and the
/// queue mappings' `BatchSize` (the stream's is 100, but its events leave ten to a request).
const FULL_BATCH: f64 = 10.0;
/// Every event source mapping's `MaximumBatchingWindowInSeconds` in template.yaml: how long
/// Lambda gathers records before it invokes with fewer than a full batch.
pub(super) const BATCHING_WINDOW_S: f64 = 1.0;

/// A path's batch at `rate` checkouts a second when each checkout puts `messages` on it:
/// what one window gathers, at least one, at most a full batch. (Lambda polls a queue with
/// several pollers, which may split a window's messages: read this as the rate from which
/// batches can fill.)
fn batch_at(rate: f64, messages: f64) -> f64 {
    (rate * messages * BATCHING_WINDOW_S).clamp(1.0, FULL_BATCH)
}

/// Whether `label` is one of the event consumers (each has its own queue and Lambda).
fn is_consumer(label: &str) -> bool {
    milkrun_registry::CONSUMERS.iter().any(|c| c.name == label)
}

pub(super) fn costs(m: &Metered) {
    let n = m.checkouts as f64;
    let per = |v: f64| v / n;
    let timing_n = m.invocations.get("POST /orders").copied().unwrap_or(1) as f64;
    println!(
        "\n## per checkout: {} metered checkouts, one at a time\n",
        m.checkouts
    );
    println!(
        "| who | invocations | local handler time (timing pass) | DynamoDB calls | by operation | RRU | WRU (tables) | WRU (indexes) | events committed | log bytes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut order: Vec<&String> = m.tallies.keys().collect();
    for label in m.invocations.keys() {
        if !order.contains(&label) {
            order.push(label);
        }
    }
    order.sort_by_key(|l| step_rank(l));
    let mut total = Tally::default();
    for label in &order {
        let tally = m.tallies.get(*label).cloned().unwrap_or_default();
        total.add(&tally);
        let invocations = m.invocations.get(*label).copied().unwrap_or(0) as f64 / timing_n;
        let time = m.time.get(*label).copied().unwrap_or_default();
        let ops: Vec<String> = tally
            .calls
            .iter()
            .map(|(op, k)| format!("{op} × {:.1}", per(*k as f64)))
            .collect();
        println!(
            "| {label} | {invocations:.1} | {:.2} ms | {:.1} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
            ms(time) / timing_n,
            per(tally.total_calls() as f64),
            ops.join(", "),
            per(tally.read_units),
            per(tally.write_units),
            per(tally.index_write_units),
            per(tally.outbox_items as f64),
            per(*m.log_bytes.get(*label).unwrap_or(&0) as f64),
        );
    }
    println!(
        "| **all** | | | **{:.1}** | | **{:.1}** | **{:.1}** | **{:.1}** | **{:.1}** | {:.0} |",
        per(total.total_calls() as f64),
        per(total.read_units),
        per(total.write_units),
        per(total.index_write_units),
        per(total.outbox_items as f64),
        per(m.log_bytes.values().sum::<u64>() as f64),
    );
    println!(
        "\n| table | RRU | WRU (table) | WRU (its indexes) | indexes |\n|---|---|---|---|---|"
    );
    let tables: BTreeMap<&str, usize> = milkrun_store::table::ALL
        .iter()
        .map(|t| (t.name, t.indexes.len()))
        .collect();
    for (table, [read, write, index]) in &total.by_table {
        println!(
            "| {table} | {:.1} | {:.1} | {:.1} | {} |",
            per(*read),
            per(*write),
            per(*index),
            tables.get(table).copied().unwrap_or(0)
        );
    }
    let tasks: usize = m
        .invocations
        .iter()
        .filter(|(l, _)| *l != "POST /orders" && !is_consumer(l))
        .map(|(_, k)| *k)
        .sum();
    let tasks = tasks as f64 / timing_n;
    let states = per(m.states as f64);
    let events = per(m.sns as f64);
    let sqs = per(m.sqs as f64);
    let deliveries = per(m.consumer_deliveries as f64);
    // What the publisher is handed: every audit entry and outbox item, events or none.
    let records = per(total.stream_records as f64);
    let topic_events: Vec<f64> = m.topics.values().map(|k| per(*k as f64)).collect();
    let mails = per(m.mails as f64);
    println!(
        "\ntask invocations {tasks:.1}; states entered {states:.1} ({}); execution start to end (local) {:.2} ms",
        m.history.join(" → "),
        ms(m.execution_wall) / timing_n
    );
    println!(
        "events committed {events:.1} (= SNS publishes, one a request), on {} topics; {records:.1} stream records; {sqs:.1} messages on the consumers' queues (one per event and queue whose topics take it); mails {mails:.1}",
        topic_events.len()
    );
    for (event, k) in &m.events {
        println!("  {event}: {:.1}", per(*k as f64));
    }

    // --- per-invocation durations: the local handler time as the proxy, and an AWS estimate.
    let local = |label: &str| ms(m.time.get(label).copied().unwrap_or_default()) / timing_n;
    let calls = |label: &str| per(m.tallies.get(label).map_or(0, Tally::total_calls) as f64);
    let http_local = local("POST /orders");
    let http_aws = http_local * CPU_SLOWDOWN_256 + calls("POST /orders") * DYNAMODB_ROUND_TRIP_MS;
    let step_labels: Vec<&String> = m
        .invocations
        .keys()
        .filter(|l| *l != "POST /orders" && !is_consumer(l))
        .collect();
    // Billed Lambda ms: each invocation rounded up to the millisecond.
    let billed =
        |ms: f64, invocations: f64| (ms / invocations.max(1.0)).ceil().max(1.0) * invocations;
    let mut tasks_local_ms = 0.0;
    let mut tasks_aws_ms = 0.0;
    let mut execution_aws_ms = 0.0;
    for label in &step_labels {
        let invocations = m.invocations[*label] as f64 / timing_n;
        let l = local(label);
        let aws = l * CPU_SLOWDOWN_256 + calls(label) * DYNAMODB_ROUND_TRIP_MS;
        tasks_local_ms += billed(l, invocations);
        tasks_aws_ms += billed(aws, invocations);
        // Every task runs in sequence: the definition has no Parallel state any more.
        execution_aws_ms += aws + TASK_HOP_MS * invocations;
    }
    let consumers: Vec<Consumer> = milkrun_registry::CONSUMERS
        .iter()
        .map(|c| {
            let invocations = m.invocations.get(c.name).copied().unwrap_or(0) as f64 / timing_n;
            let l = local(c.name);
            (
                c.name,
                invocations,
                l,
                l * CPU_SLOWDOWN_256 + calls(c.name) * DYNAMODB_ROUND_TRIP_MS,
            )
        })
        .collect();
    let log_lines = per(m.log_bytes.values().sum::<u64>() as f64);
    let metric_lines = per(m.metric_increments as f64);
    let log_bytes_own = log_lines + metric_lines * EMF_LINE_BYTES;

    println!("\n## 1,000 checkouts in AWS (us-east-1 list prices)\n");
    println!(
        "Durations: \"local\" is the handler time measured here (the proxy); \"AWS est.\" is local × {CPU_SLOWDOWN_256:.1} (256 MB is {:.0} % of a vCPU) + {DYNAMODB_ROUND_TRIP_MS} ms per DynamoDB call, and {TASK_HOP_MS} ms per Task state for the Step Functions → Lambda hop.\n",
        100.0 / CPU_SLOWDOWN_256
    );
    println!("| item | arithmetic (per 1,000 checkouts) | local | AWS est. |");
    println!("|---|---|---|---|");
    let k = 1000.0;
    let mut rows: Vec<(String, String, f64, f64, bool)> = Vec::new();
    // Step Functions.
    let express_s = |ms: f64| (ms / 100.0).ceil().max(1.0) * 0.1;
    let local_exec_ms = ms(m.execution_wall) / timing_n;
    let express =
        |ms: f64| k * (price::EXPRESS_REQUEST + express_s(ms) * 0.0625 * price::EXPRESS_GB_S);
    rows.push((
        "Step Functions EXPRESS".into(),
        format!(
            "1,000 × ($1.00/M + ⌈duration⌉₁₀₀ₘₛ × 0.0625 GB × $0.00001667); duration {local_exec_ms:.0} ms local, {execution_aws_ms:.0} ms est."
        ),
        express(local_exec_ms),
        express(execution_aws_ms),
        true,
    ));
    let standard = k * states * price::STANDARD_TRANSITION;
    rows.push((
        "(Step Functions STANDARD instead)".into(),
        format!("1,000 × {states:.0} transitions × $25/M"),
        standard,
        standard,
        false,
    ));
    // Lambda.
    let lambda = |invocations: f64, billed_ms: f64, gb: f64| {
        k * (invocations * price::LAMBDA_REQUEST + billed_ms / 1000.0 * gb * price::LAMBDA_ARM_GB_S)
    };
    rows.push((
        "Lambda: order function (POST /orders)".into(),
        format!(
            "1,000 × (1 × $0.20/M + {:.0} ms (est. {http_aws:.0} ms) × 0.25 GB × $0.0000133334)",
            billed(http_local, 1.0)
        ),
        lambda(1.0, billed(http_local, 1.0), 0.25),
        lambda(1.0, billed(http_aws, 1.0), 0.25),
        true,
    ));
    rows.push((
        "Lambda: checkout task".into(),
        format!("1,000 × ({tasks:.0} × $0.20/M + {tasks_local_ms:.0} ms (est. {tasks_aws_ms:.0} ms) × 0.25 GB × $0.0000133334)"),
        lambda(tasks, tasks_local_ms, 0.25),
        lambda(tasks, tasks_aws_ms, 0.25),
        true,
    ));
    // DynamoDB.
    let (rru, wru) = (
        per(total.read_units),
        per(total.write_units + total.index_write_units),
    );
    rows.push((
        "DynamoDB on-demand (all of the above and the consumers)".into(),
        format!("1,000 × ({rru:.1} RRU × $0.25/M + {wru:.1} WRU × $1.25/M); at today's $0.125/$0.625: ${:.4}",
            k * (rru * price::RRU_NOW + wru * price::WRU_NOW)),
        k * (rru * price::RRU_BRIEF + wru * price::WRU_BRIEF),
        k * (rru * price::RRU_BRIEF + wru * price::WRU_BRIEF),
        true,
    ));
    // Events.
    rows.push((
        "SNS publishes".into(),
        format!("1,000 × {events:.0} events × $0.50/M (one a request: an upper bound)"),
        k * events * price::SNS_PUBLISH,
        k * events * price::SNS_PUBLISH,
        true,
    ));
    rows.push((
        "SQS (a queue per consumer)".into(),
        format!("1,000 × {sqs:.0} messages × 3 requests (send, receive, delete; unbatched: an upper bound) × $0.40/M"),
        k * sqs * 3.0 * price::SQS_REQUEST,
        k * sqs * 3.0 * price::SQS_REQUEST,
        true,
    ));
    let publisher_ms = 20.0;
    rows.push((
        "Lambda: publisher (stream → SNS)".into(),
        format!("1,000 × ({records:.0} stream records × $0.20/M + {records:.0} × {publisher_ms} ms (assumed: one SNS call) × 0.125 GB × $0.0000133334); a record an invocation, an upper bound"),
        lambda(records, records * publisher_ms, 0.125),
        lambda(records, records * publisher_ms, 0.125),
        true,
    ));
    for (name, invocations, local_ms, aws_ms) in &consumers {
        rows.push((
            format!("Lambda: {name}"),
            format!("1,000 × ({invocations:.0} × $0.20/M + {:.0} ms (est. {:.0} ms) × 0.25 GB × $0.0000133334); one message an invocation, an upper bound",
                billed(*local_ms, *invocations), billed(*aws_ms, *invocations)),
            lambda(*invocations, billed(*local_ms, *invocations), 0.25),
            lambda(*invocations, billed(*aws_ms, *invocations), 0.25),
            true,
        ));
    }
    let lambda_invocations = 1.0 + tasks + records + deliveries;
    let platform = platform_log_bytes();
    let log_gb = |platform: f64| k * (log_bytes_own + lambda_invocations * platform) / 1e9;
    rows.push((
        "CloudWatch Logs".into(),
        format!("1,000 × ({log_lines:.0} B of our JSON lines + {metric_lines:.0} metric increments × {EMF_LINE_BYTES} B EMF lines + {lambda_invocations:.0} invocations × {platform} B platform lines at SystemLogLevel {}) = {:.1} MB × $0.50/GB", template_system_log_level(), log_gb(platform) * 1000.0),
        log_gb(platform) * price::LOGS_GB,
        log_gb(platform) * price::LOGS_GB,
        true,
    ));
    let at_info = log_gb(PLATFORM_LOG_BYTES_AT_INFO) * price::LOGS_GB;
    rows.push((
        "(CloudWatch Logs at SystemLogLevel INFO instead)".into(),
        format!("1,000 × ({log_bytes_own:.0} B + {lambda_invocations:.0} × {PLATFORM_LOG_BYTES_AT_INFO} B START, END and REPORT)"),
        at_info,
        at_info,
        false,
    ));
    let mut goal = (0.0, 0.0);
    for (item, arithmetic, local, aws, counted) in &rows {
        println!("| {item} | {arithmetic} | ${local:.4} | ${aws:.4} |");
        if *counted {
            goal.0 += local;
            goal.1 += aws;
        }
    }
    println!(
        "| **compute, orchestration, storage, events** | (all but the STANDARD row) | **${:.4}** | **${:.4}** |",
        goal.0, goal.1
    );
    let ddb_brief = k * (rru * price::RRU_BRIEF + wru * price::WRU_BRIEF);
    let ddb_now = k * (rru * price::RRU_NOW + wru * price::WRU_NOW);
    let today = (goal.0 - ddb_brief + ddb_now, goal.1 - ddb_brief + ddb_now);
    println!(
        "| **the same, DynamoDB at today's $0.625/M WRU, $0.125/M RRU** | | **${:.4}** | **${:.4}** |",
        today.0, today.1
    );
    // The event path's requests and invocations when each path's batches hold
    // `batch_of(m)` messages, m being that path's messages a checkout: SNS PublishBatch and
    // SQS receives and deletes take a batch a request, the stream and each queue a batch an
    // invocation. SQS sends (one a message from SNS) and the handlers' time stay as they are.
    let event_path = |batch_of: &dyn Fn(f64) -> f64, consumer_ms: &dyn Fn(&Consumer) -> f64| {
        // PublishBatch goes by topic: a batch's events of one topic, ten to a request.
        let requests: f64 = topic_events.iter().map(|e| e / batch_of(*e)).sum();
        let sns = k * requests * price::SNS_PUBLISH;
        let published = records / batch_of(records);
        let publisher = lambda(published, published * publisher_ms, 0.125);
        let received = |c: &Consumer| c.1 / batch_of(c.1);
        let sqs_requests: f64 = (consumers.iter())
            .map(|c| k * (c.1 + 2.0 * received(c)) * price::SQS_REQUEST)
            .sum();
        let handlers: f64 = (consumers.iter())
            .map(|c| lambda(received(c), billed(consumer_ms(c), c.1), 0.25))
            .sum();
        let invocations = 1.0 + tasks + published + consumers.iter().map(received).sum::<f64>();
        let logs = k * (log_bytes_own + invocations * platform) / 1e9 * price::LOGS_GB;
        sns + sqs_requests + publisher + handlers + logs
    };
    let (local_ms, aws_ms) = (
        |c: &(&str, f64, f64, f64)| c.2,
        |c: &(&str, f64, f64, f64)| c.3,
    );
    let one = |_: f64| 1.0;
    // One message a batch is what the rows above bill: the event path's rows must be it.
    let path_rows: f64 = (rows.iter())
        .filter(|(item, ..)| {
            [
                "SNS publishes",
                "SQS (",
                "Lambda: publisher",
                "CloudWatch Logs",
            ]
            .iter()
            .any(|start| item.starts_with(start))
                || consumers
                    .iter()
                    .any(|c| *item == format!("Lambda: {}", c.0))
        })
        .map(|(_, _, local, ..)| local)
        .sum();
    let unbatched = (event_path(&one, &local_ms), event_path(&one, &aws_ms));
    assert!(
        (path_rows - unbatched.0).abs() < 1e-9,
        "the event path at one a batch ({}) is not its rows ({path_rows})",
        unbatched.0
    );
    // The bill at today's prices with the event path's batches as `batch_of` has them.
    let at = |batch_of: &dyn Fn(f64) -> f64| {
        (
            today.0 - unbatched.0 + event_path(batch_of, &local_ms),
            today.1 - unbatched.1 + event_path(batch_of, &aws_ms),
        )
    };
    let full = at(&|_| FULL_BATCH);
    println!(
        "| **the same, every batch full** (lower bound: SNS PublishBatch, SQS receives and deletes, stream and queue invocations ten to one) | | **${:.4}** | **${:.4}** |",
        full.0, full.1
    );
    for rate in [0.25, 0.5, 1.0, 2.5, 5.0] {
        let (local, aws) = at(&|m| batch_at(rate, m));
        println!(
            "| the same at {rate} checkouts/s (a path's batch: what its {BATCHING_WINDOW_S} s window gathers, 1 to 10) | | ${local:.4} | ${aws:.4} |"
        );
    }
    let goal_rate = (1..=100)
        .map(|tenths| f64::from(tenths) / 10.0)
        .find(|&rate| at(&|m| batch_at(rate, m)).1 <= GOAL);
    match goal_rate {
        Some(rate) => {
            println!("| **AWS est. at or under ${GOAL} from** | **{rate} checkouts/s** | | |")
        }
        None => println!("| **AWS est. over ${GOAL} at every rate up to 10 checkouts/s** | | | |"),
    }
    let edge = k
        * (price::REST_API_REQUEST
            + price::LAMBDA_REQUEST
            + 0.001 * 0.125 * price::LAMBDA_ARM_GB_S);
    println!(
        "| API Gateway REST + authorizer (edge, outside the goal) | 1,000 × ($3.50/M + one 1 ms authorizer call at 128 MB, uncached) | ${edge:.4} | ${edge:.4} |"
    );
    println!(
        "| SES (separately) | 1,000 × {mails:.1} mails × $0.10/1,000 | ${:.4} | ${:.4} |",
        k * mails * price::SES_MESSAGE,
        k * mails * price::SES_MESSAGE
    );
}

/// A consumer's name, invocations, local ms and AWS est. ms, per checkout.
type Consumer<'a> = (&'a str, f64, f64, f64);

/// Route first, then the steps in the definition's order, then the consumers.
pub(super) fn step_rank(label: &str) -> usize {
    const ORDER: [&str; 9] = [
        "POST /orders",
        "ValidateProfile",
        "ValidateOrder",
        "AssignVendors",
        "ReserveStock",
        "ProcessPayment",
        "FraudCheck",
        "ConfirmOrder",
        "ScheduleDelivery",
    ];
    match ORDER.iter().position(|l| *l == label) {
        Some(rank) => rank,
        None if is_consumer(label) => ORDER.len(),
        None if label == "other" => ORDER.len() + 1,
        None => ORDER.len() + 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bill leaves START, END and REPORT out only while every function takes the
    /// parameter: from the Globals, in JSON (Lambda filters its lines by level only then),
    /// and no function with a logging configuration of its own.
    #[test]
    fn the_bill_counts_lambdas_own_lines_as_every_function_is_deployed() {
        let template = TEMPLATE;
        let globals = &template[template.find("\nGlobals:\n").expect("Globals")..];
        let globals = &globals[..globals.find("\nResources:\n").expect("Resources")];
        let logging = &globals[globals.find("LoggingConfig:").expect("a LoggingConfig")..];
        assert!(logging.contains("LogFormat: JSON"), "{logging}");
        assert!(
            logging.contains("SystemLogLevel: !Ref SystemLogLevel"),
            "{logging}"
        );
        assert_eq!(template.matches("LoggingConfig:").count(), 1);
        // Above INFO, Lambda would drop every line of ours: they carry no timestamp, and
        // Lambda takes such a line for INFO.
        let application = logging
            .lines()
            .find_map(|line| line.trim().strip_prefix("ApplicationLogLevel: "))
            .expect("an ApplicationLogLevel");
        assert!(
            ["TRACE", "DEBUG", "INFO"].contains(&application),
            "{application}"
        );
        let level = template_system_log_level();
        assert!(["DEBUG", "INFO", "WARN"].contains(&level), "{level}");
        assert_eq!(platform_log_bytes() == 0.0, level == "WARN");
        // A deploy that does not name the parameter keeps what the stack had: every
        // environment's deploy names the default, so an investigation's INFO ends with it.
        let samconfig = include_str!("../../../samconfig.toml");
        let deploys: Vec<&str> = (samconfig.lines())
            .filter(|line| line.starts_with("parameter_overrides"))
            .collect();
        assert!(!deploys.is_empty());
        let named = format!("SystemLogLevel={level}");
        for deploy in deploys {
            let mut overrides = deploy.split(['"', ' ']);
            assert!(overrides.any(|o| o == named), "{deploy}");
        }
    }

    /// The rates the bill is shown at assume every mapping's batching window.
    #[test]
    fn the_batching_window_is_every_mappings() {
        let template = TEMPLATE;
        let windows: Vec<f64> = template
            .lines()
            .filter_map(|line| line.trim().strip_prefix("MaximumBatchingWindowInSeconds: "))
            .map(|value| value.parse().expect("a number of seconds"))
            .collect();
        assert!(windows.len() >= 4, "{windows:?}");
        assert!(
            windows.iter().all(|&w| w == BATCHING_WINDOW_S),
            "{windows:?}"
        );
        // And a full batch is each consumer queue's mapping's BatchSize.
        let full = format!("BatchSize: {FULL_BATCH}");
        let queues = template.lines().filter(|line| line.trim() == full).count();
        assert_eq!(queues, milkrun_registry::CONSUMERS.len());
    }

    #[test]
    fn a_batch_is_what_a_window_gathers_from_one_to_full() {
        assert_eq!(batch_at(0.1, 2.0), 1.0);
        assert_eq!(batch_at(1.0, 4.0), 4.0 * BATCHING_WINDOW_S);
        assert_eq!(batch_at(100.0, 4.0), FULL_BATCH);
    }
}

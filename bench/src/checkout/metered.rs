//! 3: what one checkout costs.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use milkrun_checkout::{CheckoutPorts, CheckoutTasks, fraud_rules_from_env};
use milkrun_domain::StoreError;
use milkrun_domain::ports::{
    CheckoutRunner, CheckoutStart, EventHandler, OrderReads, PendingEvents,
};
use milkrun_local::asl::{self, Definition, ExecutionStatus, TaskFailure, TaskInvoker};
use milkrun_local::checkout::{CHECKOUT_DEFINITION, LOCAL_TASK_RESOURCE};
use milkrun_local::{CheckoutTaskInvoker, LocalHost};
use milkrun_platform::{Adapters, ConsumerService, Settings};
use milkrun_store::Stores;
use serde_json::Value;
use uuid::Uuid;

use super::log_meter::{LOG_BYTES, LOG_METER};
use super::shop::{Shop, TempData, confirmed, place, stock_the_shop};
use super::{GIVE_UP, Options};
use crate::item_meter::{ItemMeter, LABEL, Tally};

/// One execution as it ended.
pub(super) struct Execution {
    succeeded: bool,
    failure: String,
    /// States entered, in order (a Parallel's name, then its branches' states).
    history: Vec<String>,
    /// Each task invocation: its step and how long the handler took.
    steps: Vec<(String, Duration)>,
    /// Start to end of the execution.
    wall: Duration,
}

/// The checkout task invoker, timing each invocation and labelling its store calls with the
/// step's name.
pub(super) struct TimedInvoker {
    inner: CheckoutTaskInvoker,
    steps: Mutex<HashMap<String, Vec<(String, Duration)>>>,
}

#[async_trait]
impl TaskInvoker for TimedInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let step = input["step"].as_str().unwrap_or("unknown").to_owned();
        let order = input["orderId"].as_str().unwrap_or_default().to_owned();
        let started = Instant::now();
        let result = LABEL
            .scope(step.clone(), self.inner.invoke(resource, input))
            .await;
        let took = started.elapsed();
        self.steps
            .lock()
            .unwrap()
            .entry(order)
            .or_default()
            .push((step, took));
        result
    }
}

/// `LocalCheckoutRunner`'s twin (the same compiled-in definition, interpreter and task
/// handler), which also keeps how each execution ended.
pub(super) struct TracedRunner {
    definition: Arc<Definition>,
    invoker: Arc<TimedInvoker>,
    ended: Arc<Mutex<HashMap<Uuid, Execution>>>,
}

impl TracedRunner {
    fn new(tasks: CheckoutTasks) -> Self {
        let definition = Definition::parse(
            CHECKOUT_DEFINITION,
            [("CheckoutTaskFunctionArn", LOCAL_TASK_RESOURCE)],
        )
        .unwrap();
        Self {
            definition: Arc::new(definition),
            invoker: Arc::new(TimedInvoker {
                inner: CheckoutTaskInvoker::new(Arc::new(tasks)),
                steps: Mutex::default(),
            }),
            ended: Arc::default(),
        }
    }

    async fn wait(&self, order_id: Uuid) -> Execution {
        let started = Instant::now();
        loop {
            if let Some(execution) = self.ended.lock().unwrap().remove(&order_id) {
                return execution;
            }
            assert!(
                started.elapsed() < GIVE_UP,
                "checkout {order_id} did not end"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

#[async_trait]
impl CheckoutRunner for TracedRunner {
    async fn start(&self, start: &CheckoutStart) -> Result<(), StoreError> {
        let (definition, invoker, ended) = (
            self.definition.clone(),
            self.invoker.clone(),
            self.ended.clone(),
        );
        let (order_id, input) = (start.order_id, start.input());
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = asl::run(&definition, input, invoker.as_ref()).await;
            let wall = started.elapsed();
            let steps = invoker
                .steps
                .lock()
                .unwrap()
                .remove(&order_id.to_string())
                .unwrap_or_default();
            let (succeeded, failure) = match outcome.status {
                ExecutionStatus::Succeeded => (true, String::new()),
                ExecutionStatus::Failed { error, cause } => (false, format!("{error}: {cause}")),
            };
            ended.lock().unwrap().insert(
                order_id,
                Execution {
                    succeeded,
                    failure,
                    history: outcome.history,
                    steps,
                    wall,
                },
            );
        });
        Ok(())
    }
}

/// What the metered checkouts cost, per checkout (averages).
#[derive(Default)]
pub(super) struct Metered {
    pub(super) checkouts: usize,
    /// DynamoDB calls and units by label (route, step, consumer), summed over checkouts.
    pub(super) tallies: BTreeMap<String, Tally>,
    /// Handler time by label (the timing pass), summed.
    pub(super) time: BTreeMap<String, Duration>,
    /// Invocations by label (the timing pass), summed.
    pub(super) invocations: BTreeMap<String, usize>,
    pub(super) execution_wall: Duration,
    pub(super) states: usize,
    pub(super) history: Vec<String>,
    pub(super) events: BTreeMap<String, usize>,
    pub(super) sns: usize,
    pub(super) sqs: usize,
    pub(super) consumer_deliveries: usize,
    pub(super) mails: usize,
    pub(super) log_bytes: BTreeMap<String, u64>,
    /// Events committed, by topic (what the publisher's PublishBatch requests go by).
    pub(super) topics: BTreeMap<&'static str, usize>,
    /// Metric increments (each at most one Embedded Metric Format line: one invocation's
    /// increments of a metric and dimension value share a line).
    pub(super) metric_increments: u64,
}

/// Every metric the functions record, counted, for the whole run (the Lambda host writes
/// them as EMF log lines; the bench counts them to bill those lines).
fn metric_counts() -> &'static milkrun_metrics::testing::Counts {
    static COUNTS: std::sync::OnceLock<&'static milkrun_metrics::testing::Counts> =
        std::sync::OnceLock::new();
    COUNTS.get_or_init(|| {
        milkrun_metrics::testing::capture_everywhere().expect("no other metrics recorder")
    })
}

pub(super) fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

pub(super) async fn metered(options: &Options) -> Metered {
    let data = TempData::new();
    let host = LocalHost::open(&data.0, Settings::default()).await.unwrap();
    let meter = Arc::new(ItemMeter::new(host.adapters.stores.items.clone()));
    let stores = Stores::over(meter.clone());
    let runner = Arc::new(TracedRunner::new(CheckoutTasks::new(
        CheckoutPorts::from_stores(&stores, host.adapters.gateway.clone()),
        fraud_rules_from_env().unwrap(),
    )));
    // The host's adapters with the metered stores and the traced runner. Authorization
    // reads the account on every request (no cache: each metered order is a new customer's).
    let adapters = Adapters {
        checkout: runner.clone(),
        gateway: host.adapters.gateway.clone(),
        access: stores.users.clone(),
        stores: stores.clone(),
        mailer: host.adapters.mailer.clone(),
        sms: host.adapters.sms.clone(),
        keys: host.adapters.keys.clone(),
        settings: Settings::default(),
    };
    // One customer per metered order (warm-up, timing and capacity passes).
    let per_pass = options.metered;
    let (tokens, lines) = stock_the_shop(
        &host.adapters.stores,
        &adapters,
        3 * per_pass,
        options.lines,
    )
    .await;
    let shop = Shop::open(&adapters, stores.clone(), tokens, lines);
    let consumers: Vec<(&ConsumerService, Arc<dyn EventHandler>)> = milkrun_registry::CONSUMERS
        .iter()
        .map(|service| (*service, (service.handler)(&adapters)))
        .collect();
    let outbox = host.adapters.stores.outbox.clone();
    let mail_dir = data.0.join("outbox");
    drain(&outbox).await;
    meter.take();
    let mut result = Metered::default();
    // Warm-up (not kept), timing (capacity metering off), capacity.
    for pass in ["warm-up", "timing", "capacity"] {
        meter.meter_capacity(pass == "capacity");
        LOG_METER.store(pass == "capacity", Ordering::SeqCst);
        for _ in 0..per_pass {
            let n = shop.next.fetch_add(1, Ordering::SeqCst);
            let mails_before = count_files(&mail_dir);
            let metrics_before = metric_counts().increments();
            let request = shop.request(n);
            let started = Instant::now();
            let order_id = LABEL
                .scope("POST /orders".into(), place(&shop.app, request))
                .await
                .unwrap_or_else(|failure| panic!("metered checkout: {failure}"));
            let answered = started.elapsed();
            let execution = runner.wait(order_id).await;
            assert!(
                execution.succeeded,
                "metered checkout failed: {}",
                execution.failure
            );
            let status = host
                .adapters
                .stores
                .orders
                .get(order_id)
                .await
                .unwrap()
                .unwrap()
                .status;
            assert_eq!(confirmed(status), Some(true), "order {status:?}");
            // What the publisher would send to SNS, and the queue would hand the consumer.
            let events = outbox.pending(1000).await.unwrap();
            let mut deliveries = 0;
            // Each consumer has a queue of its own: one message (and one delivery) per
            // event on a topic it takes that its subscription's filter policy lets through
            // (the template's filters are the consumer's `wants`, a test holds them so),
            // timed under the consumer's name.
            let mut consumer_times: BTreeMap<&str, (Duration, usize)> = BTreeMap::new();
            for event in &events {
                for (service, handler) in &consumers {
                    let queued =
                        service.topics.contains(&event.topic()) && handler.wants(event.event_type);
                    if !queued {
                        continue;
                    }
                    deliveries += 1;
                    let t = Instant::now();
                    LABEL
                        .scope(
                            service.name.into(),
                            milkrun_platform::delivery::deliver(
                                handler.as_ref(),
                                stores.processed.as_ref(),
                                event,
                            ),
                        )
                        .await
                        .unwrap();
                    let (time, count) = consumer_times.entry(service.name).or_default();
                    *time += t.elapsed();
                    *count += 1;
                }
                outbox.delivered(event.event_id).await.unwrap();
            }
            // Mail is written by the consumer's handler as files, asynchronously at most
            // by a moment.
            tokio::time::sleep(Duration::from_millis(5)).await;
            let mails = count_files(&mail_dir) - mails_before;
            let tallies = meter.take();
            let logs = std::mem::take(&mut *LOG_BYTES.lock().unwrap());
            match pass {
                "timing" => {
                    *result.time.entry("POST /orders".into()).or_default() += answered;
                    *result.invocations.entry("POST /orders".into()).or_default() += 1;
                    for (step, took) in &execution.steps {
                        *result.time.entry(step.clone()).or_default() += *took;
                        *result.invocations.entry(step.clone()).or_default() += 1;
                    }
                    for (name, (time, count)) in &consumer_times {
                        *result.time.entry((*name).into()).or_default() += *time;
                        *result.invocations.entry((*name).into()).or_default() += *count;
                    }
                    result.execution_wall += execution.wall;
                }
                "capacity" => {
                    result.checkouts += 1;
                    for (label, tally) in &tallies {
                        result.tallies.entry(label.clone()).or_default().add(tally);
                    }
                    for (label, bytes) in logs {
                        *result.log_bytes.entry(label).or_default() += bytes;
                    }
                    result.states += execution.history.len();
                    result.history = execution.history;
                    for event in &events {
                        *result
                            .events
                            .entry(format!(
                                "{} → {}",
                                event.event_type.as_str(),
                                event.topic().name()
                            ))
                            .or_default() += 1;
                        *result.topics.entry(event.topic().name()).or_default() += 1;
                    }
                    result.sns += events.len();
                    result.metric_increments += metric_counts().increments() - metrics_before;
                    result.sqs += deliveries;
                    result.consumer_deliveries += deliveries;
                    result.mails += mails;
                }
                _ => {}
            }
        }
    }
    LOG_METER.store(false, Ordering::SeqCst);
    result
}

pub(super) async fn drain(outbox: &Arc<milkrun_store::Outbox>) {
    for event in outbox.pending(1000).await.unwrap() {
        outbox.delivered(event.event_id).await.unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one checkout writes, in write units (tables and their indexes), and reads, in
    /// read units, as bench/README (issue 17's latest cost section) bills them. The counts
    /// are deterministic: a change that writes or reads more (or less) a checkout moves
    /// these figures, and the README's with them.
    const CHECKOUT_WRITE_UNITS: f64 = 47.0;
    const CHECKOUT_READ_UNITS: f64 = 34.5;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checkout_writes_and_reads_the_units_the_readme_bills() {
        let options = Options {
            sequential: 0,
            concurrent: 0,
            concurrent_orders: 0,
            sustained: 0,
            in_flight: 1,
            poll: Duration::from_millis(1),
            metered: 2,
            lines: 1,
            warmup: 0,
        };
        let metered = metered(&options).await;
        let mut all = Tally::default();
        for tally in metered.tallies.values() {
            all.add(tally);
        }
        let per_checkout = (all.write_units + all.index_write_units) / metered.checkouts as f64;
        assert_eq!(metered.checkouts, 2);
        assert_eq!(
            per_checkout, CHECKOUT_WRITE_UNITS,
            "write units a checkout (tables {} + indexes {}, over {} checkouts)",
            all.write_units, all.index_write_units, metered.checkouts
        );
        assert_eq!(
            all.read_units / metered.checkouts as f64,
            CHECKOUT_READ_UNITS,
            "read units a checkout"
        );
        // The bill of these checkouts: it asserts that its batched event path, at one
        // message a batch, is the sum of its unbatched rows.
        super::super::costs::costs(&metered);
    }
}

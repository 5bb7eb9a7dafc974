//! `milkrun-bench checkout`: checkout end to end over a [`LocalHost`] in a fresh temporary
//! data folder (SQLite, the in-process bus and outbox relay with every consumer subscribed,
//! the ASL runner executing `statemachine/checkout.asl.json`), driving the whole API router
//! (`milkrun_registry::app`) in process, as `milkrun serve` mounts it.
//!
//! 1. Latency: from the start of `POST /orders` to the first read of the order that finds it
//!    CONFIRMED or later, one checkout at a time, then many at once; each checkout is its own
//!    tokio task (as a server serves each request), and polls the order store every
//!    `--poll-ms` (nothing in the code is hooked).
//! 2. Throughput: checkouts per second with a fixed number in flight (closed loop: each
//!    in-flight slot places the next order once its previous one is confirmed).
//! 3. What one checkout costs: a second host, the same adapters but with the item store
//!    wrapped in [`ItemMeter`], and the checkout executions started by [`TracedRunner`]
//!    (the same definition, interpreter and task handler as `LocalCheckoutRunner`, which
//!    keeps to itself when an execution ends and which states it entered), one checkout at
//!    a time: DynamoDB calls and request units per route, step and consumer; task
//!    invocations; states entered; events committed to the outbox and what SNS and SQS
//!    would carry of them; mail; log volume. Then the arithmetic of 1,000 checkouts in AWS.
//!
//! Orders: one line each by default (Toned Milk 1L, ₹54) from the demo catalog, delivered
//! to 560034 (Nandi Dairy Farms alone serves it), stock set to 10 million units so no order
//! runs out, delivery dates spread over the 28 days the SPEC allows so no vendor day fills
//! up (400 orders a day). Customers are written straight to the user store with a complete
//! profile (phone and one default address) and one shared argon2id hash (nobody logs in):
//! each places at most four orders in the run, so the "five orders within an hour" fraud
//! rule never fires; totals stay far under the ₹2,500 a new device may spend and under the
//! fraud limit. A held, failed or slow (30 s) order is reported as a failure, never hidden.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Body;
use chrono::{Days, NaiveDate, Utc};
use futures::StreamExt as _;
use http::Request;
use milkrun_checkout::{CheckoutPorts, CheckoutTasks, fraud_rules_from_env};
use milkrun_domain::checkout::MANY_ORDERS;
use milkrun_domain::inventory::{StockKey, StockOperation};
use milkrun_domain::order::OrderStatus;
use milkrun_domain::ports::{
    CheckoutRunner, CheckoutStart, EventHandler, OrderReads, PendingEvents, StockAdjustments,
    UserRegistry,
};
use milkrun_domain::user::{Address, ClientOrigin, NewUser, User};
use milkrun_domain::values::{AddressLabel, Email, Password, PersonName, Phone, Pincode, Role};
use milkrun_domain::{Effects, StoreError};
use milkrun_local::asl::{self, Definition, ExecutionStatus, TaskFailure, TaskInvoker};
use milkrun_local::checkout::{CHECKOUT_DEFINITION, LOCAL_TASK_RESOURCE};
use milkrun_local::{CheckoutTaskInvoker, LocalHost};
use milkrun_platform::{Adapters, ConsumerService, Settings};
use milkrun_store::Stores;
use milkrun_tool::demo::{self, demo_id};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::item_meter::{ItemMeter, LABEL, Tally, label};

/// Served by one demo vendor only, so every order goes the same way.
const PINCODE: &str = "560034";
const VENDOR: &str = "Nandi Dairy Farms";
/// (product, variant) of the demo catalog, all sold by [`VENDOR`]; `--lines` takes the first n.
const LINES: [(&str, &str); 3] = [
    ("Toned Milk", "1L"),
    ("Fresh Curd", "400g"),
    ("Masala Buttermilk", "200ml"),
];
const STOCK: u32 = 10_000_000;
/// One order fewer than the "many orders in a short time" rule holds for.
const ORDERS_PER_CUSTOMER: usize = MANY_ORDERS - 1;
/// Delivery dates: tomorrow + 1 … + 28 (after today, at most 30 days ahead, in Kolkata).
const DATES: u64 = 28;
const GIVE_UP: Duration = Duration::from_secs(30);

pub struct Options {
    pub sequential: usize,
    pub concurrent: usize,
    pub concurrent_orders: usize,
    pub sustained: usize,
    pub in_flight: usize,
    pub poll: Duration,
    pub metered: usize,
    pub lines: usize,
    pub warmup: usize,
}

pub async fn run(options: Options) {
    assert!(
        (1..=LINES.len()).contains(&options.lines),
        "--lines is 1 to {}",
        LINES.len()
    );
    install_log_meter();
    println!(
        "# milkrun-bench checkout: {} cores, {} line(s) per order, poll every {} ms, MILKRUN_FRAUD_LIMIT={}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.lines,
        options.poll.as_millis(),
        std::env::var("MILKRUN_FRAUD_LIMIT").unwrap_or_else(|_| "default".into())
    );
    latency(&options).await;
    let metered = metered(&options).await;
    costs(&metered);
}

// ---------------------------------------------------------------------------------------------
// The shop: catalog, stock and customers.

struct Shop {
    app: axum::Router,
    stores: Stores,
    tokens: Vec<String>,
    lines: Vec<(Uuid, Uuid)>,
    today: NaiveDate,
    next: AtomicUsize,
    run: Uuid,
}

/// A temporary data folder, removed when dropped.
struct TempData(PathBuf);

impl TempData {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("milkrun-bench-checkout-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempData {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo catalog, the lines' stock at the vendor, and `customers` complete customers
/// (written through `stores`), with an access token each.
async fn stock_the_shop(
    stores: &Stores,
    adapters: &Adapters,
    customers: usize,
    lines: usize,
) -> (Vec<String>, Vec<(Uuid, Uuid)>) {
    demo::load(stores).await.unwrap();
    let vendor_id = demo_id("vendor", VENDOR);
    let lines: Vec<(Uuid, Uuid)> = LINES[..lines]
        .iter()
        .map(|(product, variant)| {
            (
                demo_id("product", product),
                demo_id("variant", &format!("{product}/{variant}")),
            )
        })
        .collect();
    for &(product_id, variant_id) in &lines {
        let key = StockKey {
            vendor_id,
            product_id,
            variant_id,
        };
        stores
            .stock
            .adjust(&key, StockOperation::Set(STOCK), None, &|_, _| {
                Effects::none()
            })
            .await
            .unwrap();
    }
    let hash = milkrun_auth::PasswordHasher::new()
        .hash(&Password::parse("bench customer password").unwrap())
        .unwrap();
    let signer = adapters.keys.signer().unwrap();
    let run = Uuid::now_v7().simple().to_string();
    let mut tokens = Vec::with_capacity(customers);
    for n in 0..customers {
        let now = Utc::now();
        let new = NewUser {
            email: Email::parse(&format!("bench-{n}-{}@milkrun.test", &run[20..])).unwrap(),
            name: PersonName::parse(&format!("Bench Customer {n}")).unwrap(),
            phone: Some(Phone::parse(&format!("+9198450{:05}", n % 100_000)).unwrap()),
            role: Role::Customer,
        };
        let mut user = User::register(new, hash.clone(), &ClientOrigin::default(), now);
        user.put_address(Address {
            label: AddressLabel::parse("home").unwrap(),
            line1: format!("{n} Bench Road, Koramangala"),
            line2: None,
            city: "Bengaluru".into(),
            state: "Karnataka".into(),
            pincode: Pincode::parse(PINCODE).unwrap(),
            country: "IN".into(),
            is_default: true,
        })
        .unwrap();
        user.refresh_profile_completeness();
        assert!(user.is_profile_complete);
        stores.users.create(&user, &Effects::none()).await.unwrap();
        tokens.push(
            signer
                .issue_access(user.user_id, Role::Customer, None)
                .unwrap(),
        );
    }
    (tokens, lines)
}

/// Today in the platform's time zone (Asia/Kolkata, UTC+5:30).
fn today_in_kolkata() -> NaiveDate {
    (Utc::now() + chrono::TimeDelta::minutes(330)).date_naive()
}

impl Shop {
    /// The `n`th order's request: its customer (round robin, each at most
    /// [`ORDERS_PER_CUSTOMER`] orders in the run), date and slot spread out.
    fn request(&self, n: usize) -> Request<Body> {
        let token = &self.tokens[n % self.tokens.len()];
        let date = self.today + Days::new(2 + (n as u64 % DATES));
        let items: Vec<Value> = self
            .lines
            .iter()
            .map(|(p, v)| json!({"productId": p, "variantId": v, "quantity": 1}))
            .collect();
        let body = json!({
            "items": items,
            "deliveryDate": date.to_string(),
            "deliverySlot": if n.is_multiple_of(2) { "MORNING" } else { "EVENING" },
            "paymentMethod": "UPI",
        });
        Request::builder()
            .method("POST")
            .uri("/orders")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                format!("bench-{}-{n}", self.run.simple()),
            )
            .body(Body::from(body.to_string()))
            .unwrap()
    }
}

/// POSTs the request; answers the order id, or what went wrong.
async fn place(app: &axum::Router, request: Request<Body>) -> Result<Uuid, String> {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    if status != http::StatusCode::CREATED {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    let answer: Value = serde_json::from_slice(&body).unwrap();
    answer["orderId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| format!("no orderId in {answer}"))
}

fn confirmed(status: OrderStatus) -> Option<bool> {
    use OrderStatus::*;
    match status {
        Confirmed | Preparing | OutForDelivery | Delivered => Some(true),
        Failed | PaymentFailed | OnHold | Cancelled | Refunded => Some(false),
        Pending | PaymentPending => None,
    }
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: latency and throughput over the LocalHost as `milkrun serve` composes it.

struct Sample {
    /// POST start → the read that found the order CONFIRMED or later.
    confirmed: Duration,
    /// POST start → 201 answered.
    answered: Duration,
    polls: u32,
    failure: Option<String>,
}

async fn checkout(shop: Arc<Shop>, n: usize, poll: Duration) -> Sample {
    let request = shop.request(n);
    let started = Instant::now();
    let placed = place(&shop.app, request).await;
    let answered = started.elapsed();
    let failed = |failure: String, polls| Sample {
        confirmed: started.elapsed(),
        answered,
        polls,
        failure: Some(failure),
    };
    let order_id = match placed {
        Ok(id) => id,
        Err(failure) => return failed(failure, 0),
    };
    let mut polls = 0;
    loop {
        let order = shop.stores.orders.get(order_id).await.unwrap();
        polls += 1;
        let status = order.map(|o| o.status);
        match status.and_then(confirmed) {
            Some(true) => {
                return Sample {
                    confirmed: started.elapsed(),
                    answered,
                    polls,
                    failure: None,
                };
            }
            Some(false) => return failed(format!("order {status:?}"), polls),
            None if started.elapsed() > GIVE_UP => {
                return failed(format!("still {status:?} after {GIVE_UP:?}"), polls);
            }
            None => tokio::time::sleep(poll).await,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn phase(
    shop: &Arc<Shop>,
    name: &str,
    orders: usize,
    in_flight: usize,
    poll: Duration,
    print: bool,
) {
    let first = shop.next.fetch_add(orders, Ordering::SeqCst);
    let started = Instant::now();
    let samples: Vec<Sample> = futures::stream::iter(first..first + orders)
        .map(|n| {
            let shop = shop.clone();
            async move { tokio::spawn(checkout(shop, n, poll)).await.unwrap() }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let wall = started.elapsed();
    if !print {
        return;
    }
    let failures: Vec<&String> = samples.iter().filter_map(|s| s.failure.as_ref()).collect();
    let mut done: Vec<Duration> = samples
        .iter()
        .filter(|s| s.failure.is_none())
        .map(|s| s.confirmed)
        .collect();
    let mut answered: Vec<Duration> = samples.iter().map(|s| s.answered).collect();
    done.sort();
    answered.sort();
    let polls: u32 = samples.iter().map(|s| s.polls).sum();
    // How far apart an order's reads really were (the sleep, plus the read's own wait).
    let waited: Duration = samples
        .iter()
        .filter(|s| s.failure.is_none())
        .map(|s| s.confirmed.saturating_sub(s.answered))
        .sum();
    let read_interval = ms(waited) / f64::from(polls.max(1));
    if done.is_empty() {
        println!(
            "| {name} | {orders} | {in_flight} | all failed: {:?} |",
            failures.first()
        );
        return;
    }
    println!(
        "| {name} | {orders} | {in_flight} | {:.2} / {:.2} ms | {:.2} / {:.2} / {:.2} / {:.2} ms | {:.1} /s | {:.0} /s, {read_interval:.1} ms apart | {} |",
        ms(percentile(&answered, 0.5)),
        ms(percentile(&answered, 0.99)),
        ms(percentile(&done, 0.5)),
        ms(percentile(&done, 0.99)),
        ms(done[0]),
        ms(done[done.len() - 1]),
        orders as f64 / wall.as_secs_f64(),
        f64::from(polls) / wall.as_secs_f64(),
        failures.len(),
    );
    if let Some(first) = failures.first() {
        println!("  first failure: {first}");
    }
}

async fn latency(options: &Options) {
    let data = TempData::new();
    let host = LocalHost::open(&data.0, Settings::default()).await.unwrap();
    host.subscribe(&milkrun_registry::CONSUMERS);
    let _relay = host.start_relay();
    let total = options.warmup + options.sequential + options.concurrent_orders + options.sustained;
    let customers = total.div_ceil(ORDERS_PER_CUSTOMER);
    let (tokens, lines) = stock_the_shop(
        &host.adapters.stores,
        &host.adapters,
        customers,
        options.lines,
    )
    .await;
    let shop = Arc::new(Shop {
        app: milkrun_registry::app(&host.adapters),
        stores: host.adapters.stores.clone(),
        tokens,
        lines,
        today: today_in_kolkata(),
        next: AtomicUsize::new(0),
        run: Uuid::now_v7(),
    });
    println!(
        "\n## latency: POST /orders → order read CONFIRMED or later ({customers} customers, {total} orders)\n"
    );
    println!(
        "| phase | orders | in flight | 201 answered p50 / p99 | confirmed p50 / p99 / min / max | checkouts/s | order reads (polls) | failed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    phase(&shop, "warm-up", options.warmup, 1, options.poll, false).await;
    phase(
        &shop,
        "one at a time",
        options.sequential,
        1,
        options.poll,
        true,
    )
    .await;
    phase(
        &shop,
        "concurrent",
        options.concurrent_orders,
        options.concurrent,
        options.poll,
        true,
    )
    .await;
    phase(
        &shop,
        "sustained",
        options.sustained,
        options.in_flight,
        options.poll,
        true,
    )
    .await;
    // Let the relay and the consumers finish before the folder goes.
    tokio::time::sleep(Duration::from_millis(500)).await;
}

// ---------------------------------------------------------------------------------------------
// 3: what one checkout costs.

/// One execution as it ended.
struct Execution {
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
struct TimedInvoker {
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
struct TracedRunner {
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
struct Metered {
    checkouts: usize,
    /// DynamoDB calls and units by label (route, step, consumer), summed over checkouts.
    tallies: BTreeMap<String, Tally>,
    /// Handler time by label (the timing pass), summed.
    time: BTreeMap<String, Duration>,
    /// Invocations by label (the timing pass), summed.
    invocations: BTreeMap<String, usize>,
    execution_wall: Duration,
    states: usize,
    history: Vec<String>,
    events: BTreeMap<String, usize>,
    sns: usize,
    sqs: usize,
    consumer_deliveries: usize,
    mails: usize,
    log_bytes: BTreeMap<String, u64>,
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

async fn metered(options: &Options) -> Metered {
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
    let shop = Shop {
        app: milkrun_registry::app(&adapters),
        stores: stores.clone(),
        tokens,
        lines,
        today: today_in_kolkata(),
        next: AtomicUsize::new(0),
        run: Uuid::now_v7(),
    };
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
            let mut consumer_time = Duration::ZERO;
            let mut deliveries = 0;
            let mut queued = 0;
            for event in &events {
                let mut on_queue = false;
                for (service, handler) in &consumers {
                    if !service.topics.contains(&event.topic()) {
                        continue;
                    }
                    on_queue = true;
                    deliveries += 1;
                    let t = Instant::now();
                    LABEL
                        .scope(
                            "consumer".into(),
                            milkrun_platform::delivery::deliver(
                                handler.as_ref(),
                                stores.processed.as_ref(),
                                event,
                            ),
                        )
                        .await
                        .unwrap();
                    consumer_time += t.elapsed();
                }
                queued += usize::from(on_queue);
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
                    *result.time.entry("consumer".into()).or_default() += consumer_time;
                    *result.invocations.entry("consumer".into()).or_default() += deliveries;
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
                    }
                    result.sns += events.len();
                    result.sqs += queued;
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

async fn drain(outbox: &Arc<milkrun_store::Outbox>) {
    for event in outbox.pending(1000).await.unwrap() {
        outbox.delivered(event.event_id).await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Log volume: what the functions would write to CloudWatch Logs, as their JSON lines.

static LOG_METER: AtomicBool = AtomicBool::new(false);
static LOG_BYTES: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Mutex::default);

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        *LOG_BYTES.lock().unwrap().entry(label()).or_default() += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The functions' own log format (`milkrun_http::telemetry`: JSON, info), written to a sink
/// that counts bytes by label, and only while the capacity pass runs.
fn install_log_meter() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{Layer as _, filter};
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(|| LogSink)
        .with_filter(filter::dynamic_filter_fn(|meta, _| {
            LOG_METER.load(Ordering::Relaxed) && *meta.level() <= tracing::Level::INFO
        }));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

// ---------------------------------------------------------------------------------------------
// The arithmetic: 1,000 checkouts at us-east-1 list prices.

/// us-east-1 list prices, as published (checked against the pricing pages as we knew them in
/// 2025; verify before relying on them).
mod price {
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

/// What Lambda reports beyond the function's own lines: START, END and REPORT (with the
/// X-Ray trace id under active tracing), about this many bytes an invocation.
const PLATFORM_LOG_BYTES: f64 = 350.0;
/// For the second duration estimate: one DynamoDB round trip in the region (single-digit
/// milliseconds; transactions take longer, small reads less).
const DYNAMODB_ROUND_TRIP_MS: f64 = 6.0;
/// Lambda's CPU share at 256 MB against a full vCPU at 1,769 MB.
const CPU_SLOWDOWN_256: f64 = 1769.0 / 256.0;
/// The Step Functions to Lambda hop, per Task state (Express, synchronous invoke).
const TASK_HOP_MS: f64 = 15.0;

fn costs(m: &Metered) {
    let n = m.checkouts as f64;
    let per = |v: f64| v / n;
    let timing_n = m.invocations.get("POST /orders").copied().unwrap_or(1) as f64;
    println!(
        "\n## per checkout: {} metered checkouts, one at a time\n",
        m.checkouts
    );
    println!(
        "| who | invocations | local handler time (timing pass) | DynamoDB calls | by operation | RRU | WRU (tables) | WRU (indexes) | outbox events | log bytes |"
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
        .filter(|(l, _)| *l != "POST /orders" && *l != "consumer")
        .map(|(_, k)| *k)
        .sum();
    let tasks = tasks as f64 / timing_n;
    let states = per(m.states as f64);
    let events = per(m.sns as f64);
    let sqs = per(m.sqs as f64);
    let deliveries = per(m.consumer_deliveries as f64);
    let mails = per(m.mails as f64);
    println!(
        "\ntask invocations {tasks:.1}; states entered {states:.1} ({}); execution start to end (local) {:.2} ms",
        m.history.join(" → "),
        ms(m.execution_wall) / timing_n
    );
    println!(
        "outbox events {events:.1} (= SNS publishes), of them on the notification queue's topics {sqs:.1}; mails {mails:.1}"
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
        .filter(|l| *l != "POST /orders" && *l != "consumer")
        .collect();
    // Billed Lambda ms: each invocation rounded up to the millisecond.
    let billed =
        |ms: f64, invocations: f64| (ms / invocations.max(1.0)).ceil().max(1.0) * invocations;
    let mut tasks_local_ms = 0.0;
    let mut tasks_aws_ms = 0.0;
    let mut execution_aws_ms = 0.0;
    let mut parallel_aws_ms: f64 = 0.0;
    for label in &step_labels {
        let invocations = m.invocations[*label] as f64 / timing_n;
        let l = local(label);
        let aws = l * CPU_SLOWDOWN_256 + calls(label) * DYNAMODB_ROUND_TRIP_MS;
        tasks_local_ms += billed(l, invocations);
        tasks_aws_ms += billed(aws, invocations);
        if ["NotifyCustomer", "NotifyVendors", "RecordAnalytics"].contains(&label.as_str()) {
            parallel_aws_ms = parallel_aws_ms.max(aws + TASK_HOP_MS);
        } else {
            execution_aws_ms += aws + TASK_HOP_MS * invocations;
        }
    }
    execution_aws_ms += parallel_aws_ms;
    let consumer_local = local("consumer");
    let consumer_aws =
        consumer_local * CPU_SLOWDOWN_256 + calls("consumer") * DYNAMODB_ROUND_TRIP_MS;
    let log_bytes_own = per(m.log_bytes.values().sum::<u64>() as f64);

    println!("\n## 1,000 checkouts in AWS (us-east-1 list prices)\n");
    println!(
        "Durations: \"local\" is the handler time measured here (the proxy); \"AWS est.\" is local × {CPU_SLOWDOWN_256:.1} (256 MB is {:.0} % of a vCPU) + {DYNAMODB_ROUND_TRIP_MS} ms per DynamoDB call, and {TASK_HOP_MS} ms per Task state for the Step Functions → Lambda hop.\n",
        100.0 / CPU_SLOWDOWN_256
    );
    println!("| item | arithmetic (per 1,000 checkouts) | local | AWS est. |");
    println!("|---|---|---|---|");
    let k = 1000.0;
    let mut rows: Vec<(&str, String, f64, f64, bool)> = Vec::new();
    // Step Functions.
    let express_s = |ms: f64| (ms / 100.0).ceil().max(1.0) * 0.1;
    let local_exec_ms = ms(m.execution_wall) / timing_n;
    let express =
        |ms: f64| k * (price::EXPRESS_REQUEST + express_s(ms) * 0.0625 * price::EXPRESS_GB_S);
    rows.push((
        "Step Functions EXPRESS",
        format!(
            "1,000 × ($1.00/M + ⌈duration⌉₁₀₀ₘₛ × 0.0625 GB × $0.00001667); duration {local_exec_ms:.0} ms local, {execution_aws_ms:.0} ms est."
        ),
        express(local_exec_ms),
        express(execution_aws_ms),
        true,
    ));
    let standard = k * states * price::STANDARD_TRANSITION;
    rows.push((
        "(Step Functions STANDARD instead)",
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
        "Lambda: order function (POST /orders)",
        format!(
            "1,000 × (1 × $0.20/M + {:.0} ms (est. {http_aws:.0} ms) × 0.25 GB × $0.0000133334)",
            billed(http_local, 1.0)
        ),
        lambda(1.0, billed(http_local, 1.0), 0.25),
        lambda(1.0, billed(http_aws, 1.0), 0.25),
        true,
    ));
    rows.push((
        "Lambda: checkout task",
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
        "DynamoDB on-demand (all of the above and the consumer)",
        format!("1,000 × ({rru:.1} RRU × $0.25/M + {wru:.1} WRU × $1.25/M); at today's $0.125/$0.625: ${:.4}",
            k * (rru * price::RRU_NOW + wru * price::WRU_NOW)),
        k * (rru * price::RRU_BRIEF + wru * price::WRU_BRIEF),
        k * (rru * price::RRU_BRIEF + wru * price::WRU_BRIEF),
        true,
    ));
    // Events.
    rows.push((
        "SNS publishes",
        format!("1,000 × {events:.0} events × $0.50/M"),
        k * events * price::SNS_PUBLISH,
        k * events * price::SNS_PUBLISH,
        true,
    ));
    rows.push((
        "SQS (notification queue)",
        format!("1,000 × {sqs:.0} messages × 3 requests (send, receive, delete; unbatched: an upper bound) × $0.40/M"),
        k * sqs * 3.0 * price::SQS_REQUEST,
        k * sqs * 3.0 * price::SQS_REQUEST,
        true,
    ));
    let publisher_ms = 20.0;
    rows.push((
        "Lambda: publisher (stream → SNS)",
        format!("1,000 × ({events:.0} × $0.20/M + {events:.0} × {publisher_ms} ms (assumed: one SNS call) × 0.125 GB × $0.0000133334); unbatched, an upper bound"),
        lambda(events, events * publisher_ms, 0.125),
        lambda(events, events * publisher_ms, 0.125),
        true,
    ));
    rows.push((
        "Lambda: notification consumer",
        format!("1,000 × ({deliveries:.0} × $0.20/M + {:.0} ms (est. {:.0} ms) × 0.25 GB × $0.0000133334); one message an invocation, an upper bound",
            billed(consumer_local, deliveries), billed(consumer_aws, deliveries)),
        lambda(deliveries, billed(consumer_local, deliveries), 0.25),
        lambda(deliveries, billed(consumer_aws, deliveries), 0.25),
        true,
    ));
    let lambda_invocations = 1.0 + tasks + events + deliveries;
    let log_gb = k * (log_bytes_own + lambda_invocations * PLATFORM_LOG_BYTES) / 1e9;
    rows.push((
        "CloudWatch Logs",
        format!("1,000 × ({log_bytes_own:.0} B of our JSON lines + {lambda_invocations:.0} invocations × {PLATFORM_LOG_BYTES} B platform lines) = {:.1} MB × $0.50/GB", log_gb * 1000.0),
        log_gb * price::LOGS_GB,
        log_gb * price::LOGS_GB,
        true,
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
    println!(
        "| **the same, DynamoDB at today's $0.625/M WRU, $0.125/M RRU** | | **${:.4}** | **${:.4}** |",
        goal.0 - ddb_brief + ddb_now,
        goal.1 - ddb_brief + ddb_now
    );
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

/// Route first, then the steps in the definition's order, then the consumer.
fn step_rank(label: &str) -> usize {
    const ORDER: [&str; 14] = [
        "POST /orders",
        "ValidateProfile",
        "ValidateOrder",
        "AssignVendors",
        "ReserveStock",
        "ProcessPayment",
        "FraudCheck",
        "ConfirmOrder",
        "ScheduleDelivery",
        "NotifyCustomer",
        "NotifyVendors",
        "RecordAnalytics",
        "consumer",
        "other",
    ];
    ORDER
        .iter()
        .position(|l| *l == label)
        .unwrap_or(ORDER.len())
}

//! `milkrun-bench faults` and the fault suite's test: a checkout load over a [`LocalHost`]
//! composed as `milkrun serve` composes it, with every port wrapped in its fault-injecting
//! decorator (milkrun-faults) under one seeded plan, then, once retries, the
//! stalled-checkout sweeper, the relay and dead-letter replays have settled, the
//! invariants ([`check`]):
//!
//! - every order ends in a terminal state or one that correctly waits;
//! - stock is conserved on every row: stock + reserved + committed = as it was;
//! - money is conserved: charged − refunded (the gateway's own record) = the totals of the
//!   orders that went ahead = what the payment records say;
//! - every event committed reaches every consumer subscribed to it (through the DLQ and a
//!   replay if need be): 100 %.
//!
//! Clients retry a failed `POST /orders` with its idempotency key, as the SPEC asks them to.
//!
//! With `dynamodb`, every item lives in DynamoDB instead (the real adapter, under the same
//! item-store faults; moto's tables, from template.yaml, in `scripts/emulated/run.py
//! faults`), while the bus, the runner, the gateway and the mail stay the local ones.

mod check;
mod load;
mod people;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use milkrun_aws::DynamoDbItemStore;
use milkrun_domain::DomainError;
use milkrun_domain::StoreError;
use milkrun_domain::events::{EventEnvelope, EventType, Topic};
use milkrun_domain::payment::PaymentGateway;
use milkrun_domain::ports::{EventHandler, EventPublisher, Mailer, SmsSender};
use milkrun_faults::{
    CallKind, Fault, FaultPlan, FaultyGateway, FaultyItemStore, FaultyMailer, FaultyPublisher,
    FaultySms,
};
use milkrun_local::{Database, Decorate, LocalHost, RetryPolicy, SqliteItemStore};
use milkrun_platform::Settings;
use milkrun_store::effects::carried_outbox_writes;
use milkrun_store::ops::{ItemPage, Key, Query, Write};
use milkrun_store::{Item, ItemError, ItemStore, Stores, TableSpec};
use uuid::Uuid;

pub use check::Verdict;

/// What a fault run does.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub orders: usize,
    pub in_flight: usize,
    /// Units of the one line on the shelf: fewer than `orders`, so some run out.
    pub stock: u32,
    /// How likely each call of each kind is to fail (each fault of the kind at this rate).
    pub rate: f64,
    /// Items in DynamoDB (the tables the template's variables name) instead of SQLite.
    pub dynamodb: bool,
}

/// The plan: every port, every fault it can meet, each at `rate` (the item store's at a
/// fifth of it, as it is called some 60 times a checkout).
pub fn plan(seed: u64, rate: f64) -> FaultPlan {
    use CallKind::*;
    use Fault::*;
    let store = rate / 5.0;
    let mut plan = FaultPlan::new(seed, Vec::new());
    for kind in [Get, BatchGet, Query, Scan] {
        plan = plan
            .with(kind, Refused, store)
            .with(kind, TimeoutBefore, store);
    }
    for kind in [Write, Transact] {
        plan = plan
            .with(kind, Refused, store)
            .with(kind, TimeoutBefore, store)
            .with(kind, AnswerLost, store);
    }
    plan = plan.with(Transact, Conflict, store);
    for kind in [Publish, Mail, Sms, Charge, Refund, PaymentFor] {
        plan = plan
            .with(kind, Refused, rate)
            .with(kind, TimeoutBefore, rate)
            .with(kind, AnswerLost, rate);
    }
    plan
}

/// The decorators of one run, keeping the real gateway for the money check.
pub(crate) struct Faulty {
    plan: Arc<FaultPlan>,
    /// The item store the faults wrap instead of the host's own (DynamoDB), if any.
    items: Option<Arc<dyn ItemStore>>,
    gateway: Mutex<Option<Arc<dyn PaymentGateway>>>,
    /// Every event the relay handed to the bus (the committed ones, as the outbox held
    /// them), recorded before any fault.
    offered: Arc<Mutex<Vec<EventEnvelope>>>,
}

impl Decorate for Faulty {
    fn items(&self, items: Arc<dyn ItemStore>) -> Arc<dyn ItemStore> {
        let items = self.items.clone().unwrap_or(items);
        Arc::new(FaultyItemStore::new(items, self.plan.clone()))
    }
    fn gateway(&self, gateway: Arc<dyn PaymentGateway>) -> Arc<dyn PaymentGateway> {
        *lock(&self.gateway) = Some(gateway.clone());
        Arc::new(FaultyGateway::new(gateway, self.plan.clone()))
    }
    fn mailer(&self, mailer: Arc<dyn Mailer>) -> Arc<dyn Mailer> {
        Arc::new(FaultyMailer::new(mailer, self.plan.clone()))
    }
    fn sms(&self, sms: Arc<dyn SmsSender>) -> Arc<dyn SmsSender> {
        Arc::new(FaultySms::new(sms, self.plan.clone()))
    }
    fn publisher(&self, bus: Arc<dyn EventPublisher>) -> Arc<dyn EventPublisher> {
        Arc::new(Offered {
            inner: Arc::new(FaultyPublisher::new(bus, self.plan.clone())),
            offered: self.offered.clone(),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records each event the relay offers, then hands it on.
struct Offered {
    inner: Arc<dyn EventPublisher>,
    offered: Arc<Mutex<Vec<EventEnvelope>>>,
}

#[async_trait]
impl EventPublisher for Offered {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError> {
        lock(&self.offered).push(event.clone());
        self.inner.publish(event).await
    }
}

/// A consumer that records each event it handled without an error.
struct Recording {
    inner: Arc<dyn EventHandler>,
    handled: Arc<Mutex<HashSet<(&'static str, Uuid)>>>,
}

#[async_trait]
impl EventHandler for Recording {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn wants(&self, event_type: EventType) -> bool {
        self.inner.wants(event_type)
    }
    fn deduplicates_itself(&self) -> bool {
        self.inner.deduplicates_itself()
    }
    async fn handle(&self, event: &EventEnvelope) -> Result<(), DomainError> {
        self.inner.handle(event).await?;
        lock(&self.handled).insert((self.inner.name(), event.event_id));
        Ok(())
    }
}

/// The host of one run: faulty adapters over a fresh folder, every consumer subscribed
/// (recording what it handled), deliveries retried three times as SQS would
/// (`maxReceiveCount`), quicker.
pub(crate) struct Run {
    pub(crate) host: LocalHost,
    pub(crate) faulty: Faulty,
    /// The items as they are, past the faults: what the checks and the waits read.
    pub(crate) clean: Stores,
    pub(crate) handled: Arc<Mutex<HashSet<(&'static str, Uuid)>>>,
    /// Each consumer as subscribed: its topics and its handler.
    pub(crate) consumers: Vec<(&'static [Topic], Arc<dyn EventHandler>)>,
}

pub(crate) async fn open(data: &std::path::Path, plan: FaultPlan, dynamodb: bool) -> Run {
    let db = Database::open(&data.join("milkrun.db")).unwrap();
    let raw: Arc<dyn ItemStore> = if dynamodb {
        Arc::new(CarriedToOutbox(dynamodb_items().await))
    } else {
        Arc::new(SqliteItemStore::new(db.clone()))
    };
    let faulty = Faulty {
        plan: Arc::new(plan),
        items: dynamodb.then(|| raw.clone()),
        gateway: Mutex::new(None),
        offered: Arc::default(),
    };
    let retry = RetryPolicy {
        attempts: 3,
        first_pause: Duration::from_millis(20),
    };
    let host = LocalHost::decorated(db, data, Settings::default(), retry, &faulty)
        .await
        .unwrap();
    let handled: Arc<Mutex<HashSet<(&'static str, Uuid)>>> = Arc::default();
    let mut consumers = Vec::new();
    for consumer in milkrun_registry::CONSUMERS.iter() {
        let inner = (consumer.handler)(&host.adapters);
        consumers.push((consumer.topics, inner.clone()));
        let recording = Recording {
            inner,
            handled: handled.clone(),
        };
        host.bus.subscribe(consumer.topics, Arc::new(recording));
    }
    Run {
        host,
        faulty,
        clean: Stores::over(raw),
        handled,
        consumers,
    }
}

/// One whole fault run: the load, the settling, the invariants.
pub async fn run(options: &Options) -> Verdict {
    let data = crate::checkout::shop::TempData::new();
    let run = open(&data.0, plan(options.seed, options.rate), options.dynamodb).await;
    let loaded = load::load(&run, options).await;
    let mut settled = load::settle(&run).await;
    // Faults off by now: what a person does once the alerts are in, and what that brings.
    let attended = people::attend(&loaded.shop, &loaded.admin).await;
    if attended.refunded > 0 {
        settled.add(load::settle(&run).await);
    }
    check::check(&run, options, &loaded, &settled, &attended).await
}

/// Every table in DynamoDB, named by the template's variables (and DEAD_LETTERS_TABLE, a
/// local table that `run.py faults` creates too).
async fn dynamodb_items() -> DynamoDbItemStore {
    let client = aws_sdk_dynamodb::Client::new(&milkrun_aws::sdk_config().await);
    DynamoDbItemStore::from_env(client, &milkrun_store::table::ALL)
        .expect("tables: run through scripts/emulated/run.py faults")
}

/// DynamoDB for the local relay: where the audit table's stream would hand the publisher
/// the events an audit entry carries, they are put in the outbox in the same transaction
/// (as the SQLite store does), for the relay that drains it.
struct CarriedToOutbox(DynamoDbItemStore);

#[async_trait]
impl ItemStore for CarriedToOutbox {
    async fn get(
        &self,
        table: &'static TableSpec,
        key: &Key,
        consistent: bool,
    ) -> Result<Option<Item>, ItemError> {
        self.0.get(table, key, consistent).await
    }

    async fn batch_get(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        self.0.batch_get(table, keys).await
    }

    async fn batch_get_eventual(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        self.0.batch_get_eventual(table, keys).await
    }

    async fn write(&self, write: Write) -> Result<Option<Item>, ItemError> {
        let carried = carried_outbox_writes(std::slice::from_ref(&write))?;
        if carried.is_empty() {
            return self.0.write(write).await;
        }
        let Write::Put { item, .. } = &write else {
            unreachable!("only a put carries events")
        };
        let item = item.clone();
        self.0.transact([vec![write], carried].concat()).await?;
        Ok(Some(item))
    }

    async fn transact(&self, mut writes: Vec<Write>) -> Result<(), ItemError> {
        writes.extend(carried_outbox_writes(&writes)?);
        self.0.transact(writes).await
    }

    async fn query(&self, query: &Query) -> Result<ItemPage, ItemError> {
        self.0.query(query).await
    }

    async fn scan(
        &self,
        table: &'static TableSpec,
        limit: u32,
        start_after: Option<Item>,
    ) -> Result<ItemPage, ItemError> {
        self.0.scan(table, limit, start_after).await
    }
}

/// `milkrun-bench faults`: runs, prints the verdict, and fails the process on a broken
/// invariant.
pub async fn main(options: Options) {
    let started = std::time::Instant::now();
    let verdict = run(&options).await;
    println!("{verdict}");
    println!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    if !verdict.violations.is_empty() {
        eprintln!("fault run FAILED, seed {}", options.seed);
        std::process::exit(1);
    }
    // A run that met almost no fault proves nothing (a plan switched off, a port bypassed).
    if verdict.injected < options.orders as u64 / 2 {
        eprintln!(
            "fault run FAILED: only {} faults injected for {} orders",
            verdict.injected, options.orders
        );
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fault suite in the test command, at the bench's full size (500 orders, about
    /// 30 s in a debug build on 2 busy cores; bench/README.md "Faults injected"): a fixed
    /// seed, printed on failure.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkouts_under_faults_lose_nothing() {
        let seed = std::env::var("MILKRUN_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(17);
        let options = Options {
            seed,
            orders: 500,
            in_flight: 50,
            stock: 450,
            rate: 0.03,
            dynamodb: false,
        };
        let verdict = run(&options).await;
        println!("{verdict}");
        assert!(
            verdict.injected > 300,
            "the plan injected too few faults to prove anything (seed {seed}): {verdict}"
        );
        assert!(
            verdict.violations.is_empty(),
            "invariants broken under faults, seed {seed} (rerun: MILKRUN_FAULT_SEED={seed}): {verdict}"
        );
    }
}

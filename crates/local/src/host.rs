//! The local composition root: every adapter built once from a data folder. `milkrun serve`,
//! the jobs, `milkrun dlq` and the test harnesses all start here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use chrono::Utc;
use milkrun_auth::KeyRing;
use milkrun_auth::tokens::DEFAULT_ACCESS_TTL_SECS;
use milkrun_checkout::{CheckoutPorts, CheckoutTasks, SimulatedGateway, fraud_rules_from_env};
use milkrun_domain::payment::PaymentGateway;
use milkrun_domain::ports::{EventPublisher, Mailer, SmsSender};
use milkrun_platform::access::{CachedAccess, DEFAULT_CACHE_AGE};
use milkrun_platform::{Adapters, ConsumerService, Settings};
use milkrun_store::{ItemStore, Stores};
use rand::RngCore;
use tokio::sync::Notify;

use crate::bus::{InProcessBus, RetryPolicy};
use crate::checkout::LocalCheckoutRunner;
use crate::db::Database;
use crate::legacy;
use crate::outbox::{OutboxMailer, SmsOutbox};
use crate::relay::OutboxRelay;
use crate::sqlite_store::SqliteItemStore;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The adapters over one data folder, and the bus that stands in for SNS and SQS.
pub struct LocalHost {
    pub adapters: Adapters,
    pub bus: Arc<InProcessBus>,
    pub db: Database,
    pub data: PathBuf,
    outbox_signal: Arc<Notify>,
    runner: Arc<LocalCheckoutRunner>,
    /// What the outbox relay hands events to: the bus, as decorated.
    publisher: Arc<dyn EventPublisher>,
}

/// Wraps the host's adapters as they are built: how tests and the bench put a decorator
/// (fault injection) around a real adapter while everything else is composed as
/// `milkrun serve` composes it. Each method answers its adapter unchanged by default.
pub trait Decorate {
    fn items(&self, items: Arc<dyn ItemStore>) -> Arc<dyn ItemStore> {
        items
    }
    fn gateway(&self, gateway: Arc<dyn PaymentGateway>) -> Arc<dyn PaymentGateway> {
        gateway
    }
    fn mailer(&self, mailer: Arc<dyn Mailer>) -> Arc<dyn Mailer> {
        mailer
    }
    fn sms(&self, sms: Arc<dyn SmsSender>) -> Arc<dyn SmsSender> {
        sms
    }
    /// The publisher the outbox relay hands committed events to (the bus).
    fn publisher(&self, bus: Arc<dyn EventPublisher>) -> Arc<dyn EventPublisher> {
        bus
    }
}

/// No decorator: the host `milkrun serve` runs.
pub struct Undecorated;

impl Decorate for Undecorated {}

impl LocalHost {
    /// Opens (creating, or migrating from an earlier release) the data folder.
    pub async fn open(data: &Path, settings: Settings) -> Result<Self, BoxError> {
        std::fs::create_dir_all(data)?;
        let db = Database::open(&data.join("milkrun.db"))?;
        Self::over(db, data, settings, RetryPolicy::default()).await
    }

    /// The host over `db` (an in-memory one in tests), with `retry` for deliveries.
    pub async fn over(
        db: Database,
        data: &Path,
        settings: Settings,
        retry: RetryPolicy,
    ) -> Result<Self, BoxError> {
        Self::decorated(db, data, settings, retry, &Undecorated).await
    }

    /// As [`LocalHost::over`], with each adapter wrapped by `decorate`.
    pub async fn decorated(
        db: Database,
        data: &Path,
        settings: Settings,
        retry: RetryPolicy,
        decorate: &dyn Decorate,
    ) -> Result<Self, BoxError> {
        let outbox_signal = Arc::new(Notify::new());
        let items = SqliteItemStore::new(db.clone()).signalling_outbox(outbox_signal.clone());
        let stores = Stores::over(decorate.items(Arc::new(items)));
        if let Some(moved) = legacy::migrate(&db, &stores).await? {
            tracing::info!(?moved, "migrated a data folder of an earlier release");
        }
        let bus = Arc::new(InProcessBus::new(
            stores.processed.clone(),
            stores.dead_letters.clone(),
            retry,
        ));
        let publisher = decorate.publisher(bus.clone());
        let gateway = decorate.gateway(Arc::new(SimulatedGateway::new()));
        let ports = CheckoutPorts::from_stores(&stores, gateway.clone());
        let tasks = CheckoutTasks::new(ports, fraud_rules_from_env()?);
        let runner = Arc::new(LocalCheckoutRunner::new(Arc::new(tasks)));
        let adapters = Adapters {
            checkout: runner.clone(),
            gateway,
            mailer: decorate.mailer(Arc::new(OutboxMailer::new(data.join("outbox"))?)),
            sms: decorate.sms(Arc::new(SmsOutbox::new(data.join("sms")))),
            keys: Arc::new(KeyRing::derived(
                &jwt_secret(data)?,
                DEFAULT_ACCESS_TTL_SECS,
            )?),
            access: Arc::new(CachedAccess::new(stores.users.clone(), access_cache_age())),
            stores,
            settings,
        };
        Ok(Self {
            adapters,
            bus,
            db,
            data: data.to_owned(),
            outbox_signal,
            runner,
            publisher,
        })
    }

    /// Waits for every checkout execution this process started to finish.
    pub async fn settle(&self) {
        self.runner.idle().await;
    }

    /// Subscribes each consumer to its topics on the bus.
    pub fn subscribe(&self, consumers: &[&ConsumerService]) {
        for consumer in consumers {
            self.bus
                .subscribe(consumer.topics, (consumer.handler)(&self.adapters));
        }
    }

    /// Starts again the checkout of every order a stopped process left mid-way (PENDING,
    /// PAYMENT_PENDING or CONFIRMED; [`milkrun_checkout::stalled`]): no execution outlives
    /// the process, so every one is stalled now. Answers how many were started.
    pub async fn resume_checkouts(&self) -> Result<usize, BoxError> {
        let adapters = &self.adapters;
        let ports = CheckoutPorts::from_stores(&adapters.stores, adapters.gateway.clone());
        let runner = adapters.checkout.as_ref();
        let report = milkrun_checkout::resume_stalled(&ports, runner, Utc::now()).await?;
        Ok(report.resumed)
    }

    /// Starts delivering committed events (including any an earlier process left behind).
    pub fn start_relay(&self) -> tokio::task::JoinHandle<()> {
        OutboxRelay::new(
            self.adapters.stores.outbox.clone(),
            self.publisher.clone(),
            self.outbox_signal.clone(),
        )
        .spawn()
    }
}

/// How long an account's access is cached: `MILKRUN_ACCESS_CACHE_SECS` (at most 30), else
/// the default.
fn access_cache_age() -> std::time::Duration {
    std::env::var("MILKRUN_ACCESS_CACHE_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(DEFAULT_CACHE_AGE, std::time::Duration::from_secs)
}

/// The master secret every local key is derived from: `MILKRUN_JWT_SECRET`, else a random
/// secret generated once and kept in the data folder.
fn jwt_secret(data: &Path) -> Result<Vec<u8>, BoxError> {
    if let Ok(secret) = std::env::var("MILKRUN_JWT_SECRET") {
        return Ok(secret.into_bytes());
    }
    let path = data.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::STANDARD.encode(bytes);
    write_private(&path, &secret)?;
    tracing::info!(file = %path.display(), "generated a JWT secret");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

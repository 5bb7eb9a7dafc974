//! The load (each slot places an order, retrying its POST, and waits until the checkout
//! leaves it) and the settling after it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use milkrun_domain::Effects;
use milkrun_domain::inventory::{InventoryRow, StockKey, StockOperation};
use milkrun_domain::ports::{
    DeadLetters, OrderReads, PendingEvents, StockAdjustments, StockLevels,
};
use milkrun_store::Stores;
use milkrun_tool::demo::demo_id;
use uuid::Uuid;

use super::{Options, Run};
use crate::checkout::shop::{Shop, admin_token, place, stock_the_shop};
use crate::checkout::{ORDERS_PER_CUSTOMER, VENDOR};

/// Tries of one `POST /orders`, with the same idempotency key.
const POST_TRIES: u32 = 6;
/// How long a slot waits for its order to leave checkout before placing the next one (a
/// checkout stalled by a fault is the sweeper's, after the load).
const SLOT_WAIT: Duration = Duration::from_secs(10);
/// Settling rounds with the faults still on, then at most this many more without.
const FAULTY_ROUNDS: usize = 3;
const CLEAN_ROUNDS: usize = 10;

pub(crate) struct Loaded {
    /// Every row of the vendor as it was before the load (stock + reserved per key).
    pub(crate) rows_before: Vec<InventoryRow>,
    pub(crate) answered: Vec<Uuid>,
    /// Orders whose every POST failed (the last answer).
    pub(crate) unanswered: Vec<String>,
    pub(crate) load_time: Duration,
    /// The shop the load placed its orders in, for the admin after it.
    pub(crate) shop: Arc<Shop>,
    pub(crate) admin: String,
}

pub(crate) struct Settled {
    pub(crate) rounds: usize,
    pub(crate) resumed: usize,
    pub(crate) replayed: usize,
    pub(crate) settle_time: Duration,
}

impl Settled {
    /// Counts a later settling in.
    pub(crate) fn add(&mut self, later: Settled) {
        self.rounds += later.rounds;
        self.resumed += later.resumed;
        self.replayed += later.replayed;
        self.settle_time += later.settle_time;
    }
}

/// Reads straight from the store, past the faults: what the checks and the waits see.
pub(crate) fn clean_stores(run: &Run) -> Stores {
    run.clean.clone()
}

pub(crate) async fn load(run: &Run, options: &Options) -> Loaded {
    let plan = &run.faulty.plan;
    plan.set_enabled(false);
    let adapters = &run.host.adapters;
    let customers = options.orders.div_ceil(ORDERS_PER_CUSTOMER);
    let (tokens, lines) = stock_the_shop(&adapters.stores, adapters, customers, 1).await;
    let vendor_id = demo_id("vendor", VENDOR);
    let (product_id, variant_id) = lines[0];
    let key = StockKey {
        vendor_id,
        product_id,
        variant_id,
    };
    adapters
        .stores
        .stock
        .adjust(&key, StockOperation::Set(options.stock), None, &|_, _| {
            Effects::none()
        })
        .await
        .unwrap();
    let admin = admin_token(&adapters.stores, adapters).await;
    let clean = clean_stores(run);
    let rows_before = clean.stock.for_vendor(vendor_id).await.unwrap();
    let shop = Arc::new(Shop::open(adapters, clean, tokens, lines));
    let _relay = run.host.start_relay();
    plan.set_enabled(true);
    let started = Instant::now();
    let outcomes: Vec<Result<Uuid, String>> = futures::stream::iter(0..options.orders)
        .map(|n| {
            let shop = shop.clone();
            async move { tokio::spawn(slot(shop, n)).await.unwrap() }
        })
        .buffer_unordered(options.in_flight)
        .collect()
        .await;
    let load_time = started.elapsed();
    let (answered, unanswered): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
    Loaded {
        rows_before,
        answered: answered.into_iter().map(Result::unwrap).collect(),
        unanswered: unanswered.into_iter().map(|e| e.unwrap_err()).collect(),
        load_time,
        shop,
        admin,
    }
}

/// One client: places order `n` (retrying a failed POST with its idempotency key), then
/// waits until its checkout leaves it.
async fn slot(shop: Arc<Shop>, n: usize) -> Result<Uuid, String> {
    let mut last = String::new();
    for _ in 0..POST_TRIES {
        match place(&shop.app, shop.request(n)).await {
            Ok(order_id) => {
                wait_out_of_checkout(&shop, order_id).await;
                return Ok(order_id);
            }
            Err(error) => last = error,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last)
}

async fn wait_out_of_checkout(shop: &Shop, order_id: Uuid) {
    let started = Instant::now();
    while started.elapsed() < SLOT_WAIT {
        let order = shop.stores.orders.get(order_id).await.unwrap();
        if order.is_some_and(|o| !o.status.is_in_checkout()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lets everything settle: executions finish, the relay empties the outbox, dead letters
/// are replayed, the sweeper restarts stalled checkouts; first with the faults on, then
/// without, until a round finds nothing left to do.
pub(crate) async fn settle(run: &Run) -> Settled {
    let started = Instant::now();
    let clean = clean_stores(run);
    let (mut resumed, mut replayed) = (0, 0);
    let mut rounds = 0;
    for round in 0..FAULTY_ROUNDS + CLEAN_ROUNDS {
        rounds = round + 1;
        if round == FAULTY_ROUNDS {
            run.faulty.plan.set_enabled(false);
        }
        run.host.settle().await;
        let outbox_empty = wait_for_empty_outbox(&clean).await;
        let replay = milkrun_local::replay(&run.host.bus).await;
        let replayed_now = replay.as_ref().map_or(0, |r| r.replayed);
        replayed += replayed_now;
        // A sweep that failed (its listing met a fault) is no quiet round.
        let resumed_now = run.host.resume_checkouts().await.ok();
        run.host.settle().await;
        resumed += resumed_now.unwrap_or(0);
        let letters = clean.dead_letters.list(10).await.unwrap().len();
        let quiet = outbox_empty
            && replay.is_ok_and(|r| r.failed == 0)
            && replayed_now == 0
            && resumed_now == Some(0)
            && letters == 0;
        if quiet && round >= FAULTY_ROUNDS {
            break;
        }
    }
    wait_for_empty_outbox(&clean).await;
    Settled {
        rounds,
        resumed,
        replayed,
        settle_time: started.elapsed(),
    }
}

async fn wait_for_empty_outbox(clean: &Stores) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if clean.outbox.pending(1).await.unwrap().is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

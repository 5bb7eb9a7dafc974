//! `milkrun-bench soak --minutes 30 --rate N`: checkouts at a fixed rate (open loop: one
//! starts every 1/N s whatever the others do) over a [`LocalHost`] composed as `milkrun
//! serve` composes it (the checkout bench's shop and measure: POST /orders → the order read
//! CONFIRMED or later), for the given minutes. Each minute prints the process's resident
//! memory, the database's and its write-ahead log's sizes, and the p50/p99 of the checkouts started in that
//! minute, so drift (a leak, a growing table scanned, a slowing store) shows as a trend.
//! Not in CI: the figures are bench/README.md's.
//!
//! [`LocalHost`]: milkrun_local::LocalHost

use std::sync::Arc;
use std::time::{Duration, Instant};

use milkrun_domain::Effects;
use milkrun_domain::ports::{VendorReads, VendorWrites};
use milkrun_local::LocalHost;
use milkrun_platform::Settings;
use milkrun_tool::demo::demo_id;
use tokio::sync::mpsc;

use crate::checkout::latency::{Sample, checkout, ms, percentile};
use crate::checkout::shop::{Shop, TempData, stock_the_shop};
use crate::checkout::{ORDERS_PER_CUSTOMER, VENDOR};

const POLL: Duration = Duration::from_millis(2);

pub async fn run(minutes: u64, rate: u32) {
    assert!(
        minutes > 0 && rate > 0,
        "--minutes and --rate are at least 1"
    );
    let data = TempData::new();
    let host = LocalHost::open(&data.0, Settings::default()).await.unwrap();
    host.subscribe(&milkrun_registry::CONSUMERS);
    let _relay = host.start_relay();
    let total = (minutes * 60 * u64::from(rate)) as usize;
    let customers = total.div_ceil(ORDERS_PER_CUSTOMER);
    let started = Instant::now();
    let (tokens, lines) = stock_the_shop(&host.adapters.stores, &host.adapters, customers, 1).await;
    room_for_every_order(&host).await;
    println!(
        "# milkrun-bench soak: {minutes} min at {rate} checkouts/s ({total} orders, {customers} customers, set up in {:.0} s), {} cores",
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let shop = Arc::new(Shop::open(
        &host.adapters,
        host.adapters.stores.clone(),
        tokens,
        lines,
    ));
    println!(
        "\n| minute | started | confirmed | failed | confirmed p50 / p99 | 201 p99 | RSS (anonymous + file + shared memory) | database + WAL |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (sent, mut received) = mpsc::unbounded_channel::<(u64, Sample)>();
    let load = tokio::spawn(drive(shop, total, rate, sent));
    let mut minutes_seen: Vec<Vec<Sample>> = (0..minutes).map(|_| Vec::new()).collect();
    let mut reported = 0;
    let begun = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            sample = received.recv() => match sample {
                Some((minute, sample)) => {
                    let last = minutes_seen.len() - 1;
                    minutes_seen[(minute as usize).min(last)].push(sample);
                }
                None => break,
            },
            _ = tick.tick() => {
                // A minute is reported once every checkout started in it has had its 30 s.
                let settled = begun.elapsed().saturating_sub(crate::checkout::GIVE_UP).as_secs() / 60;
                while reported < settled.min(minutes) {
                    // Reported, a minute's samples are let go, so the soak holds only the
                    // minutes still running.
                    row(reported, &std::mem::take(&mut minutes_seen[reported as usize]), &data.0);
                    reported += 1;
                }
            }
        }
    }
    load.await.unwrap();
    while reported < minutes {
        row(reported, &minutes_seen[reported as usize], &data.0);
        reported += 1;
    }
}

/// The demo vendor takes every order of the run on any day (the demo's limit would fill
/// the 28 delivery days of a long soak).
async fn room_for_every_order(host: &LocalHost) {
    let vendors = &host.adapters.stores.vendors;
    let before = vendors
        .get(demo_id("vendor", VENDOR))
        .await
        .unwrap()
        .unwrap();
    let mut after = before.clone();
    after.capacity.daily_order_limit = 100_000;
    vendors
        .update(&before, after, &Effects::none())
        .await
        .unwrap();
}

/// Starts checkout `n` at `n / rate` seconds, each in its own task; sends each sample
/// with the minute it started in. Finished tasks are joined as the load goes: a task's
/// memory stays allocated until it is joined, and holding every one to the end grew the
/// soak's own heap by ≈ 1 KiB a checkout (bench/README.md, "The end of issue 17").
async fn drive(
    shop: Arc<Shop>,
    total: usize,
    rate: u32,
    sent: mpsc::UnboundedSender<(u64, Sample)>,
) {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let begun = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for n in 0..total {
        ticks.tick().await;
        while let Some(done) = running.try_join_next() {
            done.unwrap();
        }
        let minute = begun.elapsed().as_secs() / 60;
        let (shop, sent) = (shop.clone(), sent.clone());
        running.spawn(async move {
            let sample = checkout(shop, n, POLL).await;
            let _ = sent.send((minute, sample));
        });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
}

fn row(minute: u64, samples: &[Sample], data: &std::path::Path) {
    let failed = samples.iter().filter(|s| s.failure.is_some()).count();
    let mut done: Vec<Duration> = samples
        .iter()
        .filter(|s| s.failure.is_none())
        .map(|s| s.confirmed)
        .collect();
    let mut answered: Vec<Duration> = samples.iter().map(|s| s.answered).collect();
    done.sort();
    answered.sort();
    let latency = if done.is_empty() {
        "—".to_owned()
    } else {
        format!(
            "{:.1} / {:.1} ms",
            ms(percentile(&done, 0.5)),
            ms(percentile(&done, 0.99))
        )
    };
    let answered_p99 = if answered.is_empty() {
        "—".to_owned()
    } else {
        format!("{:.1} ms", ms(percentile(&answered, 0.99)))
    };
    let [total, anonymous, file, shared] = memory_mib(["VmRSS", "RssAnon", "RssFile", "RssShmem"]);
    println!(
        "| {} | {} | {} | {failed} | {latency} | {answered_p99} | {total:.1} MiB ({anonymous:.1} + {file:.1} + {shared:.1}) | {:.1} + {:.1} MiB |",
        minute + 1,
        samples.len(),
        done.len(),
        file_mib(&data.join("milkrun.db")),
        file_mib(&data.join("milkrun.db-wal")),
    );
    if let Some(first) = samples.iter().find_map(|s| s.failure.as_ref()) {
        println!("  first failure: {first}");
    }
}

/// This process's memory figures `fields` in MiB, from one read of /proc/self/status so that
/// they are of one instant (0 where there is none): the resident set (`VmRSS`) and its three
/// parts, anonymous (`RssAnon`: the heap, stacks), file-backed (`RssFile`: the binary, and
/// the database's pages mapped by the SQLite readers) and shared memory (`RssShmem`), so
/// that a leak (anonymous) can be told from the mapped database being read (file).
fn memory_mib<const N: usize>(fields: [&str; N]) -> [f64; N] {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    fields.map(|field| {
        let prefix = format!("{field}:");
        (status.lines())
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    })
}

fn file_mib(path: &std::path::Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |meta| meta.len() as f64 / (1024.0 * 1024.0))
}

//! 1 and 2: latency and throughput over the LocalHost as `milkrun serve` composes it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use milkrun_domain::ports::OrderReads;
use milkrun_local::LocalHost;
use milkrun_platform::Settings;

use super::shop::{Shop, TempData, confirmed, place, stock_the_shop};
use super::{GIVE_UP, ORDERS_PER_CUSTOMER, Options};

pub(crate) struct Sample {
    /// POST start → the read that found the order CONFIRMED or later.
    pub(crate) confirmed: Duration,
    /// POST start → 201 answered.
    pub(crate) answered: Duration,
    pub(crate) polls: u32,
    pub(crate) failure: Option<String>,
}

pub(crate) async fn checkout(shop: Arc<Shop>, n: usize, poll: Duration) -> Sample {
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

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub(super) async fn phase(
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

pub(super) async fn latency(options: &Options) {
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
    let shop = Arc::new(Shop::open(
        &host.adapters,
        host.adapters.stores.clone(),
        tokens,
        lines,
    ));
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

//! An open-loop load: requests start on a fixed schedule (`--rps`) whether or not earlier
//! ones have answered, so a slow server shows up as latency instead of a politely lower
//! rate (no coordinated omission). Latency is measured from the scheduled start.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::report;

pub async fn run(url: &str, rps: u32, seconds: u32) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let total = rps * seconds;
    let period = Duration::from_secs_f64(1.0 / f64::from(rps));
    let started = Instant::now();
    let mut requests = JoinSet::new();
    for n in 0..total {
        let scheduled = started + period * n;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url) = (client.clone(), url.to_owned());
        requests.spawn(async move {
            let ok = match client.get(&url).send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            };
            (scheduled.elapsed(), ok)
        });
    }
    let mut samples = Vec::with_capacity(total as usize);
    let mut failures = 0;
    while let Some(done) = requests.join_next().await {
        let (latency, ok) = done.unwrap();
        samples.push(latency);
        failures += usize::from(!ok);
    }
    report(
        &format!("GET {url} at {rps}/s for {seconds}s (open loop), {failures} failed"),
        samples,
        started.elapsed(),
    );
}

//! `milkrun-bench argon2`, `login`, `rate`, `dynamodb-calls`, `checkout`, `faults` and `soak`: figures for
//! bench/README.md.

mod checkout;
mod daily_report;
mod dynamodb_calls;
mod faults;
mod item_meter;
mod rate;
mod soak;
mod subscription_run;

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures::StreamExt as _;
use milkrun_auth::PasswordHasher;
use milkrun_domain::values::Password;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time argon2id hash and verify at the production parameters.
    Argon2 {
        #[arg(long, default_value_t = 50)]
        iterations: usize,
    },
    /// Time an access token's signing and its verification (Ed25519), as every protected
    /// route verifies one.
    Tokens {
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
    },
    /// Log in `--requests` times against a running server and report latency percentiles.
    Login {
        #[arg(long)]
        base_url: String,
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// GET `--url` at a fixed rate (open loop) and report latency percentiles.
    Rate {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 500)]
        rps: u32,
        #[arg(long, default_value_t = 20)]
        seconds: u32,
    },
    /// DynamoDB calls per request for each catalog route (run via run.py bench-calls).
    DynamodbCalls,
    /// The nightly subscription run: its reads beside 10× inactive subscriptions (metered),
    /// and 20 × `--customers` due subscriptions through the whole checkout.
    SubscriptionRun {
        #[arg(long, default_value_t = 500)]
        customers: usize,
    },
    /// One daily report's reads beside 10× orders of other days, and one vendor's
    /// settlement beside ten other vendors (metered).
    DailyReport {
        #[arg(long, default_value_t = 1_000)]
        orders: usize,
    },
    /// The fault suite at full size: a checkout load with faults injected into every port
    /// (seeded), then the invariants (terminal states, stock, money, events).
    Faults {
        #[arg(long, default_value_t = 17)]
        seed: u64,
        #[arg(long, default_value_t = 500)]
        orders: usize,
        #[arg(long, default_value_t = 50)]
        in_flight: usize,
        /// Units on the shelf (fewer than orders: some run out).
        #[arg(long, default_value_t = 450)]
        stock: u32,
        /// Probability of each fault on each call of a port (the item store's: a fifth).
        #[arg(long, default_value_t = 0.03)]
        rate: f64,
        /// Keep every item in DynamoDB (the tables named by the template's variables, which
        /// `scripts/emulated/run.py faults` points at moto) instead of the embedded store.
        #[arg(long)]
        dynamodb: bool,
    },
    /// Checkouts at a fixed rate for `--minutes` over a local host: resident memory,
    /// database size and p50/p99 latency per minute, to show drift (not in CI).
    Soak {
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Checkouts started per second (open loop).
        #[arg(long, default_value_t = 20)]
        rate: u32,
    },
    /// Checkout end to end over a local host in a temporary folder: latency to CONFIRMED,
    /// throughput, and what one checkout costs (calls, units, invocations, events, AWS $).
    Checkout {
        /// Orders placed one at a time.
        #[arg(long, default_value_t = 100)]
        sequential: usize,
        /// Orders in flight in the concurrent phase…
        #[arg(long, default_value_t = 50)]
        concurrent: usize,
        /// …and how many it places.
        #[arg(long, default_value_t = 200)]
        concurrent_orders: usize,
        /// Orders placed in the sustained phase…
        #[arg(long, default_value_t = 500)]
        sustained: usize,
        /// …with this many in flight.
        #[arg(long, default_value_t = 50)]
        in_flight: usize,
        /// How often a checkout reads its order until it is CONFIRMED or later.
        #[arg(long, default_value_t = 2)]
        poll_ms: u64,
        /// Checkouts metered one at a time (each pass: warm-up, timing, capacity).
        #[arg(long, default_value_t = 20)]
        metered: usize,
        /// Lines per order (1 to 3).
        #[arg(long, default_value_t = 1)]
        lines: usize,
        /// Orders placed before the latency phases, not reported.
        #[arg(long, default_value_t = 20)]
        warmup: usize,
    },
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

pub(crate) fn report(name: &str, mut samples: Vec<Duration>, wall: Duration) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} p50={:.2}ms p99={:.2}ms min={:.2}ms max={:.2}ms throughput={:.1}/s",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len() as f64 / wall.as_secs_f64()
    );
}

fn tokens(iterations: usize) {
    let keys =
        milkrun_auth::KeyRing::derived(b"bench-secret-bench-secret-bench-secret", 900).unwrap();
    let signer = keys.signer().unwrap();
    let verifier = signer.verifier();
    let user = uuid::Uuid::now_v7();
    let started = Instant::now();
    let issued: Vec<_> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            let token = signer
                .issue_access(user, milkrun_domain::values::Role::Customer, None)
                .unwrap();
            (token, t.elapsed())
        })
        .collect();
    report(
        "access token signed (EdDSA)",
        issued.iter().map(|i| i.1).collect(),
        started.elapsed(),
    );
    let started = Instant::now();
    let verified = issued
        .iter()
        .map(|(token, _)| {
            let t = Instant::now();
            assert_eq!(verifier.verify_access(token).unwrap().sub, user);
            t.elapsed()
        })
        .collect();
    report("access token verified (EdDSA)", verified, started.elapsed());
}

fn argon2(iterations: usize) {
    let hasher = PasswordHasher::new();
    let password = Password::parse("benchmark password").unwrap();
    let started = Instant::now();
    let hashes: Vec<_> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            (hasher.hash(&password).unwrap(), t.elapsed())
        })
        .collect();
    report(
        "argon2id hash (m=19MiB,t=2,p=1)",
        hashes.iter().map(|h| h.1).collect(),
        started.elapsed(),
    );
    let started = Instant::now();
    let verifies = hashes
        .iter()
        .map(|(hash, _)| {
            let t = Instant::now();
            assert!(hasher.verify("benchmark password", hash));
            t.elapsed()
        })
        .collect();
    report("argon2id verify", verifies, started.elapsed());
}

async fn login(base_url: &str, requests: usize, concurrency: usize) {
    let client = reqwest::Client::new();
    let email = format!("bench-{}@milkrun.test", uuid::Uuid::new_v4().simple());
    let credentials =
        serde_json::json!({"name": "Bench", "email": email, "password": "benchmark password"});
    let registered = client
        .post(format!("{base_url}/users/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201, "registration failed");
    let started = Instant::now();
    let samples: Vec<Duration> = futures::stream::iter(0..requests)
        .map(|_| {
            let (client, credentials) = (client.clone(), credentials.clone());
            async move {
                let t = Instant::now();
                let response = client
                    .post(format!("{base_url}/users/login"))
                    .json(&credentials)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    report(
        &format!("POST /users/login, concurrency {concurrency}"),
        samples,
        started.elapsed(),
    );
}

/// mimalloc instead of glibc's malloc, whose arenas were a fifth of a checkout load's CPU
/// (bench/README.md, "Throughput: the local profile"). Lambda bootstraps keep the default.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    match Cli::parse().command {
        Command::Argon2 { iterations } => argon2(iterations),
        Command::Tokens { iterations } => tokens(iterations),
        Command::Login {
            base_url,
            requests,
            concurrency,
        } => login(&base_url, requests, concurrency).await,
        Command::Rate { url, rps, seconds } => rate::run(&url, rps, seconds).await,
        Command::DynamodbCalls => dynamodb_calls::run().await,
        Command::SubscriptionRun { customers } => subscription_run::run(customers).await,
        Command::DailyReport { orders } => daily_report::run(orders).await,
        Command::Soak { minutes, rate } => soak::run(minutes, rate).await,
        Command::Faults {
            seed,
            orders,
            in_flight,
            stock,
            rate,
            dynamodb,
        } => {
            faults::main(faults::Options {
                seed,
                orders,
                in_flight,
                stock,
                rate,
                dynamodb,
            })
            .await
        }
        Command::Checkout {
            sequential,
            concurrent,
            concurrent_orders,
            sustained,
            in_flight,
            poll_ms,
            metered,
            lines,
            warmup,
        } => {
            checkout::run(checkout::Options {
                sequential,
                concurrent,
                concurrent_orders,
                sustained,
                in_flight,
                poll: Duration::from_millis(poll_ms),
                metered,
                lines,
                warmup,
            })
            .await
        }
    }
}

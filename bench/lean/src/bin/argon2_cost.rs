//! `argon2-cost [ITERATIONS]`: argon2id hash and verify through the login path's own
//! `PasswordHasher`, the same measurement as `milkrun-bench argon2` in a binary small enough
//! to build once per opt-level.

use std::time::{Duration, Instant};

use milkrun_auth::PasswordHasher;
use milkrun_domain::values::Password;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} p50={:.2}ms min={:.2}ms max={:.2}ms",
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
    );
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("ITERATIONS is a number"))
        .unwrap_or(30);
    let hasher = PasswordHasher::new();
    let password = Password::parse("benchmark password").expect("a valid password");
    let hashes: Vec<_> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            (hasher.hash(&password).expect("hashing"), started.elapsed())
        })
        .collect();
    summary("argon2id hash", hashes.iter().map(|(_, t)| *t).collect());
    let verifies = hashes
        .iter()
        .map(|(hash, _)| {
            let started = Instant::now();
            assert!(hasher.verify("benchmark password", hash));
            started.elapsed()
        })
        .collect();
    summary("argon2id verify", verifies);
}

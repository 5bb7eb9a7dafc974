#!/usr/bin/env bash
# Measures and writes down (bench/results/latest.txt): the arm64 bootstrap size of each
# function, argon2id hash/verify time in release, login p50/p99 over 1,000 logins through
# `milkrun serve`, GET /products p50/p99 at 500 requests/s against `milkrun serve --demo`,
# and DynamoDB calls per request of each catalog route (on moto). Loopback only; bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results/latest.txt
mkdir -p bench/results
bash scripts/setup-tools.sh >/dev/null
PATH="$PWD/.venv/bin:$PATH" cargo-lambda lambda build --release --arm64 --locked -p milkrun-user -p milkrun-authorizer -p milkrun-vendor -p milkrun-product -p milkrun-inventory -p milkrun-reporting -p milkrun-docs
cargo build --release --locked -p milkrun -p milkrun-bench
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(uname -m), rustc $(rustc --version | cut -d' ' -f2)"
  for f in target/lambda/*/bootstrap; do
    printf 'arm64 bootstrap %-12s %8.2f MiB\n' "$(basename "$(dirname "$f")")" "$(echo "$(stat -c %s "$f") / 1048576" | bc -l)"
  done
  ./target/release/milkrun-bench argon2 --iterations 50
  data=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  RUST_LOG=warn ./target/release/milkrun serve --addr "127.0.0.1:$port" --data "$data" >/dev/null 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/openapi.json" >/dev/null && break; sleep 0.1; done
  ./target/release/milkrun-bench login --base-url "http://127.0.0.1:$port" --requests 1000 --concurrency 1
  ./target/release/milkrun-bench login --base-url "http://127.0.0.1:$port" --requests 1000 --concurrency 4
  kill $server; wait $server 2>/dev/null || true
  RUST_LOG=warn ./target/release/milkrun serve --demo --addr "127.0.0.1:$port" --data "$data" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/products" >/dev/null && break; sleep 0.1; done
  ./target/release/milkrun-bench rate --url "http://127.0.0.1:$port/products" --rps 500 --seconds 20
  ./target/release/milkrun-bench rate --url "http://127.0.0.1:$port/products?pincode=560034&category=MILK" --rps 500 --seconds 20
  .venv/bin/python scripts/emulated/run.py bench-calls 2>/dev/null | grep '^|'
} | tee "$out"

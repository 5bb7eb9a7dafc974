#!/usr/bin/env bash
# Measures and writes down (bench/results/latest.txt): the arm64 bootstrap size of each
# function (and zipped), argon2id hash/verify time in release, login p50/p99 over 1,000
# logins through `milkrun serve`, GET /products p50/p99 at 500 requests/s against
# `milkrun serve --demo`, checkout latency, throughput and calls per checkout (bench/README.md
# "checkout"), DynamoDB calls per request of each catalog route (on moto), and the
# cold start of every function beside a lambda_runtime hello world and a Node.js peer.
# Loopback only; bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results/latest.txt
mkdir -p bench/results
bash scripts/setup-tools.sh >/dev/null
bash bench/coldstart/setup.sh
# Every function of the template, as CI and `sam build` build them (by --bin).
read -r -a functions <<< "$(awk '/^        Binary: /{ printf " --bin %s", $2 }' template.yaml)"
PATH="$PWD/.venv/bin:$PATH" cargo-lambda lambda build --release --arm64 --locked "${functions[@]}"
cargo build --release --locked "${functions[@]}"
cargo build --release --locked -p milkrun-bench-lean
# The local server and the bench in their own profile (Cargo.toml: `local`, opt-level 3).
cargo build --profile local --locked -p milkrun -p milkrun-bench
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(uname -m), rustc $(rustc --version | cut -d' ' -f2)"
  zipped=$(mktemp -d)
  for f in target/lambda/*/bootstrap; do
    name=$(basename "$(dirname "$f")")
    (cd "$(dirname "$f")" && zip -q -9 "$zipped/$name.zip" bootstrap)
    printf 'arm64 bootstrap %-22s %6.2f MiB  zipped %6.2f MiB\n' "$name" \
      "$(echo "$(stat -c %s "$f") / 1048576" | bc -l)" "$(echo "$(stat -c %s "$zipped/$name.zip") / 1048576" | bc -l)"
  done
  rm -rf "$zipped"
  ./target/local/milkrun-bench argon2 --iterations 50
  data=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  RUST_LOG=warn ./target/local/milkrun serve --addr "127.0.0.1:$port" --data "$data" >/dev/null 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/openapi.json" >/dev/null && break; sleep 0.1; done
  ./target/local/milkrun-bench login --base-url "http://127.0.0.1:$port" --requests 1000 --concurrency 1
  ./target/local/milkrun-bench login --base-url "http://127.0.0.1:$port" --requests 1000 --concurrency 4
  kill $server; wait $server 2>/dev/null || true
  RUST_LOG=warn ./target/local/milkrun serve --demo --addr "127.0.0.1:$port" --data "$data" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/products" >/dev/null && break; sleep 0.1; done
  ./target/local/milkrun-bench rate --url "http://127.0.0.1:$port/products" --rps 500 --seconds 20
  ./target/local/milkrun-bench rate --url "http://127.0.0.1:$port/products?pincode=560034&category=MILK" --rps 500 --seconds 20
  kill $server; wait $server 2>/dev/null || true
  ./target/local/milkrun-bench checkout
  .venv/bin/python scripts/emulated/run.py bench-calls 2>/dev/null | grep '^|'
  .venv/bin/python bench/coldstart/coldstart.py --runs 5 2>/dev/null
} | tee "$out"

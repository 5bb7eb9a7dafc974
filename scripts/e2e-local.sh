#!/usr/bin/env bash
# The HTTP end-to-end suite against `milkrun serve` on a fresh data folder and a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
# By --bin, not -p: a -p build would resolve features apart from the rest and build twice.
cargo build --locked --bin milkrun
# Its own line, so that set -e stops here if the suites cannot be named.
suites=$(bash scripts/test-targets.sh milkrun-e2e)
source scripts/local-server.sh
start_local_server target/milkrun-serve.log
MILKRUN_E2E_BASE_URL="http://127.0.0.1:$port" MILKRUN_E2E_ADMIN_EMAIL=$MILKRUN_ADMIN_EMAIL \
MILKRUN_E2E_ADMIN_PASSWORD=$MILKRUN_ADMIN_PASSWORD MILKRUN_E2E_TARGET=local \
  cargo test --workspace --locked $suites -- --test-threads=4
stop_local_server
trap - EXIT
# No log line may carry a password, a hash or a token.
if grep -E 'correct horse battery|local-admin-password|\$argon2|eyJ[A-Za-z0-9_-]{10,}\.' target/milkrun-serve.log; then
  echo "the server log leaks a secret" >&2
  exit 1
fi
exit 0

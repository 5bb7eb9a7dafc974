#!/usr/bin/env bash
# The HTTP end-to-end suite against `milkrun serve` on a fresh data folder and a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p milkrun --bin milkrun
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export MILKRUN_ADMIN_EMAIL=admin@milkrun.test MILKRUN_ADMIN_PASSWORD=local-admin-password
./target/debug/milkrun serve --addr "127.0.0.1:$port" --data "$data" > target/milkrun-serve.log 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/openapi.json" >/dev/null && break
  sleep 0.2
done
MILKRUN_E2E_BASE_URL="http://127.0.0.1:$port" MILKRUN_E2E_ADMIN_EMAIL=$MILKRUN_ADMIN_EMAIL \
MILKRUN_E2E_ADMIN_PASSWORD=$MILKRUN_ADMIN_PASSWORD MILKRUN_E2E_TARGET=local \
  cargo test -p milkrun-e2e -- --test-threads=4
cleanup
trap - EXIT
# No log line may carry a password, a hash or a token.
if grep -E 'correct horse battery|local-admin-password|\$argon2|eyJ[A-Za-z0-9_-]{10,}\.' target/milkrun-serve.log; then
  echo "the server log leaks a secret" >&2
  exit 1
fi
exit 0

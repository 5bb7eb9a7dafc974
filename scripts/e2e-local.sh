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
# The OpenAPI document is the contract: every documented operation, fuzzed with every check
# schemathesis has (schema-valid requests accepted, schema-violating ones refused, responses as
# documented, auth enforced, deleted resources gone, 405s with Allow), at least 10,000 cases,
# fixed seed, one worker (schemathesis' threaded generation crashes on CPython 3.11).
token=$(curl -fs -X POST "http://127.0.0.1:$port/users/login" \
  -d "{\"email\":\"$MILKRUN_ADMIN_EMAIL\",\"password\":\"$MILKRUN_ADMIN_PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
.venv/bin/st run "http://127.0.0.1:$port/openapi.json" --checks all \
  -H "Authorization: Bearer $token" --max-examples 400 --seed 20261122 --workers 1 \
  | tee target/schemathesis.log | tail -n 30
cases=$(grep -oE '[0-9]+ generated' target/schemathesis.log | grep -oE '[0-9]+' | tail -n 1)
if [ "${cases:-0}" -lt 10000 ]; then
  echo "schemathesis ran ${cases:-0} cases; the contract check needs at least 10000" >&2
  exit 1
fi
cleanup
trap - EXIT
# No log line may carry a password, a hash or a token.
if grep -E 'correct horse battery|local-admin-password|\$argon2|eyJ[A-Za-z0-9_-]{10,}\.' target/milkrun-serve.log; then
  echo "the server log leaks a secret" >&2
  exit 1
fi
exit 0

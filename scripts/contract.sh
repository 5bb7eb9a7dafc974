#!/usr/bin/env bash
# The OpenAPI document is the contract. Against `milkrun serve --demo` on a fresh data folder
# and a free port, schemathesis runs every documented operation with every check it has
# (schema-valid requests accepted, schema-violating ones refused, responses and status codes as
# documented, auth enforced, deleted resources gone, 405 with Allow): at least 10,000 cases,
# fixed seed, one worker (schemathesis' threaded generation crashes on CPython 3.11). Expects
# `target/debug/milkrun` built (scripts/e2e-local.sh builds it). Writes target/schemathesis.log.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export MILKRUN_ADMIN_EMAIL=admin@milkrun.test MILKRUN_ADMIN_PASSWORD=local-admin-password
./target/debug/milkrun serve --demo --addr "127.0.0.1:$port" --data "$data" > target/contract-serve.log 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/openapi.json" >/dev/null && break
  sleep 0.2
done
token=$(curl -fs -X POST "http://127.0.0.1:$port/users/login" \
  -d "{\"email\":\"$MILKRUN_ADMIN_EMAIL\",\"password\":\"$MILKRUN_ADMIN_PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
status=0
.venv/bin/st run "http://127.0.0.1:$port/openapi.json" --checks all \
  -H "Authorization: Bearer $token" --max-examples 400 --seed 20261122 --workers 1 \
  > target/schemathesis.log 2>&1 || status=$?
tail -n 30 target/schemathesis.log
[ "$status" -eq 0 ] || exit "$status"
cases=$(grep -oE '[0-9]+ generated' target/schemathesis.log | grep -oE '[0-9]+' | tail -n 1)
if [ "${cases:-0}" -lt 10000 ]; then
  echo "schemathesis ran ${cases:-0} cases; the contract check needs at least 10000" >&2
  exit 1
fi

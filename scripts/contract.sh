#!/usr/bin/env bash
# The OpenAPI document is the contract. docs/openapi.json (what the routes declare: the
# registry's test `docs_openapi_json_is_what_the_routes_declare` keeps it so) must be valid
# OpenAPI 3.1 (openapi-spec-validator). Against `milkrun serve --demo` on a fresh data folder
# and a free port: a Python client generated from the served document (openapi-python-client)
# drives a new user's journey, register to a PREPARING order's tracking
# (scripts/client_journey.py); then schemathesis runs every documented operation with every
# check it has (schema-valid requests accepted, schema-violating ones refused, responses and
# status codes as documented, auth enforced, deleted resources gone, 405 with Allow): at least
# 10,000 cases (150 examples an operation: 11,860 cases; at 400 the admin run's fuzzing
# phase alone was CI's longest step, 26,191 cases in ~17 min), fixed seed, one worker
# (schemathesis' threaded generation crashes on CPython 3.11); then the customers' own
# operations again with a customer's token (the cart, orders and payments; the subscriptions
# and wallet as a second customer), 150 examples each too. Expects
# `target/debug/milkrun` built (scripts/e2e-local.sh builds it). Writes
# target/schemathesis{,-customer,-subscriber}.log.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/openapi-spec-validator docs/openapi.json
source scripts/local-server.sh
start_local_server target/contract-serve.log --demo
token=$(curl -fs -X POST "http://127.0.0.1:$port/users/login" \
  -d "{\"email\":\"$MILKRUN_ADMIN_EMAIL\",\"password\":\"$MILKRUN_ADMIN_PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
# Customers' own routes refuse an admin (403), so the admin run reaches little of them: they
# run again below with a customer's token, made here, before the admin run's many failed
# logins and registrations from this client trip the abuse limit (429) for a while.
# A customer's token: a new account named by $1 (each customer run has its own, so what one
# run leaves behind never shapes another's cases).
new_customer() {
  python3 - "$port" "$1" <<'PY'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def post(path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(), {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(request))
account = {"name": "Contract Customer", "email": f"contract-{sys.argv[2]}@milkrun.test", "password": "contract customer pw"}
post("/users/register", account)
print(post("/users/login", {"email": account["email"], "password": account["password"]})["token"])
PY
}
customer=$(new_customer customer)
subscriber=$(new_customer subscriber)
.venv/bin/python scripts/client_journey.py --base-url "http://127.0.0.1:$port"
status=0
.venv/bin/st run "http://127.0.0.1:$port/openapi.json" --checks all \
  -H "Authorization: Bearer $token" --max-examples 150 --seed 20261122 --workers 1 \
  > target/schemathesis.log 2>&1 || status=$?
tail -n 30 target/schemathesis.log
[ "$status" -eq 0 ] || exit "$status"
cases=$(grep -oE '[0-9]+ generated' target/schemathesis.log | grep -oE '[0-9]+' | tail -n 1)
if [ "${cases:-0}" -lt 10000 ]; then
  echo "schemathesis ran ${cases:-0} cases; the contract check needs at least 10000" >&2
  exit 1
fi
.venv/bin/st run "http://127.0.0.1:$port/openapi.json" --checks all --include-tag cart --include-tag orders --include-tag payments \
  -H "Authorization: Bearer $customer" --max-examples 150 --seed 20261130 --workers 1 \
  > target/schemathesis-customer.log 2>&1 || status=$?
tail -n 15 target/schemathesis-customer.log
[ "$status" -eq 0 ] || exit "$status"
cases=$(grep -oE '[0-9]+ generated' target/schemathesis-customer.log | grep -oE '[0-9]+' | tail -n 1)
if [ "${cases:-0}" -lt 1000 ]; then
  echo "the customer run ran ${cases:-0} cases; it needs at least 1000 (are the cart, orders and payments tags there?)" >&2
  exit 1
fi
# The subscription and wallet routes, as another customer.
.venv/bin/st run "http://127.0.0.1:$port/openapi.json" --checks all --include-tag subscriptions --include-tag wallet \
  -H "Authorization: Bearer $subscriber" --max-examples 150 --seed 20261130 --workers 1 \
  > target/schemathesis-subscriber.log 2>&1 || status=$?
tail -n 15 target/schemathesis-subscriber.log
[ "$status" -eq 0 ] || exit "$status"
cases=$(grep -oE '[0-9]+ generated' target/schemathesis-subscriber.log | grep -oE '[0-9]+' | tail -n 1)
if [ "${cases:-0}" -lt 1000 ]; then
  echo "the subscriber run ran ${cases:-0} cases; it needs at least 1000 (are the subscriptions and wallet tags there?)" >&2
  exit 1
fi

# Sourced by the scripts that test against `milkrun serve` (bash): starts target/debug/milkrun
# on a fresh data folder and a free loopback port with the bootstrap admin, waits until it
# answers, and stops it (and removes the folder) on exit. Sets $port, $server and $data.
#   start_local_server LOG [serve flags...]
export MILKRUN_ADMIN_EMAIL=admin@milkrun.test MILKRUN_ADMIN_PASSWORD=local-admin-password

stop_local_server() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }

start_local_server() {
  local log=$1
  shift
  data=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ./target/debug/milkrun serve "$@" --addr "127.0.0.1:$port" --data "$data" > "$log" 2>&1 &
  server=$!
  trap stop_local_server EXIT
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/openapi.json" >/dev/null && return 0
    sleep 0.2
  done
  echo "milkrun serve did not answer on port $port (see $log)" >&2
  return 1
}

#!/usr/bin/env bash
# Login p50/p99 before and after a change, side by side in one run (this machine is shared and
# noisy): `milkrun serve` built in its local profile (release before it existed) at REV (in a git worktree, its own target folder)
# and at the working tree, each started on a fresh data folder, 1,000 logins by this tree's
# milkrun-bench at concurrency 1 and 4, alternating before/after, ROUNDS times. Loopback only.
#   bash bench/login_before_after.sh [REV=4c84cac] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-4c84cac} rounds=${2:-2}
before_tree=target/before-$rev
[ -d "$before_tree" ] || git worktree add --detach "$before_tree" "$rev"
# The local server's profile: `local` where the tree has one (Cargo.toml), else `release`.
profile_of() { if grep -q '^\[profile.local\]' "$1/Cargo.toml"; then echo local; else echo release; fi; }
before_profile=$(profile_of "$before_tree")
CARGO_TARGET_DIR=target/before cargo build --profile "$before_profile" --locked --manifest-path "$before_tree/Cargo.toml" -p milkrun
cargo build --profile local --locked -p milkrun -p milkrun-bench
declare -A binary=([before]=target/before/$before_profile/milkrun [after]=target/local/milkrun)
server=""
trap '[ -z "$server" ] || kill "$server" 2>/dev/null || true' EXIT
for round in $(seq 1 "$rounds"); do
  for concurrency in 1 4; do
    for side in before after; do
      data=$(mktemp -d)
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      RUST_LOG=warn MILKRUN_ADMIN_EMAIL='' "${binary[$side]}" serve --addr "127.0.0.1:$port" --data "$data" >/dev/null 2>&1 &
      server=$!
      for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/openapi.json" >/dev/null && break; sleep 0.1; done
      figures=$(./target/local/milkrun-bench login --base-url "http://127.0.0.1:$port" --requests 1000 \
        --concurrency "$concurrency" | tail -n 1)
      echo "round $round, $side ($rev → working tree), $figures"
      kill "$server"; wait "$server" 2>/dev/null || true; server=""
      rm -rf "$data"
    done
  done
done

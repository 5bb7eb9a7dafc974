#!/usr/bin/env bash
# Checkout latency and throughput before and after a change, side by side in one run (this
# machine is shared and noisy): milkrun-bench built in its local profile (release before it existed) at REV (in a git worktree,
# its own target folder) and at the working tree, alternating before/after, ROUNDS times;
# each run is `milkrun-bench checkout` over a fresh temporary data folder (bench/README.md,
# "Checkout"), its latency table kept. Loopback only; no network.
#   bash bench/checkout_before_after.sh [REV=main] [ROUNDS=2] [extra checkout flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-main} rounds=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
# BEFORE_BIN: a milkrun-bench of REV built earlier, instead of building one here.
if [ -z "${BEFORE_BIN:-}" ]; then
  before_tree=target/before-checkout
  [ -d "$before_tree" ] || git worktree add --detach "$before_tree" "$rev"
  # The bench's profile: `local` where the tree has one (Cargo.toml), else `release`.
  profile=release
  if grep -q '^\[profile.local\]' "$before_tree/Cargo.toml"; then profile=local; fi
  CARGO_TARGET_DIR=target/before cargo build --profile "$profile" --locked --manifest-path "$before_tree/Cargo.toml" -p milkrun-bench
  BEFORE_BIN=target/before/$profile/milkrun-bench
fi
cargo build --profile local --locked -p milkrun-bench
declare -A binary=([before]=$BEFORE_BIN [after]=target/local/milkrun-bench)
echo "| run | phase | orders | in flight | 201 answered p50 / p99 | confirmed p50 / p99 / min / max | checkouts/s | order reads (polls) | failed |"
echo "|---|---|---|---|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  for side in before after; do
    # The metered pass measures calls, not time: one checkout keeps it short here.
    "${binary[$side]}" checkout --metered 1 "$@" 2>/dev/null \
      | grep -E '^\| (one at a time|concurrent|sustained) ' \
      | sed "s/^| /| $side ($rev → working tree), round $round | /"
  done
done

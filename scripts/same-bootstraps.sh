#!/usr/bin/env bash
# Proves `sam build` packaged the arm64 build that CI already made instead of making a second:
#   same-bootstraps.sh before   records when cargo last linked each function's binary
#   same-bootstraps.sh after    checks that cargo linked none of them again, and that each
#                               .aws-sam/build/<Function>/bootstrap is that build's binary
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?before or after}
# The arm64 build's target directory (scripts/test.sh gives it its own).
target=${CARGO_TARGET_DIR:-target}
record=$target/arm64-link-times.txt
# What cargo linked last for a binary: its newest deps/<name>-<hash> file and when.
linked() {
  local newest
  newest=$(ls -t "$target"/aarch64-unknown-linux-gnu/release/deps/"${1//-/_}"-* | grep -v '\.d$' | head -1)
  echo "$newest $(stat -c '%y' "$newest")"
}
# "<Function> <binary>" for every rust-cargolambda function of the template.
pairs=$(awk '/^  [A-Za-z0-9]+:$/ { name = substr($1, 1, length($1) - 1) }
             /^        Binary: / { print name, $2 }' template.yaml)
[ -n "$pairs" ] || { echo "no rust-cargolambda function found in template.yaml" >&2; exit 1; }
if [ "$mode" = before ]; then
  while read -r _ binary; do echo "$binary $(linked "$binary")"; done <<< "$pairs" > "$record"
  exit 0
fi
count=0
while read -r function binary; do
  [ "$(grep "^$binary " "$record")" = "$binary $(linked "$binary")" ] \
    || { echo "sam build linked $binary again: the arm64 build was not reused" >&2; exit 1; }
  cmp -s ".aws-sam/build/$function/bootstrap" "$(linked "$binary" | cut -d' ' -f1)" \
    || { echo ".aws-sam/build/$function/bootstrap is not the arm64 build's $binary" >&2; exit 1; }
  count=$((count + 1))
done <<< "$pairs"
echo "sam build packaged the arm64 build's binaries, linked once, for all $count functions"

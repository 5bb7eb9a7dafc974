#!/usr/bin/env bash
# Fails when a test build would resolve a dependency with other features than the binaries'
# build: cargo then compiles that dependency, and everything above it, twice (minutes of CI
# and gigabytes of target/). Every cargo command of scripts/test.sh selects the whole
# workspace for this reason; what is left to keep equal is what dev-dependencies switch on.
set -euo pipefail
cd "$(dirname "$0")/.."
# One line per package and feature set ("name vX.Y.Z [f,g]"); a package built for the host
# (build scripts, proc macros) with other features than for the target has two lines.
features() { cargo tree --workspace --locked -e "$1" -f '{p} [{f}]' --prefix none |
  sed 's/ (\*)//; s/ (proc-macro)//' | grep -v '^$' | sort -u; }
packages() { awk '{ print $1, $2 }' | sort -u; }
binaries=$(features normal,build)
tests=$(features normal,build,dev)
# A package only the tests use is fine; one both use must come with the same feature sets.
shared=$(comm -12 <(packages <<<"$binaries") <(packages <<<"$tests"))
of_shared() { awk 'NR == FNR { keep[$0]; next } ($1 " " $2) in keep' <(echo "$shared") -; }
if ! differ=$(diff <(of_shared <<<"$binaries") <(of_shared <<<"$tests")); then
  echo "these dependencies get other features in test builds (a dev-dependency asks for them):" >&2
  echo "  < binaries' build, > tests' build" >&2
  echo "$differ" | grep '^[<>]' | sed 's/^/  /' >&2
  exit 1
fi
echo "test and binary builds resolve every shared dependency alike ($(echo "$shared" | wc -l) packages)"

#!/usr/bin/env bash
# Fails when a test build would resolve a dependency with other features than the binaries'
# build: cargo then compiles that dependency, and everything above it, twice (minutes of CI
# and gigabytes of target/). Every cargo command of scripts/test.sh selects the whole
# workspace for this reason; what is left to keep equal is what dev-dependencies switch on.
set -euo pipefail
cd "$(dirname "$0")/.."
features() { cargo tree --workspace --locked -e "$1" -f '{p} [{f}]' --prefix none |
  sed 's/ (\*)//; s/ (proc-macro)//' | sort -u; }
binaries=$(features normal,build)
tests=$(features normal,build,dev)
# A package only the tests use is fine; one both use must come with the same features.
differ=$(comm -3 <(echo "$binaries") <(echo "$tests") | sed 's/^\t//' |
  awk '{ print $1, $2 }' | sort | uniq -d)
if [ -n "$differ" ]; then
  echo "these dependencies get other features in test builds (a dev-dependency asks for them):" >&2
  echo "$differ" | while read -r name version; do
    echo "  binaries: $(echo "$binaries" | grep "^$name $version ")" >&2
    echo "  tests:    $(echo "$tests" | grep "^$name $version ")" >&2
  done
  exit 1
fi
echo "test and binary builds resolve every shared dependency alike ($(echo "$tests" | wc -l) packages)"

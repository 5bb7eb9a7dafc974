#!/usr/bin/env bash
# `--test NAME` for each test target of the packages named, for cargo commands that select
# the whole workspace (so that they share one build) yet run only these suites.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --no-deps --locked --format-version 1 | python3 -c '
import json, sys
wanted = set(sys.argv[1:])
packages = {p["name"]: p for p in json.load(sys.stdin)["packages"]}
missing = wanted - packages.keys()
if missing:
    sys.exit(f"no such package: {sorted(missing)}")
everywhere = [t["name"] for p in packages.values() for t in p["targets"] if "test" in t["kind"]]
names = [t["name"] for name in sorted(wanted) for t in packages[name]["targets"] if "test" in t["kind"]]
empty = sorted(name for name in wanted if not any("test" in t["kind"] for t in packages[name]["targets"]))
if empty:
    sys.exit(f"no test targets in {empty}")
shared = sorted(n for n in set(names) if everywhere.count(n) > 1)
if shared:
    sys.exit(f"test targets named alike in other packages would run too: {shared}")
print(" ".join("--test " + n for n in names))
' "$@"

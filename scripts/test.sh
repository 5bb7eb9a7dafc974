#!/usr/bin/env bash
# Every test, from a fresh clone: installs its own tools, then format, lints, unit and
# contract tests (embedded adapters, then AWS adapters on moto), the end-to-end suite on
# `milkrun serve` and on emulated AWS, template checks, and the arm64 Lambda build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never AWS_DEFAULT_REGION=ap-south-1 AWS_REGION=ap-south-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
# A fresh clone builds everything once: incremental state would only cost disk (gigabytes).
export CARGO_INCREMENTAL=0
# SAM must never phone home from CI.
export SAM_CLI_TELEMETRY=0
started=$(date +%s)
step() { printf '\n==== %s  (%ss in)\n' "$*" "$(( $(date +%s) - started ))"; }

step "tools";                     bash scripts/setup-tools.sh
step "format";                    cargo fmt --all --check
# Every cargo command below selects the whole workspace (or a binary by --bin, which does
# too), and test builds switch on no other dependency features: so tests, the local server
# and the functions under `cargo lambda watch` share one debug build of every dependency.
# (Mixed, the steps built the AWS SDK three times over, and the disk of a CI machine ran out.)
step "one build for tests and binaries"; bash scripts/same-features.sh
step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The suites that need a running API or moto are `test = false`, run by name further down:
# --all-targets leaves them out (and overrides any --test beside it), so they are linted
# here by name. On its own line, so that set -e stops if they cannot be named.
server_suites=$(bash scripts/test-targets.sh milkrun-aws milkrun-e2e)
# shellcheck disable=SC2086
cargo clippy --workspace --locked $server_suites -- -D warnings
step "unit, router and embedded contract tests"; cargo test --workspace --locked
step "AWS adapter contract tests on moto"
.venv/bin/python scripts/emulated/test_moto_serial.py
.venv/bin/python scripts/emulated/test_sam_local.py
.venv/bin/python scripts/emulated/test_iam_calls.py
.venv/bin/python scripts/emulated/run.py contract
step "the fault suite's emulated subset: items in moto's DynamoDB"
.venv/bin/python scripts/emulated/run.py faults
step "end to end: milkrun serve";           bash scripts/e2e-local.sh
step "kill -9 and dead letters: milkrun serve"; .venv/bin/python scripts/local_scenarios.py
# Every function of the template, built once for arm64 the way `sam build` asks for it, by
# `--bin` (built by `-p`, the workspace crates came out as different units, and sam relinked
# every function: 13 minutes instead of seconds). It is the longest step after the emulated
# suite, and the emulated suite spends minutes waiting (on moto, which serves one request at a
# time, on access caches to expire, on queues and streams), so the two run side by side, with
# the contract fuzz: the build in its own target directory, so that it never holds (or waits
# on) the lock the emulated suite's cargo commands take. `sam build` below uses it too.
arm64_target="$PWD/target/arm64"
# CI checks that every function cross-compiles and links for arm64 and that sam packages it;
# it does not ship what it builds. So it builds the release profile made cheap (no LTO, 16
# codegen units, opt-level 0), set by cargo's own environment overrides, which `sam build`
# below inherits and so reuses. The shipped profile (Cargo.toml: fat LTO, one codegen unit,
# "z") is what `sam build` makes for a deploy, and its sizes and cold starts are measured in
# bench/README.md. With the shipped profile this build was CI's longest step (~27 min niced).
export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0
bins=$(awk '/^        Binary: /{ printf " --bin %s", $2 }' template.yaml)
step "end to end: emulated AWS, beside it the OpenAPI contract (schemathesis) and the arm64 Lambda build"
# At the lowest CPU and I/O priority: the build takes what the emulated suite leaves idle,
# and never starves moto and the functions under test (at normal priority it did: a round of
# 200 checkouts slowed past its deadline).
# shellcheck disable=SC2086
CARGO_TARGET_DIR="$arm64_target" PATH="$PWD/.venv/bin:$PATH" nice -n 19 ionice -c 3 \
  cargo-lambda lambda build --release --arm64 --locked $bins > target/arm64-build.out 2>&1 &
arm64=$!
bash scripts/contract.sh > target/contract.out 2>&1 &
contract=$!
emulated=0
.venv/bin/python scripts/emulated/run.py e2e || emulated=$?
contract_status=0
wait "$contract" || contract_status=$?
step "the OpenAPI contract (schemathesis --checks all)"
cat target/contract.out
[ "$emulated" -eq 0 ] || { echo "the emulated AWS suite failed" >&2; exit "$emulated"; }
[ "$contract_status" -eq 0 ] || { echo "the OpenAPI contract check failed" >&2; exit "$contract_status"; }
step "asl-validator";             scripts/asl/node_modules/.bin/asl-validator --json-path statemachine/checkout.asl.json
step "cfn-lint";                  .venv/bin/cfn-lint template.yaml
step "sam validate --lint";       .venv/bin/sam validate --lint --template template.yaml
step "arm64 Lambda build (started beside the emulated suite)"
arm64_status=0
wait "$arm64" || arm64_status=$?
tail -n 5 target/arm64-build.out
[ "$arm64_status" -eq 0 ] || { cat target/arm64-build.out; echo "the arm64 build failed" >&2; exit "$arm64_status"; }
export CARGO_TARGET_DIR="$arm64_target"
bash scripts/same-bootstraps.sh before
step "sam build, reusing the arm64 build"
PATH="$PWD/.venv/bin:$PATH" .venv/bin/sam build
bash scripts/same-bootstraps.sh after
step "all checks passed"

#!/usr/bin/env bash
# Installs everything the tests need into the project, never by hand:
# a project-local Python venv (.venv) with cargo-lambda, moto[server], cfn-lint, the SAM
# CLI, schemathesis, openapi-spec-validator and openapi-python-client, asl-validator from
# npm (scripts/asl), plus the arm64 Rust target for Lambda builds. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c 'import moto, cfnlint, samcli, schemathesis, openapi_spec_validator, openapi_python_client' 2>/dev/null || [ ! -x .venv/bin/cargo-lambda ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-tools.txt
fi
# asl-validator for statemachine/checkout.asl.json, pinned by its package-lock.json.
if ! command -v npm >/dev/null; then
  echo "npm (Node.js 20.16 or later) is needed for asl-validator; install Node.js first" >&2
  exit 1
fi
npm ci --prefix scripts/asl --no-audit --no-fund --silent
rustup target add aarch64-unknown-linux-gnu >/dev/null
rustup component add rustfmt clippy >/dev/null 2>&1 || true
echo "tools ready: $(.venv/bin/cargo-lambda lambda --version), moto $(.venv/bin/python -c 'import moto; print(moto.__version__)'), $(.venv/bin/cfn-lint --version), $(.venv/bin/sam --version)"

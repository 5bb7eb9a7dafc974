#!/usr/bin/env bash
# Installs what the cold-start benchmark's Node.js peer needs, never by hand: the Debian
# packages that aws-lambda-ric's native build (aws-lambda-cpp and curl) compiles with, then
# the npm packages pinned by node/package-lock.json. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "the Node.js peer needs node (20) on PATH" >&2; exit 1; }
needed=()
for pair in cmake:cmake autoconf:autoconf automake:automake libtoolize:libtool make:make g++:g++; do
  command -v "${pair%%:*}" >/dev/null || needed+=("${pair#*:}")
done
if [ ${#needed[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi
cd node
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
test -x node_modules/.bin/aws-lambda-ric

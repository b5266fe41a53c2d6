#!/usr/bin/env bash
# infra/test.sh — what `npm test` runs.
#
#   1. install npm dependencies if needed (infra/ensure-deps.sh), build the web console when stale
#      (infra/console-build.sh), install Chromium for its browser tests (infra/browser.sh) and the device
#      firmware's C++ toolchain (infra/device-toolchain.sh)
#   2. lint + typecheck (`npm run lint`) — fail fast, before any daemon starts
#   3. start the local stack: InfluxDB, PostgreSQL and Redis (infra/stack.sh), unless
#      INFLUX_URL / TEST_DATABASE_URL (or DATABASE_URL) / TEST_REDIS_URL point to existing servers
#   4. run `vitest run "$@"` and exit with its status
#
# Services that this script started itself are stopped again on exit, so CI
# leaves no daemons behind; services that were already running are left alone
# (infra/with-stack.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[test] %s\n' "$*" >&2; }

bash infra/ensure-deps.sh
# The web console's bundle (when stale) and Debian's Chromium for its browser tests (tests/console).
bash infra/console-build.sh
bash infra/browser.sh
# C++ toolchain for the device firmware's host build, its unit and glue tests (cmake, g++, libmosquitto, doctest)
# and its JSON fuzz test (clang with libFuzzer).
bash infra/device-toolchain.sh

log "npm run lint"
npm run lint

export SUS_STACK_POSTGRES=1
export SUS_STACK_REDIS=1
log "npx vitest run $*"
exec bash infra/with-stack.sh npx vitest run "$@"

#!/usr/bin/env bash
# infra/test.sh — what `npm test` runs.
#
#   1. install npm dependencies if needed (infra/ensure-deps.sh)
#   2. lint + typecheck (`npm run lint`) — fail fast, before any daemon starts
#   3. start the local stack: InfluxDB and PostgreSQL (infra/stack.sh), unless
#      INFLUX_URL / TEST_DATABASE_URL (or DATABASE_URL) point to existing servers
#   4. run `vitest run "$@"` and exit with its status
#
# Services that this script started itself are stopped again on exit, so CI
# leaves no daemons behind; services that were already running are left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[test] %s\n' "$*" >&2; }

bash infra/ensure-deps.sh
# C++ toolchain for the device firmware's host build and its unit tests (cmake, libmosquitto, doctest).
bash infra/device-toolchain.sh

log "npm run lint"
npm run lint

export SUS_STACK_POSTGRES=1
export SUS_STACK_REDIS=1
started_file="$(mktemp "${TMPDIR:-/tmp}/sus-stack-started.XXXXXX")"

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local services=()
  if [[ -s "$started_file" ]]; then
    mapfile -t services < <(sort -u "$started_file")
  fi
  rm -f "$started_file"
  if [[ ${#services[@]} -gt 0 ]]; then
    log "stopping services started for this test run: ${services[*]}"
    bash infra/stack.sh stop "${services[@]}" || log "WARNING: could not stop ${services[*]}"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stack.sh appends "influx"/"postgres" to this file for each service it
# actually launched (i.e. which was not running before).
SUS_STACK_STARTED_FILE="$started_file" bash infra/stack.sh start
eval "$(bash infra/stack.sh env)"

log "npx vitest run $*"
set +e
npx vitest run "$@"
rc=$?
set -e
exit "$rc"

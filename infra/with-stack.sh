#!/usr/bin/env bash
# infra/with-stack.sh CMD [ARGS…] — runs CMD with the local stack up and its environment loaded
# (INFLUX_URL, INFLUX_API, INFLUX_DB; TEST_DATABASE_URL / TEST_REDIS_URL with SUS_STACK_POSTGRES=1 /
# SUS_STACK_REDIS=1), then exits with CMD's status.
#
# Services this script started itself are stopped again on exit, so CI leaves no daemons behind; services that
# were already running (or that INFLUX_URL / TEST_DATABASE_URL / TEST_REDIS_URL point to) are left alone.
# Used by infra/test.sh (`npm test`) and infra/bench.sh (`npm run bench:*`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[with-stack] %s\n' "$*" >&2; }

[[ $# -gt 0 ]] || {
  log "usage: bash infra/with-stack.sh CMD [ARGS…]"
  exit 2
}

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
    log "stopping services started for this run: ${services[*]}"
    bash infra/stack.sh stop "${services[@]}" || log "WARNING: could not stop ${services[*]}"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stack.sh appends "influx"/"postgres"/"redis" to this file for each service it actually launched.
SUS_STACK_STARTED_FILE="$started_file" bash infra/stack.sh start
eval "$(bash infra/stack.sh env)"

set +e
"$@"
rc=$?
set -e
exit "$rc"

#!/usr/bin/env bash
# infra/bench.sh NAME [args] — what `npm run bench:NAME` runs, from a fresh clone as from a working copy:
#
#   1. install npm dependencies if needed (infra/ensure-deps.sh)
#   2. for the benches that read or write InfluxDB (api, ingest): start the local InfluxDB (infra/stack.sh,
#      SUS_INFLUX_PORT), unless INFLUX_URL points to an existing server, and load its environment
#   3. run tests/bench/NAME.ts, which ends with one JSON line, and exit with its status
#
# A service this script started is stopped again on exit; one that was already running is left alone. The peers
# install themselves on first use: Debian's mosquitto (bench:broker), Node-RED into var/bench (bench:ingest).
# Each bench's own settings (BENCH_MESSAGES, BENCH_ROUNDS, …) are listed in tests/bench/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[bench] %s\n' "$*" >&2; }

name="${1:-}"
[[ $# -gt 0 ]] && shift
# V8 flags as the product runs with (bin/sus.mjs): a 64 MB young generation.
node_args=(--max-semi-space-size=64 --import tsx)
case "$name" in
  api | ingest) needs_influx=1 ;;
  ingest-path | broker) needs_influx=0 ;;
  *)
    log "usage: bash infra/bench.sh api|ingest|ingest-path|broker [args]"
    exit 2
    ;;
esac

bash infra/ensure-deps.sh

if [[ "$needs_influx" == "1" ]]; then
  started_file="$(mktemp "${TMPDIR:-/tmp}/sus-bench-started.XXXXXX")"
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
      log "stopping services started for this bench: ${services[*]}"
      bash infra/stack.sh stop "${services[@]}" || log "WARNING: could not stop ${services[*]}"
    fi
    exit "$rc"
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # InfluxDB only: no bench uses PostgreSQL or Redis, whatever the calling shell asks the stack for.
  SUS_STACK_POSTGRES=0 SUS_STACK_REDIS=0 SUS_STACK_STARTED_FILE="$started_file" bash infra/stack.sh start
  eval "$(SUS_STACK_POSTGRES=0 SUS_STACK_REDIS=0 bash infra/stack.sh env)"
fi

log "node tests/bench/$name.ts $*"
set +e
node "${node_args[@]}" "tests/bench/$name.ts" "$@"
rc=$?
set -e
exit "$rc"

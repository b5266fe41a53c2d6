#!/usr/bin/env bash
# infra/bench.sh NAME [args] — what `npm run bench:NAME` runs, from a fresh clone as from a working copy:
#
#   1. install npm dependencies if needed (infra/ensure-deps.sh)
#   2. for the benches that read or write InfluxDB (api, ingest): start the local InfluxDB (infra/stack.sh,
#      SUS_INFLUX_PORT), unless INFLUX_URL points to an existing server, and load its environment
#      (infra/with-stack.sh, which stops again what it started; what was already running is left alone)
#   3. bench:broker only: compile the platform to dist/ (infra/build.sh), as a production node runs
#   4. run tests/bench/NAME.ts, which ends with one JSON line, and exit with its status
#
# The peers install themselves on first use: Debian's mosquitto (bench:broker), Node-RED into var/bench
# (bench:ingest); so does bench:api's load generator, Debian's wrk (infra/install-wrk.sh; autocannon when it cannot).
# Each bench's own settings (BENCH_MESSAGES, BENCH_ROUNDS, …) are listed in tests/bench/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[bench] %s\n' "$*" >&2; }

name="${1:-}"
[[ $# -gt 0 ]] && shift
# V8 flags as the product runs with (bin/sus.mjs): a 64 MB young generation.
node_args=(--max-semi-space-size=64 --import tsx)
needs_postgres=0
case "$name" in
  api | ingest) needs_influx=1 ;;
  # The broker runs a second time with PostgreSQL as its registry (the scale-out case): the stack starts one.
  broker) needs_influx=0 needs_postgres=1 ;;
  # bench:alerts runs `sus broker` nodes writing into InfluxDB, like bench:ingest.
  alerts) needs_influx=1 ;;
  ingest-path | alerts-path) needs_influx=0 ;;
  *)
    log "usage: bash infra/bench.sh api|ingest|ingest-path|broker|alerts|alerts-path [args]"
    exit 2
    ;;
esac

bash infra/ensure-deps.sh
# bench:broker measures a `sus broker` node as a city runs it: compiled (bin/sus.mjs runs dist/ while it is fresh).
[[ "$name" == "broker" ]] && bash infra/build.sh

log "node tests/bench/$name.ts $*"
if [[ "$needs_influx" == "1" ]]; then
  # InfluxDB only: no bench uses PostgreSQL or Redis, whatever the calling shell asks the stack for.
  SUS_STACK_POSTGRES=0 SUS_STACK_REDIS=0 exec bash infra/with-stack.sh node "${node_args[@]}" "tests/bench/$name.ts" "$@"
fi
if [[ "$needs_postgres" == "1" ]]; then
  SUS_STACK_POSTGRES=1 SUS_STACK_REDIS=0 exec bash infra/with-stack.sh node "${node_args[@]}" "tests/bench/$name.ts" "$@"
fi
exec node "${node_args[@]}" "tests/bench/$name.ts" "$@"

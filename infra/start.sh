#!/usr/bin/env bash
# infra/start.sh — what `npm start` runs: dependencies, local InfluxDB (unless
# INFLUX_URL is set), then the SUS demo (`sus run --demo`) in the foreground.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash infra/ensure-deps.sh
bash infra/console-build.sh
external_influx="${INFLUX_URL:-}"
bash infra/stack.sh start
eval "$(bash infra/stack.sh env)"

if [[ -z "$external_influx" ]]; then
  printf '[start] InfluxDB (%s) keeps running after SUS exits; stop it with: npm run stack:stop\n' "$INFLUX_URL" >&2
fi

# exec: Ctrl-C / SIGTERM go straight to node.
exec bin/sus.mjs run --demo "$@"

#!/usr/bin/env bash
# infra/console-build.sh — build the web console (console/ → console/dist, served by the API at /) when the
# bundle is missing or older than its sources, the Vite config or package-lock.json. `--force` always builds.
# npm start and npm test run it (after infra/ensure-deps.sh); tests/console builds through it too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[console] %s\n' "$*" >&2; }

stamp=console/dist/index.html
if [[ "${1:-}" != "--force" && -f "$stamp" ]] &&
  [[ -z "$(find console/src console/index.html console/vite.config.ts package-lock.json -newer "$stamp" -print -quit)" ]]; then
  exit 0
fi
log "building the web console (vite)"
# Into a fresh folder, then swapped in: a running API or a parallel test never sees a half-written bundle.
tmp="dist.$$"
trap 'rm -rf "console/$tmp"' EXIT
npx vite build --config console/vite.config.ts --outDir "$tmp"
rm -rf console/dist
mv "console/$tmp" console/dist

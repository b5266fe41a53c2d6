#!/usr/bin/env bash
# infra/ensure-deps.sh — install npm dependencies when they are missing or stale.
#
# Runs `npm ci` (or `npm install` when there is no package-lock.json) if
# node_modules is missing, or package-lock.json is newer than npm's record of
# the last install (node_modules/.package-lock.json). Otherwise does nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[deps] %s\n' "$*" >&2; }

command -v npm >/dev/null 2>&1 || {
  log "ERROR: npm not found; install Node.js 20+ (it ships npm)"
  exit 1
}

reason=""
if [[ ! -d node_modules ]]; then
  reason="node_modules is missing"
elif [[ -f package-lock.json && ! -f node_modules/.package-lock.json ]]; then
  reason="node_modules/.package-lock.json is missing"
elif [[ -f package-lock.json && package-lock.json -nt node_modules/.package-lock.json ]]; then
  reason="package-lock.json is newer than node_modules"
elif [[ ! -f package-lock.json && package.json -nt node_modules ]]; then
  reason="package.json is newer than node_modules"
fi

if [[ -z "$reason" ]]; then
  exit 0
fi

if [[ -f package-lock.json ]]; then
  log "$reason: running npm ci"
  npm ci --no-audit --no-fund
else
  log "$reason: running npm install (no package-lock.json)"
  npm install --no-audit --no-fund
fi

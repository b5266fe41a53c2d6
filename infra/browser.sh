#!/usr/bin/env bash
# infra/browser.sh — make sure Debian's Chromium is there for the console's browser tests (tests/console, driven
# by playwright-core; no browser is downloaded). Installs it when missing (root + Debian, like infra/stack.sh),
# otherwise says what to install. Quiet when present. CHROMIUM_PATH points the tests at another binary.
set -euo pipefail

log() { printf '[browser] %s\n' "$*" >&2; }

bin="${CHROMIUM_PATH:-$(command -v chromium || command -v chromium-browser || true)}"
[[ -n "$bin" && -x "$bin" ]] && exit 0
if [[ -f /etc/debian_version && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian's chromium (browser tests of the web console)"
  apt-get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null; }
  exit 0
fi
log "ERROR: no chromium found: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH"
exit 1

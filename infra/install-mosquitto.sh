#!/usr/bin/env bash
# infra/install-mosquitto.sh — installs Debian's mosquitto for `npm run bench:broker` (the peer it is measured
# against). Only the binaries are needed: the bench starts its own mosquitto on a free port, so the package's
# system service is kept from starting (policy-rc.d answers 101 "forbidden" during the install).
set -euo pipefail

log() { printf '[install-mosquitto] %s\n' "$*" >&2; }

if command -v mosquitto >/dev/null 2>&1 && command -v mosquitto_passwd >/dev/null 2>&1; then
  exit 0
fi
if [[ "$(id -u)" != "0" ]] || ! [[ -f /etc/debian_version ]] || ! command -v apt-get >/dev/null 2>&1; then
  log "mosquitto is not installed; install it (Debian: sudo apt-get install mosquitto) and run the bench again"
  exit 1
fi
created_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\n# temporary, created by SUS infra/install-mosquitto.sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { if [[ "$created_policy" == "1" ]]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
log "installing Debian package 'mosquitto'…"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto >/dev/null 2>&1; then
  apt-get update -q >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto >/dev/null
fi
log "installed $(mosquitto -h 2>/dev/null | head -n1 || echo mosquitto)"

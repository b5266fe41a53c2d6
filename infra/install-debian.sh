#!/usr/bin/env bash
# infra/install-debian.sh PACKAGE COMMAND… — installs a Debian package whose commands the benches and tests run
# themselves (mosquitto for bench:broker and the sus ingest tests, haproxy for the deployment tests, wrk for
# bench:api), when one of COMMAND is missing. Only the binaries are needed: the package's system service is kept
# from starting (policy-rc.d answers 101 "forbidden" during the install); whoever needs the program starts its own.
set -euo pipefail

pkg="${1:?usage: infra/install-debian.sh PACKAGE COMMAND…}"
shift
log() { printf '[install-%s] %s\n' "$pkg" "$*" >&2; }

missing=0
for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing=1; done
[[ "$missing" == "0" ]] && exit 0
if [[ "$(id -u)" != "0" ]] || ! [[ -f /etc/debian_version ]] || ! command -v apt-get >/dev/null 2>&1; then
  log "$pkg is not installed; install it (Debian: sudo apt-get install $pkg) and run again"
  exit 1
fi
created_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\n# temporary, created by SUS infra/install-debian.sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { if [[ "$created_policy" == "1" ]]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
log "installing Debian package '$pkg'…"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null 2>&1; then
  apt-get update -q >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null
fi
log "installed $pkg"

#!/usr/bin/env bash
# infra/install-debian-tool.sh PACKAGE COMMAND PURPOSE — installs a Debian package whose binary a test or bench
# starts itself on a free port (mosquitto for bench:broker, haproxy for tests/cluster). Only the binaries are
# needed, so the package's system service is kept from starting (policy-rc.d answers 101 "forbidden" during the
# install). Exits 0 at once when COMMAND is already there; 1 when it is not and this is not root on Debian.
set -euo pipefail

pkg="$1"
cmd="$2"
purpose="$3"
log() { printf '[install-%s] %s\n' "$pkg" "$*" >&2; }

if command -v "$cmd" >/dev/null 2>&1; then
  exit 0
fi
if [[ "$(id -u)" != "0" ]] || ! [[ -f /etc/debian_version ]] || ! command -v apt-get >/dev/null 2>&1; then
  log "$pkg is not installed; install it (Debian: sudo apt-get install $pkg) and run $purpose again"
  exit 1
fi
created_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\n# temporary, created by SUS infra/install-debian-tool.sh\nexit 101\n' >/usr/sbin/policy-rc.d
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

#!/usr/bin/env bash
# infra/install-mosquitto.sh — installs Debian's mosquitto for `npm run bench:broker` (the peer it is measured
# against) and the `sus ingest` tests (the city's broker); each starts its own mosquitto on a free port.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-debian.sh" mosquitto mosquitto mosquitto_passwd

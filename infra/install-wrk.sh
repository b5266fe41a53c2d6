#!/usr/bin/env bash
# infra/install-wrk.sh — installs Debian's wrk, bench:api's load generator (tests/bench/api-load-wrk.ts): a C client
# on epoll that, unlike autocannon, is not the limit of what it measures on 2 cores.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-debian.sh" wrk wrk

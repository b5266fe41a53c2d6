#!/usr/bin/env bash
# infra/install-haproxy.sh — installs Debian's HAProxy for the deployment tests (`haproxy -c -f` checks the
# multi-node Compose file's haproxy.cfg) and the cluster tests, which start their own HAProxy.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-debian.sh" haproxy haproxy

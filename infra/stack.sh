#!/usr/bin/env bash
# infra/stack.sh — start/stop the local backing services of SUS.
#
#   bash infra/stack.sh start            start InfluxDB (+ PostgreSQL when SUS_STACK_POSTGRES=1,
#                                        + Redis when SUS_STACK_REDIS=1: broker cluster-mode tests)
#   bash infra/stack.sh stop [influx|postgres|redis]...
#                                        stop what this script started (default: everything)
#   bash infra/stack.sh status           show what is running
#   bash infra/stack.sh env              print `export …` lines: eval "$(bash infra/stack.sh env)"
#
# All diagnostics go to stderr (prefixed "[stack]"); only `env` writes to stdout.
# See infra/README.md for the environment variables.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[stack] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# ---------------------------------------------------------------- settings --
DATA_DIR_RAW="${SUS_DATA_DIR:-./var}"
case "$DATA_DIR_RAW" in
  /*) DATA_DIR="$DATA_DIR_RAW" ;;
  *) DATA_DIR="$ROOT/${DATA_DIR_RAW#./}" ;;
esac
DATA_DIR="${DATA_DIR%/}"
LOG_DIR="$DATA_DIR/log"

INFLUX_PORT="${SUS_INFLUX_PORT:-8086}"
INFLUX_RPC_PORT=$((INFLUX_PORT + 2))
INFLUX_DBNAME="${INFLUX_DB:-sus}"
INFLUX_DIR="$DATA_DIR/influxdb"
INFLUX_CONF="$INFLUX_DIR/influxdb.conf"
INFLUX_PIDFILE="$INFLUX_DIR/influxd.pid"
INFLUX_LOG="$LOG_DIR/influxd.log"
INFLUX_LOCAL_URL="http://127.0.0.1:$INFLUX_PORT"

# Default ports below 32768: inside Linux's ephemeral range (32768-60999) an outgoing connection can hold the
# port at start-up and the server fails to bind.
PG_PORT="${SUS_PG_PORT:-15432}"
PG_DATA="$DATA_DIR/postgres"
PG_LOG="$LOG_DIR/postgres.log"
PG_SUPERUSER="sus"
PG_TEST_DB="sus_test"

REDIS_PORT="${SUS_REDIS_PORT:-16379}"
REDIS_DIR="$DATA_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$LOG_DIR/redis.log"
REDIS_LOCAL_URL="redis://127.0.0.1:$REDIS_PORT"

[[ "$REDIS_PORT" =~ ^[0-9]+$ ]] || die "SUS_REDIS_PORT must be a number (got '$REDIS_PORT')"
[[ "$INFLUX_PORT" =~ ^[0-9]+$ ]] || die "SUS_INFLUX_PORT must be a number (got '$INFLUX_PORT')"
[[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "SUS_PG_PORT must be a number (got '$PG_PORT')"

PG_LOCAL_URL="postgres://$PG_SUPERUSER@127.0.0.1:$PG_PORT/$PG_TEST_DB"

# Which services are part of this stack (given the current environment)?
# A URL that points at this stack's own service (e.g. after an earlier
# `eval "$(bash infra/stack.sh env)"` in the same shell) does not count as
# external, so re-running start/status/env in that shell still works.
external_influx() { [[ -n "${INFLUX_URL:-}" && "${INFLUX_URL%/}" != "$INFLUX_LOCAL_URL" ]]; }
external_postgres() {
  [[ -n "${DATABASE_URL:-}" ]] ||
    [[ -n "${TEST_DATABASE_URL:-}" && "$TEST_DATABASE_URL" != "$PG_LOCAL_URL" ]]
}
want_influx() { ! external_influx; }
want_postgres() { [[ "${SUS_STACK_POSTGRES:-0}" == "1" ]] && ! external_postgres; }
external_redis() { [[ -n "${TEST_REDIS_URL:-}" && "$TEST_REDIS_URL" != "$REDIS_LOCAL_URL" ]]; }
want_redis() { [[ "${SUS_STACK_REDIS:-0}" == "1" ]] && ! external_redis; }

# When set (by infra/test.sh), the names of the services this invocation
# actually started ("influx", "postgres") are appended to this file.
record_started() {
  if [[ -n "${SUS_STACK_STARTED_FILE:-}" ]]; then
    printf '%s\n' "$1" >>"$SUS_STACK_STARTED_FILE"
  fi
}

# ------------------------------------------------------------------ helpers --
# HTTP via node's built-in fetch (node is always present; curl may not be).
# Exit 0 when an InfluxDB answers /ping with 204.
influx_ping() {
  node -e '
    fetch(process.argv[1] + "/ping", { signal: AbortSignal.timeout(2000) })
      .then((r) => process.exit(r.status === 204 && r.headers.has("x-influxdb-version") ? 0 : 1))
      .catch(() => process.exit(1));
  ' "$1" 2>/dev/null
}

# influx_query URL QUERY — POST an InfluxQL statement, fail on HTTP or query errors.
influx_query() {
  # shellcheck disable=SC2016 # JavaScript template literal, not shell
  node -e '
    const [url, q] = process.argv.slice(1);
    fetch(url + "/query", {
      method: "POST",
      body: new URLSearchParams({ q }),
      signal: AbortSignal.timeout(10000),
    })
      .then(async (r) => {
        const text = await r.text();
        if (!r.ok || /"error"\s*:/.test(text)) {
          console.error(`HTTP ${r.status}: ${text.trim()}`);
          process.exit(1);
        }
      })
      .catch((e) => {
        console.error(String(e));
        process.exit(1);
      });
  ' "$1" "$2"
}

# pid_alive PID NAME — is PID a live process whose command line mentions NAME?
# (guards against acting on a recycled pid from a stale pid file)
pid_alive() {
  local pid="$1" name="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name" || return 1
  fi
  return 0
}

read_pidfile() {
  local f="$1"
  [[ -f "$f" ]] || return 1
  local pid
  pid="$(head -n1 "$f" 2>/dev/null || true)"
  [[ -n "$pid" ]] || return 1
  printf '%s\n' "$pid"
}

is_debian_like() { [[ -f /etc/debian_version ]] && command -v apt-get >/dev/null 2>&1; }

APT_POLICY_CREATED=0
cleanup_apt_policy() {
  if [[ "$APT_POLICY_CREATED" == "1" ]]; then
    rm -f /usr/sbin/policy-rc.d
    APT_POLICY_CREATED=0
  fi
}
trap cleanup_apt_policy EXIT

# apt_install PACKAGE HINT — install a Debian package (root + Debian/Ubuntu only).
apt_install() {
  local pkg="$1" hint="$2"
  if [[ "$(id -u)" != "0" ]] || ! is_debian_like; then
    die "$hint"
  fi
  # Keep the package's maintainer scripts from starting the system-wide
  # service (it would grab the default port and outlive our stack): the
  # standard Debian mechanism is a policy-rc.d that answers 101 ("forbidden").
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, created by SUS infra/stack.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    APT_POLICY_CREATED=1
  fi
  log "installing Debian package '$pkg' (apt-get; log: $LOG_DIR/apt-$pkg.log)…"
  local apt_log="$LOG_DIR/apt-$pkg.log"
  : >"$apt_log"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >>"$apt_log" 2>&1; then
    log "apt-get install failed; running apt-get update and retrying…"
    apt-get update -q >>"$apt_log" 2>&1 || log "apt-get update reported errors (see $apt_log)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >>"$apt_log" 2>&1; then
      tail -n 20 "$apt_log" >&2 || true
      die "could not install '$pkg' (see $apt_log). $hint"
    fi
  fi
  cleanup_apt_policy
  log "installed '$pkg' (a note from its post-install script that it could not start a service is expected)"
}

# ----------------------------------------------------------------- InfluxDB --
INFLUX_HINT="InfluxDB (influxd) is not installed. Install InfluxDB 1.x (Debian: apt-get install influxdb) or set INFLUX_URL to an existing server (plus INFLUX_API, INFLUX_DB / INFLUX_TOKEN, INFLUX_ORG as needed)."

write_influx_conf() {
  mkdir -p "$INFLUX_DIR/meta" "$INFLUX_DIR/data" "$INFLUX_DIR/wal"
  # One template for this stack and the tests' private servers (tests/helpers/influxd.ts), so they cannot drift.
  local conf
  conf="$(<"$ROOT/infra/influxdb.conf.template")"
  conf="${conf//@DIR@/$INFLUX_DIR}"
  conf="${conf//@RPC_PORT@/$INFLUX_RPC_PORT}"
  conf="${conf//@HTTP_PORT@/$INFLUX_PORT}"
  conf="${conf//@RETENTION_CHECK_INTERVAL@/30m}"
  conf="${conf//@LOG_LEVEL@/warn}"
  printf '%s\n' "$conf" >"$INFLUX_CONF"
}

influx_pid() {
  local pid
  pid="$(read_pidfile "$INFLUX_PIDFILE")" || return 1
  pid_alive "$pid" influxd || return 1
  printf '%s\n' "$pid"
}

ensure_influx_db() {
  influx_query "$INFLUX_LOCAL_URL" "CREATE DATABASE \"${INFLUX_DBNAME//\"/\\\"}\"" ||
    die "could not create InfluxDB database '$INFLUX_DBNAME' on $INFLUX_LOCAL_URL"
  log "InfluxDB database '$INFLUX_DBNAME' is ready"
}

start_influx() {
  if ! want_influx; then
    log "INFLUX_URL is set ($INFLUX_URL): using that external InfluxDB, not starting one"
    return 0
  fi
  if influx_ping "$INFLUX_LOCAL_URL"; then
    local pid
    if pid="$(influx_pid)"; then
      log "InfluxDB already running on $INFLUX_LOCAL_URL (pid $pid)"
    else
      log "InfluxDB already running on $INFLUX_LOCAL_URL (not started by this script)"
    fi
    ensure_influx_db
    return 0
  fi

  if ! command -v influxd >/dev/null 2>&1; then
    apt_install influxdb "$INFLUX_HINT"
    command -v influxd >/dev/null 2>&1 || die "influxd still not found after installing. $INFLUX_HINT"
  fi

  local pid launched=0
  if pid="$(influx_pid)"; then
    # Ours, alive, but not answering (yet): give it the usual grace period below.
    log "influxd (pid $pid) is running but not answering on $INFLUX_LOCAL_URL yet; waiting…"
  else
    rm -f "$INFLUX_PIDFILE"
    write_influx_conf
    log "starting influxd on $INFLUX_LOCAL_URL (data: $INFLUX_DIR, log: $INFLUX_LOG)"
    # Fully detached: own session (Ctrl-C in the caller's terminal does not
    # reach it), stdin from /dev/null, stdout/stderr to the log file, so a
    # harness waiting for our stdout to close is not blocked. The inner shell
    # records its own pid and then execs influxd (correct even if setsid forks).
    local launcher=()
    if command -v setsid >/dev/null 2>&1; then launcher=(setsid); fi
    # shellcheck disable=SC2016 # expanded by the inner sh
    "${launcher[@]}" nohup sh -c 'echo $$ >"$1"; shift; exec "$@"' sh \
      "$INFLUX_PIDFILE" influxd -config "$INFLUX_CONF" \
      </dev/null >>"$INFLUX_LOG" 2>&1 &
    disown 2>/dev/null || true
    launched=1
  fi

  local i
  for ((i = 0; i < 60; i++)); do
    if influx_ping "$INFLUX_LOCAL_URL"; then
      pid="$(influx_pid || echo '?')"
      log "InfluxDB is up on $INFLUX_LOCAL_URL (pid $pid)"
      if [[ "$launched" == "1" ]]; then record_started influx; fi
      ensure_influx_db
      return 0
    fi
    if ((i > 2)) && ! influx_pid >/dev/null; then
      tail -n 20 "$INFLUX_LOG" >&2 || true
      rm -f "$INFLUX_PIDFILE"
      die "influxd exited during startup (see $INFLUX_LOG; port $INFLUX_PORT or $INFLUX_RPC_PORT in use?)"
    fi
    sleep 0.5
  done
  tail -n 20 "$INFLUX_LOG" >&2 || true
  die "InfluxDB did not answer $INFLUX_LOCAL_URL/ping within 30 s (see $INFLUX_LOG)"
}

stop_influx() {
  local pid
  if ! pid="$(influx_pid)"; then
    rm -f "$INFLUX_PIDFILE"
    log "InfluxDB: not running (no live pid file in $INFLUX_DIR)"
    return 0
  fi
  log "stopping influxd (pid $pid)…"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 20; i++)); do
    pid_alive "$pid" influxd || break
    sleep 0.5
  done
  if pid_alive "$pid" influxd; then
    log "influxd did not stop within 10 s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$INFLUX_PIDFILE"
  log "InfluxDB stopped"
}

status_influx() {
  if ! want_influx; then
    log "InfluxDB: external ($INFLUX_URL)"
    return 0
  fi
  local pid
  if pid="$(influx_pid)"; then
    if influx_ping "$INFLUX_LOCAL_URL"; then
      log "InfluxDB: running on $INFLUX_LOCAL_URL (pid $pid, data $INFLUX_DIR)"
    else
      log "InfluxDB: process $pid alive but not answering on $INFLUX_LOCAL_URL"
    fi
  elif influx_ping "$INFLUX_LOCAL_URL"; then
    log "InfluxDB: something answers on $INFLUX_LOCAL_URL (not started by this script from $DATA_DIR)"
  else
    log "InfluxDB: not running"
  fi
}

# --------------------------------------------------------------- PostgreSQL --
PG_HINT="PostgreSQL server binaries are not installed. Install PostgreSQL (Debian: apt-get install postgresql) or set TEST_DATABASE_URL to an existing database (postgres://user:pass@host:port/db)."
PG_BIN=""
PG_USER=""

find_pg_bin() {
  local best
  # Highest installed version (sort -V: 9 < 10 < 15).
  best="$(for d in /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/pg_ctl" && -x "$d/initdb" ]]; then printf '%s\n' "$d"; fi
  done | sort -V | tail -n1)"
  if [[ -z "$best" ]] && command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    best="$(dirname "$(command -v pg_ctl)")"
  fi
  [[ -n "$best" ]] || return 1
  PG_BIN="$best"
}

# Decide which OS user runs the server. PostgreSQL refuses to run as root,
# so as root we use the `postgres` system user (created by the Debian
# package), or create a dedicated system user `sus-pg` if that is missing.
# As a normal user the server simply runs as that user.
pick_pg_user() {
  if [[ "$(id -u)" != "0" ]]; then
    PG_USER="$(id -un)"
    return 0
  fi
  if id -u postgres >/dev/null 2>&1; then
    PG_USER=postgres
  else
    if ! id -u sus-pg >/dev/null 2>&1; then
      log "creating system user 'sus-pg' to run PostgreSQL (it refuses to run as root)"
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sus-pg ||
        die "could not create system user 'sus-pg'"
    fi
    PG_USER=sus-pg
  fi
}

# Run a command as the PostgreSQL OS user, from a directory it can read.
as_pg() {
  if [[ "$(id -u)" == "0" ]]; then
    (cd / && runuser -u "$PG_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

# The server user must be able to traverse every parent of the data dir.
ensure_traversable() {
  [[ "$(id -u)" == "0" ]] || return 0
  local dir="$1" chain=() i
  while [[ "$dir" != "/" && -n "$dir" ]]; do
    chain=("$dir" "${chain[@]}")
    dir="$(dirname "$dir")"
  done
  # Top-down, so each check only fails for the directory itself.
  for ((i = 0; i < ${#chain[@]}; i++)); do
    if ! runuser -u "$PG_USER" -- test -x "${chain[i]}" 2>/dev/null; then
      log "making ${chain[i]} traversable (o+x) so that '$PG_USER' can reach the PostgreSQL data dir"
      chmod o+x "${chain[i]}"
    fi
  done
}

pg_running() {
  [[ -n "$PG_BIN" && -f "$PG_DATA/PG_VERSION" ]] || return 1
  as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

pg_conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

write_pg_conf() {
  # Regenerated on every start so SUS_PG_PORT changes take effect.
  local sockdir="$PG_DATA"
  if ((${#sockdir} + 20 > 107)); then
    log "data dir path too long for a unix socket; unix sockets disabled (TCP only)"
    sockdir=""
  fi
  cat >"$PG_DATA/sus-stack.conf" <<EOF
# Generated by infra/stack.sh — overwritten on every start; do not edit.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = $(pg_conf_quote "$sockdir")
EOF
  chown "$PG_USER" "$PG_DATA/sus-stack.conf" 2>/dev/null || true
}

pg_psql() {
  PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" "$@"
}

ensure_pg_db() {
  local exists
  exists="$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_TEST_DB'")" ||
    die "could not connect to PostgreSQL on 127.0.0.1:$PG_PORT as '$PG_SUPERUSER'"
  if [[ "$exists" != "1" ]]; then
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" "$PG_TEST_DB" ||
      die "could not create database '$PG_TEST_DB'"
    log "created PostgreSQL database '$PG_TEST_DB'"
  else
    log "PostgreSQL database '$PG_TEST_DB' is ready"
  fi
}

start_postgres() {
  if [[ "${SUS_STACK_POSTGRES:-0}" != "1" ]]; then
    return 0
  fi
  if external_postgres; then
    log "TEST_DATABASE_URL/DATABASE_URL is set: using that PostgreSQL, not starting one"
    return 0
  fi
  if ! find_pg_bin; then
    apt_install postgresql "$PG_HINT"
    find_pg_bin || die "PostgreSQL binaries still not found after installing. $PG_HINT"
  fi
  pick_pg_user

  if pg_running; then
    log "PostgreSQL already running (data $PG_DATA)"
    ensure_pg_db
    return 0
  fi
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; then
    die "port $PG_PORT is already used by another PostgreSQL; set SUS_PG_PORT to a free port or TEST_DATABASE_URL to use that server"
  fi

  mkdir -p "$LOG_DIR" "$PG_DATA"
  ensure_traversable "$(dirname "$PG_DATA")"
  if [[ "$(id -u)" == "0" ]]; then chown -R "$PG_USER" "$PG_DATA"; fi
  chmod 700 "$PG_DATA"
  # pg_ctl -l opens the log as the server user: pre-create it with that owner.
  touch "$PG_LOG"
  if [[ "$(id -u)" == "0" ]]; then chown "$PG_USER" "$PG_LOG"; fi

  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "initializing PostgreSQL cluster in $PG_DATA ($PG_BIN, OS user '$PG_USER')"
    # --auth=trust: no passwords. Acceptable ONLY because this is a local
    # development/test server that listens on 127.0.0.1 (and a private unix
    # socket inside the data dir) — never expose it on other interfaces.
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" --auth=trust \
      --encoding=UTF8 --no-locale >>"$PG_LOG" 2>&1 || {
      tail -n 20 "$PG_LOG" >&2 || true
      die "initdb failed (see $PG_LOG)"
    }
    printf "\n# SUS local stack settings (port, listen address, socket dir)\ninclude_if_exists = 'sus-stack.conf'\n" \
      >>"$PG_DATA/postgresql.conf"
  fi
  write_pg_conf

  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (data: $PG_DATA, log: $PG_LOG)"
  # pg_ctl detaches the postmaster (own session, stdin /dev/null, output to -l log).
  if ! as_pg "$PG_BIN/pg_ctl" start -w -t 60 -D "$PG_DATA" -l "$PG_LOG" </dev/null >/dev/null 2>&1; then
    tail -n 20 "$PG_LOG" >&2 || true
    die "PostgreSQL failed to start (see $PG_LOG; port $PG_PORT in use?)"
  fi
  record_started postgres
  ensure_pg_db
}

stop_postgres() {
  if ! find_pg_bin; then
    log "PostgreSQL: not installed, nothing to stop"
    return 0
  fi
  pick_pg_user
  if ! pg_running; then
    log "PostgreSQL: not running (data $PG_DATA)"
    return 0
  fi
  log "stopping PostgreSQL (data $PG_DATA)…"
  as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 30 >/dev/null ||
    die "pg_ctl stop failed (see $PG_LOG)"
  log "PostgreSQL stopped"
}

status_postgres() {
  if external_postgres; then
    log "PostgreSQL: external (TEST_DATABASE_URL/DATABASE_URL is set)"
    return 0
  fi
  if ! find_pg_bin; then
    log "PostgreSQL: binaries not installed"
    return 0
  fi
  pick_pg_user
  if pg_running; then
    local port
    port="$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?')"
    log "PostgreSQL: running on 127.0.0.1:$port (data $PG_DATA)"
  else
    log "PostgreSQL: not running (data $PG_DATA)"
  fi
}

# -------------------------------------------------------------------- Redis --
REDIS_HINT="Redis (redis-server) is not installed. Install it (Debian: apt-get install redis-server) or set TEST_REDIS_URL to an existing server (redis://host:port)."

# redis_ping PORT — exit 0 when a Redis on 127.0.0.1:PORT answers PING with PONG.
redis_ping() {
  node -e '
    const s = require("node:net").connect(Number(process.argv[1]), "127.0.0.1");
    s.setTimeout(2000, () => process.exit(1));
    s.on("error", () => process.exit(1));
    s.on("connect", () => s.write("PING\r\n"));
    s.on("data", (d) => process.exit(d.toString().startsWith("+PONG") ? 0 : 1));
  ' "$1" 2>/dev/null
}

redis_pid() {
  local pid
  pid="$(read_pidfile "$REDIS_PIDFILE")" || return 1
  pid_alive "$pid" redis-server || return 1
  printf '%s\n' "$pid"
}

start_redis() {
  if [[ "${SUS_STACK_REDIS:-0}" != "1" ]]; then
    return 0
  fi
  if external_redis; then
    log "TEST_REDIS_URL is set ($TEST_REDIS_URL): using that Redis, not starting one"
    return 0
  fi
  if redis_ping "$REDIS_PORT"; then
    local pid
    if pid="$(redis_pid)"; then
      log "Redis already running on $REDIS_LOCAL_URL (pid $pid)"
    else
      log "Redis already running on $REDIS_LOCAL_URL (not started by this script)"
    fi
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server "$REDIS_HINT"
    command -v redis-server >/dev/null 2>&1 || die "redis-server still not found after installing. $REDIS_HINT"
  fi
  mkdir -p "$REDIS_DIR" "$LOG_DIR"
  rm -f "$REDIS_PIDFILE"
  log "starting redis-server on $REDIS_LOCAL_URL (dir: $REDIS_DIR, log: $REDIS_LOG)"
  # Test server: loopback only, no persistence to disk (cluster-mode tests need a bus, not durability).
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --daemonize yes \
    --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --save '' --appendonly no </dev/null >>"$LOG_DIR/redis-start.log" 2>&1 ||
    die "redis-server failed to start (see $REDIS_LOG; port $REDIS_PORT in use?)"
  local i
  for ((i = 0; i < 40; i++)); do
    if redis_ping "$REDIS_PORT"; then
      log "Redis is up on $REDIS_LOCAL_URL (pid $(redis_pid || echo '?'))"
      record_started redis
      return 0
    fi
    sleep 0.25
  done
  tail -n 20 "$REDIS_LOG" >&2 || true
  die "Redis did not answer on $REDIS_LOCAL_URL within 10 s (see $REDIS_LOG)"
}

stop_redis() {
  local pid
  if ! pid="$(redis_pid)"; then
    rm -f "$REDIS_PIDFILE"
    log "Redis: not running (no live pid file in $REDIS_DIR)"
    return 0
  fi
  log "stopping redis-server (pid $pid)…"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 20; i++)); do
    pid_alive "$pid" redis-server || break
    sleep 0.25
  done
  if pid_alive "$pid" redis-server; then
    log "redis-server did not stop within 5 s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$REDIS_PIDFILE"
  log "Redis stopped"
}

status_redis() {
  if external_redis; then
    log "Redis: external ($TEST_REDIS_URL)"
    return 0
  fi
  local pid
  if pid="$(redis_pid)"; then
    log "Redis: running on $REDIS_LOCAL_URL (pid $pid)"
  elif redis_ping "$REDIS_PORT"; then
    log "Redis: something answers on $REDIS_LOCAL_URL (not started by this script from $DATA_DIR)"
  else
    log "Redis: not running"
  fi
}

# --------------------------------------------------------------------- main --
usage() {
  cat >&2 <<EOF
usage: bash infra/stack.sh start|stop [influx|postgres|redis]...|status|env
  start   start InfluxDB (unless INFLUX_URL is set) and, with SUS_STACK_POSTGRES=1,
          PostgreSQL (unless TEST_DATABASE_URL/DATABASE_URL is set) and, with
          SUS_STACK_REDIS=1, Redis (unless TEST_REDIS_URL is set)
  stop    stop the services this script started (pid files under $DATA_DIR)
  status  show what runs
  env     print export lines: eval "\$(bash infra/stack.sh env)"
EOF
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift

case "$cmd" in
  start)
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    start_influx
    start_postgres
    start_redis
    ;;
  stop)
    targets=("$@")
    [[ ${#targets[@]} -gt 0 ]] || targets=(influx postgres redis)
    for t in "${targets[@]}"; do
      case "$t" in
        influx | influxdb) stop_influx ;;
        postgres | postgresql | pg) stop_postgres ;;
        redis) stop_redis ;;
        *) die "unknown service '$t' (expected influx, postgres or redis)" ;;
      esac
    done
    ;;
  status)
    log "data dir: $DATA_DIR"
    status_influx
    status_postgres
    status_redis
    ;;
  env)
    if want_influx; then
      printf 'export INFLUX_URL=%q INFLUX_API=v1 INFLUX_DB=%q\n' "$INFLUX_LOCAL_URL" "$INFLUX_DBNAME"
    fi
    if want_postgres; then
      printf 'export TEST_DATABASE_URL=%q\n' "$PG_LOCAL_URL"
    fi
    if want_redis; then
      # REDIS_URL is left to the operator: set here it would put every test platform into cluster mode.
      printf 'export TEST_REDIS_URL=%q\n' "$REDIS_LOCAL_URL"
    fi
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Prints one line on stdout: a PostgreSQL admin URL that may CREATE DATABASE.
#   - If a server answers on 127.0.0.1:5432, uses it (trust auth for the postgres user).
#   - Otherwise starts a throwaway cluster (initdb into a temp dir, trust auth, 127.0.0.1 only)
#     on the first free port from 54329 and prints its URL. A cluster this script started
#     earlier and that is still running is reused.
# Everything else (progress, initdb/pg_ctl output) goes to stderr.
# Stop a throwaway cluster with: pg_ctl -D <data dir printed on stderr> stop
set -euo pipefail

HOST=127.0.0.1
DEFAULT_PORT=5432
FIRST_PORT=54329
LAST_PORT=54339
READY_ATTEMPTS=150 # x 0.2 s = 30 s

log() { printf '[ensure-postgres] %s\n' "$*" >&2; }
url_for() { printf 'postgres://postgres@%s:%s/postgres\n' "$HOST" "$1"; }

find_pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/pg_isready" ]; then
    printf '%s\n' "$dir"
  fi
}

PG_BIN=$(find_pg_bin)
if [ -z "$PG_BIN" ]; then
  log "PostgreSQL binaries not found; installing the postgresql package"
  if [ "$(id -u)" -ne 0 ]; then
    log "need root to apt-get install postgresql"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql >&2
  PG_BIN=$(find_pg_bin)
  if [ -z "$PG_BIN" ]; then
    log "postgresql installed but initdb/pg_ctl/pg_isready are still missing"
    exit 1
  fi
fi

is_ready() { "$PG_BIN/pg_isready" -q -h "$HOST" -p "$1" >/dev/null 2>&1; }

# 1. An already running server on the default port.
if is_ready "$DEFAULT_PORT"; then
  log "using the PostgreSQL server on $HOST:$DEFAULT_PORT"
  url_for "$DEFAULT_PORT"
  exit 0
fi

# 2. A throwaway cluster started by an earlier run of this script.
STATE_DIR=${TMPDIR:-/tmp}/frontdesk-pg
if [ -f "$STATE_DIR/port" ]; then
  port=$(cat "$STATE_DIR/port")
  if is_ready "$port"; then
    log "reusing the throwaway cluster on $HOST:$port (data dir $(cat "$STATE_DIR/datadir"))"
    url_for "$port"
    exit 0
  fi
fi

# 3. Start a new one on the first port nobody listens on.
port_in_use() {
  # pg_isready exits 2 when nothing answers; anything else means something is there.
  local rc=0
  "$PG_BIN/pg_isready" -q -h "$HOST" -p "$1" -t 1 >/dev/null 2>&1 || rc=$?
  [ "$rc" -ne 2 ] && return 0
  # Not a PostgreSQL server, but is the TCP port taken by something else?
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null && return 0
  return 1
}

port=""
for candidate in $(seq "$FIRST_PORT" "$LAST_PORT"); do
  if ! port_in_use "$candidate"; then
    port=$candidate
    break
  fi
done
if [ -z "$port" ]; then
  log "no free port in $FIRST_PORT-$LAST_PORT"
  exit 1
fi

# initdb refuses to run as root: run the server as the postgres user then.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  as_pg=(runuser -u postgres --)
fi

mkdir -p "$STATE_DIR"
work=$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-pg.XXXXXX")
chmod 755 "$work"
if [ ${#as_pg[@]} -gt 0 ]; then chown postgres: "$work"; fi
datadir=$work/data

log "initialising a throwaway cluster in $datadir"
"${as_pg[@]}" "$PG_BIN/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 --no-locale >&2

log "starting it on $HOST:$port (log: $work/postgres.log)"
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$datadir" -l "$work/postgres.log" -W \
  -o "-c listen_addresses=$HOST -p $port -k $work -c fsync=off -c max_connections=200" \
  start >&2

for _ in $(seq "$READY_ATTEMPTS"); do
  if is_ready "$port"; then
    printf '%s\n' "$port" >"$STATE_DIR/port"
    printf '%s\n' "$datadir" >"$STATE_DIR/datadir"
    log "ready; stop it with: ${as_pg[*]} $PG_BIN/pg_ctl -D $datadir stop"
    url_for "$port"
    exit 0
  fi
  sleep 0.2
done

log "PostgreSQL did not become ready; last log lines:"
tail -n 20 "$work/postgres.log" >&2 || true
exit 1

#!/bin/bash
# Start a throw-away PostgreSQL server under ROOT for an Optuna RDB storage (no systemd, trust
# authentication on 127.0.0.1 only), and create database DB.
#
#   tests/cluster/pg_up.sh ROOT [PORT] [DB]   prints the URL: postgresql://postgres@127.0.0.1:PORT/DB
#   tests/cluster/pg_down.sh ROOT
#
# As root the server runs as the `postgres` user (initdb refuses root); ROOT and its parents must be
# reachable by that user. The Python side needs psycopg2 (pip install 'har[postgres]').
set -euo pipefail
ROOT=${1:?usage: pg_up.sh ROOT [PORT] [DB]}
PORT=${2:-55432}
DB=${3:-har}
BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1) # the newest installed
[ -x "$BIN/initdb" ] || { echo "pg_up: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 3; }

mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$ROOT"
as_owner test -w "$ROOT" || { echo "pg_up: $ROOT is not writable by the server's user" >&2; exit 3; }

[ -f "$ROOT/data/PG_VERSION" ] ||
  as_owner "$BIN/initdb" -D "$ROOT/data" -A trust -U postgres --no-sync >"$ROOT/initdb.log" 2>&1
# fsync off: a test database need not survive a power cut, and it makes every commit cheap.
as_owner "$BIN/pg_ctl" -D "$ROOT/data" -l "$ROOT/server.log" -w -t 30 \
  -o "-p $PORT -k $ROOT -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAq \
  -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 ||
  as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
echo "postgresql://postgres@127.0.0.1:$PORT/$DB"

#!/bin/bash
# Stop the PostgreSQL server that pg_up.sh started under ROOT (by its pid file, never by name).
ROOT=${1:?usage: pg_down.sh ROOT}
[ -f "$ROOT/data/postmaster.pid" ] || exit 0
# shellcheck source=tests/cluster/stop_pids.sh
source "$(dirname "${BASH_SOURCE[0]}")/stop_pids.sh"
# postmaster.pid's first line is the server's pid; SIGTERM is PostgreSQL's "smart" shutdown, which
# waits for clients, so SIGINT ("fast": roll back and disconnect them) is sent first.
pid=$(head -n 1 "$ROOT/data/postmaster.pid" | tr -dc 0-9)
[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] && kill -INT "$pid"
stop_pid_files "postgres" "$ROOT/data/postmaster.pid"
echo "postgresql down"

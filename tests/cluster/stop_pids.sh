#!/bin/bash
# stop_pid_files "NAMES" PIDFILE...: SIGTERM the processes named in the pid files, wait up to 10 s,
# then SIGKILL what is left. A pid is signalled only if /proc/PID/comm is one of NAMES, so a stale
# pid file never hits an unrelated process that reused the number.
stop_pid_files() {
  local names=" $1 " pids=() file pid alive
  shift
  for file in "$@"; do
    [ -s "$file" ] || continue
    pid=$(head -n 1 "$file" | tr -dc 0-9)
    [ -n "$pid" ] || continue
    case "$names" in *" $(cat "/proc/$pid/comm" 2>/dev/null) "*) ;; *) continue ;; esac
    kill "$pid" 2>/dev/null && pids+=("$pid")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  for _ in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && { echo "force-killing $pid" >&2; kill -9 "$pid"; }
  done
  return 0
}

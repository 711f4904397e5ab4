#!/bin/bash
# Stop the daemons that slurm_up.sh started under ROOT, by their pid files (never by name).
ROOT=${1:?usage: slurm_down.sh ROOT}
# shellcheck source=tests/cluster/stop_pids.sh
source "$(dirname "${BASH_SOURCE[0]}")/stop_pids.sh"
# All at once: each daemon takes 1.5-3 s to exit after SIGTERM, so one by one costs ~10 s.
stop_pid_files "slurmd slurmctld munged" "$ROOT/slurmd.pid" "$ROOT/slurmctld.pid" "$ROOT/munge/munged.pid"
echo "slurm down"

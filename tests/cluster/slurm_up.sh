#!/bin/bash
# Start a throw-away single-node SLURM cluster under ROOT (munge + slurmctld + slurmd, no systemd,
# nothing written to /etc or /run). Needs root (slurmd launches jobs as their users).
#
#   tests/cluster/slurm_up.sh ROOT        then: export SLURM_CONF=ROOT/slurm.conf
#   tests/cluster/slurm_down.sh ROOT      stops exactly the daemons started here
#
# Ports: SLURMCTLD_PORT (default 6817), SLURMD_PORT (default 6818). Job ids start at 1 for a
# fresh ROOT. Accounting (sacct) is off: poll `squeue -h -j ID` or `scontrol show job ID`.
set -euo pipefail
ROOT=${1:?usage: slurm_up.sh ROOT}
for binary in slurmd slurmctld munged munge sinfo; do
  command -v "$binary" >/dev/null || PATH=$PATH:/usr/sbin
  command -v "$binary" >/dev/null || { echo "slurm_up: $binary not found (apt-get install slurm-wlm)" >&2; exit 3; }
done
[ "$(id -u)" = 0 ] || { echo "slurm_up: must run as root (slurmd starts jobs as their users)" >&2; exit 3; }

mkdir -p "$ROOT"/{state,spool,log,munge/key}
ROOT=$(cd "$ROOT" && pwd)
HOST=$(hostname -s)
# The node's hardware exactly as slurmd detects it (CPUs, Boards, Sockets, Cores, Threads, Memory).
HARDWARE=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')
SOCKET=$ROOT/munge/munge.sock

# A private munged. Its socket dir must be world-executable and the key dir private, with the
# key owned by munge, or munged refuses to start ("Socket is inaccessible").
chown munge:munge "$ROOT/munge" "$ROOT/munge/key"
chmod 0755 "$ROOT" "$ROOT/munge"
chmod 0700 "$ROOT/munge/key"
KEY=$ROOT/munge/key/munge.key
[ -f "$KEY" ] || dd if=/dev/urandom of="$KEY" bs=1024 count=1 status=none
chown munge:munge "$KEY"
chmod 0400 "$KEY"
runuser -u munge -- munged --key-file="$KEY" --socket="$SOCKET" --pid-file="$ROOT/munge/munged.pid" \
  --log-file="$ROOT/munge/munged.log" --seed-file="$ROOT/munge/munged.seed"
munge -S "$SOCKET" -n | unmunge -S "$SOCKET" >/dev/null

cat >"$ROOT/slurm.conf" <<CONF
ClusterName=hartest
SlurmctldHost=$HOST
SlurmUser=root
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool
SlurmctldPidFile=$ROOT/slurmctld.pid
SlurmdPidFile=$ROOT/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$ROOT/log/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=300
NodeName=$HOST NodeAddr=127.0.0.1 $HARDWARE State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$ROOT/slurm.conf

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 150); do
  if [ "$(sinfo -h -n "$HOST" -o %T 2>/dev/null)" = idle ]; then
    echo "slurm up: export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "slurm_up: the node did not become idle" >&2
sinfo >&2 || true
tail -n 20 "$ROOT"/log/*.log >&2 || true
exit 1

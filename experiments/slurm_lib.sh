# shellcheck shell=bash
# Shared by experiments/slurm_trial.sh, slurm_best.sh and slurm_hpo.sh (sourced, never run).
#
# Each launcher has two modes:
#   submit mode (outside a job: `bash experiments/slurm_X.sh`): builds the sbatch command from the
#     resource variables below and submits itself;
#   job mode (inside a job: `sbatch experiments/slurm_X.sh`, or the self-submitted copy): does the
#     work as a job step (`srun`, inside the container when CONTAINER_IMAGE is set).
#
# Resource variables (submit mode; empty means "leave it to the cluster's default"):
#   PARTITION=""  ACCOUNT=""  QOS=""  TIME_LIMIT (per launcher)  NODES=1  GPUS=1 (per node)
#   CPUS=8 (per task)  MEM=32G (per node)  SIGNAL_LEAD_S=300  EXTRA_SBATCH_ARGS=""
# Environment: PYTHON (default: the project's .venv, else python3; `python` in a container),
#   CONTAINER_IMAGE (pyxis/enroot image: every step runs in it), CONTAINER_MOUNTS (extra mounts).
#
# Preemption and time limits: jobs ask for `--signal=B:USR1@$SIGNAL_LEAD_S --requeue`, so SLURM
# signals the batch shell SIGNAL_LEAD_S seconds before the time limit (or on preemption). What
# happens next has one owner per kind of job, see har_run_step.

har_is_project_root() { [ -d "$1/conf" ] && [ -f "$1/experiments/run_trial.py" ]; }

# PROJECT_ROOT: as given, else the submit directory or one of its parents. (Inside a job the script
# runs from a copy in slurmd's spool directory, so its own location says nothing.)
har_find_project_root() {
  local candidate
  if [ -n "${PROJECT_ROOT:-}" ]; then
    har_is_project_root "$PROJECT_ROOT" || har_die "PROJECT_ROOT=$PROJECT_ROOT has no conf/ and experiments/run_trial.py"
    PROJECT_ROOT=$(cd "$PROJECT_ROOT" && pwd)
    return
  fi
  for candidate in "${HAR_SCRIPT_DIR:-}/.." "${SLURM_SUBMIT_DIR:-$PWD}"; do
    candidate=$(cd "$candidate" 2>/dev/null && pwd) || continue
    while [ -n "$candidate" ]; do
      if har_is_project_root "$candidate"; then
        PROJECT_ROOT=$candidate
        return
      fi
      [ "$candidate" = / ] && break
      candidate=$(dirname "$candidate")
    done
  done
  har_die "cannot find the project root (conf/ and experiments/run_trial.py): submit from inside the repository or set PROJECT_ROOT"
}

har_die() {
  echo "$(basename "${HAR_LAUNCHER:-slurm}"): error: $*" >&2
  exit 2
}

har_log() { echo "[$(date +%H:%M:%S) ${HAR_LAUNCHER:-slurm}] $*"; }

har_in_job() { [ -n "${SLURM_JOB_ID:-}" ]; }

har_python() {
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"
  elif [ -n "${CONTAINER_IMAGE:-}" ]; then
    echo python
  elif [ -x "$PROJECT_ROOT/.venv/bin/python" ]; then
    echo "$PROJECT_ROOT/.venv/bin/python"
  else
    echo python3
  fi
}

# Split a whitespace-separated variable (OVERRIDES, SEEDS, ...) into the named array.
har_split() { read -r -a "$1" <<<"${2:-}"; }

# sbatch flags from the resource variables. $1: default time limit, $2: tasks per node.
har_sbatch_resources() {
  local time_limit=${TIME_LIMIT:-$1} tasks_per_node=${2:-1} extra=()
  HAR_SBATCH=(--parsable --nodes="${NODES:-1}" --ntasks-per-node="$tasks_per_node"
    --cpus-per-task="${CPUS:-8}" --signal="B:USR1@${SIGNAL_LEAD_S:-300}" --requeue
    --open-mode=append --export=ALL)
  [ -n "$time_limit" ] && HAR_SBATCH+=(--time="$time_limit")
  [ -n "${MEM-32G}" ] && HAR_SBATCH+=(--mem="${MEM-32G}")
  [ "${GPUS:-1}" -gt 0 ] && HAR_SBATCH+=(--gres="gpu:${GPUS:-1}")
  [ -n "${PARTITION:-}" ] && HAR_SBATCH+=(--partition="$PARTITION")
  [ -n "${ACCOUNT:-}" ] && HAR_SBATCH+=(--account="$ACCOUNT")
  [ -n "${QOS:-}" ] && HAR_SBATCH+=(--qos="$QOS")
  har_split extra "${EXTRA_SBATCH_ARGS:-}"
  HAR_SBATCH+=("${extra[@]}")
}

# Submit this launcher (job mode runs in the job). Prints the job id.
har_submit() {
  local job_id
  export PROJECT_ROOT
  job_id=$(sbatch "${HAR_SBATCH[@]}" "$@" "$HAR_SCRIPT_PATH") || har_die "sbatch failed"
  echo "${job_id%%;*}"
}

# How a job step is launched (HAR_SRUN): srun, in the container when CONTAINER_IMAGE is set. A
# named container persists for the job's later steps on that node, so what the install step added
# stays.
har_srun_command() {
  HAR_SRUN=(srun --kill-on-bad-exit=1)
  if [ -n "${CONTAINER_IMAGE:-}" ]; then
    HAR_SRUN+=(--container-image="$CONTAINER_IMAGE" --container-name="har-${SLURM_JOB_ID}"
      --container-mounts="$PROJECT_ROOT:$PROJECT_ROOT${CONTAINER_MOUNTS:+,$CONTAINER_MOUNTS}"
      --container-workdir="$PROJECT_ROOT")
  fi
}

# `pip install -e .` only when `har` (and the given extra's modules) cannot be imported: once per
# node in a container, else once under a lock on the shared file system.
#   har_ensure_installed [EXTRA [MODULE]]   e.g. har_ensure_installed postgres psycopg2
har_ensure_installed() {
  local pip_extra=${1:-} module=${2:-} python check install
  python=$(har_python)
  check="import har${module:+, $module}"
  install="$python -c '$check' 2>/dev/null || $python -m pip install -q -e '.${pip_extra:+[$pip_extra]}'"
  if [ -n "${CONTAINER_IMAGE:-}" ]; then
    har_srun_command
    "${HAR_SRUN[@]}" --ntasks-per-node=1 --cpus-per-task=1 bash -c "cd '$PROJECT_ROOT' && $install" ||
      har_die "installing the project in $CONTAINER_IMAGE failed"
  elif ! "$python" -c "$check" 2>/dev/null; then
    har_log "installing the project ($python -m pip install -e .${pip_extra:+[$pip_extra]})"
    mkdir -p "$PROJECT_ROOT/.cache"
    (cd "$PROJECT_ROOT" && flock "$PROJECT_ROOT/.cache/har-install.lock" bash -c "$install") ||
      har_die "pip install -e . failed"
  fi
}

# Run the work as a job step in the background and wait for it, so that the USR1 trap fires at
# once. ON_USR1 is evaluated when SLURM's warning signal arrives ($HAR_STEP_PID is srun's pid);
# the exit status of the step ends up in HAR_STEP_STATUS.
#
# Who requeues: training jobs (slurm_trial.sh, slurm_best.sh) forward USR1 to the training
# processes, where Lightning's SLURMEnvironment saves hpc_ckpt_<n>.ckpt into the run dir and runs
# `scontrol requeue`; the script does nothing else. An HPO worker (slurm_hpo.sh) owns its requeue:
# Lightning inside a trial must not requeue the worker, so the script stops the orchestrator
# (its running trial is closed as FAIL) and requeues itself.
har_run_step() {
  local on_usr1=$1
  shift
  HAR_STEP_PID=""
  # shellcheck disable=SC2064
  trap "$on_usr1" USR1 # before the step starts: an untrapped USR1 would kill this shell
  har_srun_command
  "${HAR_SRUN[@]}" "$@" & # srun itself in the background ($! is its pid): it forwards signals
  HAR_STEP_PID=$!
  while :; do
    HAR_STEP_STATUS=0
    wait "$HAR_STEP_PID" || HAR_STEP_STATUS=$?
    # `wait` also returns when a trapped signal arrives: keep waiting while the step lives.
    kill -0 "$HAR_STEP_PID" 2>/dev/null || break
  done
  HAR_STEP_STATUS=0
  wait "$HAR_STEP_PID" || HAR_STEP_STATUS=$?
  trap - USR1
}

har_forward_usr1() {
  har_log "USR1 from SLURM: Lightning checkpoints the run and requeues the job"
  kill -USR1 "$HAR_STEP_PID" 2>/dev/null || true
}

# A timestamp that stays the same for this job across requeues: the submission's (HAR_RUN_STAMP,
# set in submit mode), else the one recorded in BASE at the job's first start.
har_job_stamp() {
  local base=$1 marker
  if [ -n "${HAR_RUN_STAMP:-}" ]; then
    echo "$HAR_RUN_STAMP"
    return
  fi
  marker="$base/.slurm_jobs/${SLURM_CLUSTER_NAME:-cluster}_${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}"
  mkdir -p "$(dirname "$marker")"
  # noclobber: the first array task to get here writes the stamp, the others read it.
  (set -C && date +%Y-%m-%d_%H-%M-%S >"$marker") 2>/dev/null || true
  for _ in $(seq 1 50); do
    [ -s "$marker" ] && break
    sleep 0.1
  done
  cat "$marker"
}

har_job_banner() {
  har_log "job ${SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+ (array task $SLURM_ARRAY_TASK_ID)} on $(hostname -s)," \
    "restart ${SLURM_RESTART_COUNT:-0}, project $PROJECT_ROOT"
}

# Train one configuration into RUN_DIR as a job step: one process per task (srun), Lightning DDP
# over all tasks when there are several (trainer.devices = tasks per node, num_nodes = nodes).
# resume=true always: a requeued start continues from the run dir's newest checkpoint (the one
# Lightning saved on USR1, or last.ckpt after a node failure); a first start finds none.
# Later overrides win in Hydra, so the caller's "$@" can change any of these defaults.
#   har_run_training RUN_DIR OVERRIDE...
har_run_training() {
  local run_dir=$1 python world nodes per_node distributed=()
  shift
  cd "$PROJECT_ROOT" || return
  har_ensure_installed ""
  python=$(har_python)
  world=${SLURM_NTASKS:-1}
  nodes=${SLURM_NNODES:-1}
  per_node=$((world / nodes))
  if [ "$world" -gt 1 ]; then
    distributed=(trainer.devices="$per_node" trainer.num_nodes="$nodes" trainer.strategy=ddp)
  fi
  mkdir -p "$run_dir"
  har_log "run dir $run_dir, $world process(es) on $nodes node(s)"
  har_run_step har_forward_usr1 "$python" experiments/run_trial.py "${distributed[@]}" \
    resume=true trainer.progress_bar=false "$@" hydra.run.dir="$run_dir"
  har_log "run_trial.py exited with $HAR_STEP_STATUS (results: $run_dir/results.json)"
  return "$HAR_STEP_STATUS"
}

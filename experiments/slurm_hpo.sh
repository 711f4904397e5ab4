#!/bin/bash
#SBATCH --job-name=har-hpo
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
#SBATCH --open-mode=append
# A hyperparameter search as a SLURM job array: K workers, each one `experiments/run_hpo.py`, all on
# one Optuna study, together running exactly N_TRIALS trials.
#
#   HPO=scenario2_mmfit N_TRIALS=50 WORKERS=4 OVERRIDES="env=remote data=mmfit trainer.epochs=30" \
#     bash experiments/slurm_hpo.sh           # submits an array of WORKERS workers (resources below)
#   HPO=scenario2_mmfit N_TRIALS=50 sbatch experiments/slurm_hpo.sh   # one worker, your sbatch flags
#
# Variables (defaults in brackets):
#   HPO [scenario2_mmfit]     search space conf/hpo/$HPO.yaml
#   STUDY_NAME [$HPO]         OUTPUT_ROOT [$PROJECT_ROOT/experiments/hpo/$STUDY_NAME]
#   N_TRIALS [50]             trials of the whole study, all workers together (a resubmission with
#                             the same value resumes the study and stops at N_TRIALS)
#   WORKERS [4]               array size K (submit mode); MAX_PARALLEL [$WORKERS] runs at once
#   STORAGE                   postgresql://user:pass@host:5432/db (heartbeats: the trial of a killed
#                             worker is failed and retried), else a journal file
#                             [$OUTPUT_ROOT/$STUDY_NAME.journal]; SQLite ([...].db, the default for a
#                             single worker) is refused for more than one worker
#   OVERRIDES                 Hydra overrides for every trial (space-separated)
#   METRIC [val_f1] SEED [0]  HPO_ARGS: more run_hpo.py options, e.g. "--pruner none"
#   HAR_HEARTBEAT_INTERVAL_S [60], HAR_HEARTBEAT_GRACE_S [180]: PostgreSQL heartbeats
#   CONTAINER_IMAGE, PYTHON, and the resources PARTITION ACCOUNT QOS TIME_LIMIT [24:00:00] GPUS [1]
#   CPUS [8] MEM [32G] SIGNAL_LEAD_S [300] EXTRA_SBATCH_ARGS: see experiments/slurm_lib.sh
# Outputs: $OUTPUT_ROOT/{trials/trial_<N>/, trials.csv, best.json, <storage>, logs/worker_<i>.log}.
set -euo pipefail
HAR_LAUNCHER=slurm_hpo.sh
HAR_SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
HAR_SCRIPT_DIR=$(dirname "$HAR_SCRIPT_PATH")
for HAR_LIB in "${PROJECT_ROOT:-/nonexistent}/experiments" "$HAR_SCRIPT_DIR" "${SLURM_SUBMIT_DIR:-.}/experiments"; do
  [ -f "$HAR_LIB/slurm_lib.sh" ] && break
done
# shellcheck source=experiments/slurm_lib.sh
source "$HAR_LIB/slurm_lib.sh"
har_find_project_root

HPO=${HPO:-scenario2_mmfit}
STUDY_NAME=${STUDY_NAME:-$HPO}
OUTPUT_ROOT=${OUTPUT_ROOT:-$PROJECT_ROOT/experiments/hpo/$STUDY_NAME}
N_TRIALS=${N_TRIALS:-50}
SPACE_FILE=$PROJECT_ROOT/conf/hpo/$HPO.yaml

# The study's storage for K workers (sets STORAGE): the orchestrator's own rule (default file, SQLite
# refused for several workers), asked of the Python package so both always agree.
choose_storage() {
  local chosen
  chosen=$(cd "$PROJECT_ROOT" && "$(har_python)" -m har.hpo.storage "$OUTPUT_ROOT" "$STUDY_NAME" "$1" "${STORAGE:-}") ||
    exit 2
  STORAGE=$chosen
}

submit() {
  local workers=${WORKERS:-4} job_id
  [ "$workers" -ge 1 ] || har_die "WORKERS must be at least 1"
  [ "$N_TRIALS" -ge 1 ] || har_die "N_TRIALS must be at least 1"
  [ -f "$SPACE_FILE" ] || har_die "no search space $SPACE_FILE (HPO=$HPO)"
  har_ensure_installed
  choose_storage "$workers"
  mkdir -p "$OUTPUT_ROOT/logs"
  export HPO STUDY_NAME OUTPUT_ROOT N_TRIALS STORAGE
  har_sbatch_resources 24:00:00 1
  job_id=$(har_submit --job-name="hpo-$STUDY_NAME" --array="0-$((workers - 1))%${MAX_PARALLEL:-$workers}" \
    --output="$OUTPUT_ROOT/logs/worker_%a.log")
  echo "submitted job array $job_id: $workers worker(s), $N_TRIALS trial(s) in all, study $STUDY_NAME"
  echo "outputs: $OUTPUT_ROOT (worker logs in logs/), storage: $STORAGE"
}

# USR1 (time limit or preemption): stop the orchestrator (it closes its running trial as FAIL and
# writes trials.csv / best.json), then requeue this worker; the new start rejoins the study.
# SIGTERM goes to the step's processes through scancel: srun itself would answer a SIGTERM by
# killing the step at once, leaving no time to close the trial.
stop_for_requeue() {
  har_log "USR1 from SLURM: stopping the worker, then requeueing it"
  HAR_REQUEUE=1
  scancel --signal=TERM "$SLURM_JOB_ID" 2>/dev/null || kill -TERM "$HAR_STEP_PID" 2>/dev/null || true
}

work() {
  local workers=${SLURM_ARRAY_TASK_COUNT:-1} overrides args python
  har_job_banner
  cd "$PROJECT_ROOT"
  [ -f "$SPACE_FILE" ] || har_die "no search space $SPACE_FILE (HPO=$HPO)"
  har_ensure_installed
  choose_storage "$workers"
  mkdir -p "$OUTPUT_ROOT"
  case "$STORAGE" in
    postgresql*://*) har_ensure_installed postgres psycopg2 ;;
  esac
  python=$(har_python)
  har_split overrides "${OVERRIDES:-}"
  har_split args "${HPO_ARGS:-}"
  HAR_REQUEUE=0
  har_log "worker ${SLURM_ARRAY_TASK_ID:-0} of $workers: study $STUDY_NAME, storage $STORAGE"
  # --worker-index: workers must not share a sampler seed, or they would propose the same points.
  har_run_step stop_for_requeue "$python" experiments/run_hpo.py \
    --total-trials "$N_TRIALS" --study-name "$STUDY_NAME" --storage "$STORAGE" \
    --output-root "$OUTPUT_ROOT" --space-config "$SPACE_FILE" --metric "${METRIC:-val_f1}" \
    --seed "${SEED:-0}" --worker-index "${SLURM_ARRAY_TASK_ID:-0}" \
    "${args[@]}" "${overrides[@]}"
  if [ "$HAR_REQUEUE" = 1 ]; then
    har_log "requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
  fi
  har_log "run_hpo.py exited with $HAR_STEP_STATUS"
  exit "$HAR_STEP_STATUS"
}

if har_in_job; then work; else submit; fi

#!/bin/bash
#SBATCH --job-name=har-best
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
#SBATCH --open-mode=append
# A long training run of tuned hyperparameters, one job per seed (a job array for several seeds).
#
#   BEST_OVERRIDES="optim.lr=0.0026 scenario.alpha=10 ..." RUN_LABEL=apex EPOCHS=200 SEED=0 \
#     bash experiments/slurm_best.sh        # or: sbatch experiments/slurm_best.sh (your sbatch flags)
#   BEST_JSON=experiments/hpo/mmfit_sc2/best.json SEEDS="0 1 2 3 4" bash experiments/slurm_best.sh
#
# Variables (defaults in brackets):
#   BEST_OVERRIDES            the tuned values as Hydra overrides (space-separated)
#   BEST_JSON                 or/and a study's best.json: its override_list comes first
#   SEED [0], or SEEDS="0 1 2" one array task per seed
#   EPOCHS [200]  ENV_NAME [remote]  DATA_NAME [mmfit]  SCENARIO_NAME [scenario2]
#   OVERRIDES                 anything else, applied last
#   BEST_RUN_ROOT [$PROJECT_ROOT/experiments/best_run]
#   RUN_DIR [$BEST_RUN_ROOT/$SCENARIO_NAME/$DATA_NAME/<timestamp>]; with
#                             several seeds each gets RUN_DIR/seed_<S>. The timestamp is fixed at
#                             submission (at the job's first start for a plain `sbatch`), so a
#                             requeued job resumes in the same directory.
#   RUN_LABEL [best]          tags the job name and the log files ($RUN_DIR/logs/<label>_<job>_<task>.log)
#   GPUS [1] per node (several: Lightning DDP), NODES [1], CPUS [8] per process, CONTAINER_IMAGE,
#   PYTHON, PARTITION ACCOUNT QOS TIME_LIMIT [48:00:00] MEM [32G] SIGNAL_LEAD_S [300]
#   EXTRA_SBATCH_ARGS: see experiments/slurm_lib.sh
# Each run dir holds results.json, csv/metrics.csv, plots/, .hydra/ (resolved config), checkpoints/.
set -euo pipefail
HAR_LAUNCHER=slurm_best.sh
HAR_SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
HAR_SCRIPT_DIR=$(dirname "$HAR_SCRIPT_PATH")
for HAR_LIB in "${PROJECT_ROOT:-/nonexistent}/experiments" "$HAR_SCRIPT_DIR" "${SLURM_SUBMIT_DIR:-.}/experiments"; do
  [ -f "$HAR_LIB/slurm_lib.sh" ] && break
done
# shellcheck source=experiments/slurm_lib.sh
source "$HAR_LIB/slurm_lib.sh"
har_find_project_root

SCENARIO_NAME=${SCENARIO_NAME:-scenario2}
DATA_NAME=${DATA_NAME:-mmfit}
RUN_LABEL=${RUN_LABEL:-best}
BASE_DIR=${BEST_RUN_ROOT:-$PROJECT_ROOT/experiments/best_run}/$SCENARIO_NAME/$DATA_NAME
har_split SEED_LIST "${SEEDS:-${SEED:-0}}"
[ ${#SEED_LIST[@]} -ge 1 ] || har_die "SEEDS is empty"

submit() {
  local job_id
  [ -z "${BEST_JSON:-}" ] || [ -f "$BEST_JSON" ] || har_die "BEST_JSON=$BEST_JSON: no such file"
  HAR_RUN_STAMP=$(date +%Y-%m-%d_%H-%M-%S)
  RUN_DIR=${RUN_DIR:-$BASE_DIR/$HAR_RUN_STAMP}
  mkdir -p "$RUN_DIR/logs"
  export HAR_RUN_STAMP RUN_DIR SCENARIO_NAME DATA_NAME RUN_LABEL
  if [ -n "${BEST_JSON:-}" ]; then
    BEST_JSON=$(readlink -f "$BEST_JSON")
    export BEST_JSON
  fi
  har_sbatch_resources 48:00:00 "$((${GPUS:-1} > 1 ? ${GPUS:-1} : 1))"
  job_id=$(har_submit --job-name="$RUN_LABEL" --array="0-$((${#SEED_LIST[@]} - 1))" \
    --output="$RUN_DIR/logs/${RUN_LABEL}_%A_%a.log")
  echo "submitted job array $job_id: seed(s) ${SEED_LIST[*]}; outputs in $RUN_DIR"
}

# best.json's override_list, one override per line (values may hold spaces). The host's python3:
# PYTHON may live only inside the container.
best_json_overrides() {
  python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["override_list"]))' "$1"
}

work() {
  local task=${SLURM_ARRAY_TASK_ID:-0} seed run_dir tuned=() best=() extra=()
  har_job_banner
  [ "$task" -lt ${#SEED_LIST[@]} ] || har_die "array task $task but only ${#SEED_LIST[@]} seed(s): ${SEED_LIST[*]}"
  seed=${SEED_LIST[$task]}
  RUN_DIR=${RUN_DIR:-$BASE_DIR/$(har_job_stamp "$BASE_DIR")}
  run_dir=$RUN_DIR
  [ ${#SEED_LIST[@]} -eq 1 ] || run_dir=$RUN_DIR/seed_$seed
  if [ -n "${BEST_JSON:-}" ]; then
    mapfile -t best < <(best_json_overrides "$BEST_JSON")
    [ ${#best[@]} -gt 0 ] || har_die "BEST_JSON=$BEST_JSON has no override_list"
  fi
  har_split tuned "${BEST_OVERRIDES:-}"
  har_split extra "${OVERRIDES:-}"
  har_log "$RUN_LABEL: seed $seed, ${EPOCHS:-200} epochs, $SCENARIO_NAME on $DATA_NAME"
  har_run_training "$run_dir" env="${ENV_NAME:-remote}" data="$DATA_NAME" scenario="$SCENARIO_NAME" \
    trainer.epochs="${EPOCHS:-200}" seed="$seed" "${best[@]}" "${tuned[@]}" "${extra[@]}"
}

if har_in_job; then work; else submit; fi

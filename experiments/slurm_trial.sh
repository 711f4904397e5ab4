#!/bin/bash
#SBATCH --job-name=har-trial
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
#SBATCH --open-mode=append
# One training run (experiments/run_trial.py) as a SLURM job, resumable across requeues.
#
#   OVERRIDES="data=mmfit trainer.epochs=100 optim.lr=1e-3" bash experiments/slurm_trial.sh
#   OVERRIDES="..." GPUS=4 NODES=2 bash experiments/slurm_trial.sh     # DDP over 8 GPUs
#   OVERRIDES="..." sbatch experiments/slurm_trial.sh                   # your own sbatch flags
#
# Variables (defaults in brackets):
#   OVERRIDES                 Hydra overrides (space-separated); they win over everything below
#   ENV_NAME [remote]         conf/env/$ENV_NAME.yaml
#   OUTPUT_DIR [$PROJECT_ROOT/experiments/outputs/slurm]
#   RUN_DIR [$OUTPUT_DIR/job_<SLURM_JOB_ID>]  the run dir; a requeued job finds it again by its id
#   RUN_LABEL [trial]         tags the job name
#   GPUS [1] per node, one process per GPU (several: Lightning DDP); NODES [1]; CPUS [8] per process
#   CONTAINER_IMAGE, PYTHON, PARTITION ACCOUNT QOS TIME_LIMIT [24:00:00] MEM [32G] SIGNAL_LEAD_S [300]
#   EXTRA_SBATCH_ARGS: see experiments/slurm_lib.sh
# Log: $OUTPUT_DIR/job_<id>.log (submit mode). Before the time limit SLURM sends USR1; Lightning
# saves a checkpoint into the run dir and requeues the job, which resumes from it.
set -euo pipefail
HAR_LAUNCHER=slurm_trial.sh
HAR_SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
HAR_SCRIPT_DIR=$(dirname "$HAR_SCRIPT_PATH")
for HAR_LIB in "${PROJECT_ROOT:-/nonexistent}/experiments" "$HAR_SCRIPT_DIR" "${SLURM_SUBMIT_DIR:-.}/experiments"; do
  [ -f "$HAR_LIB/slurm_lib.sh" ] && break
done
# shellcheck source=experiments/slurm_lib.sh
source "$HAR_LIB/slurm_lib.sh"
har_find_project_root

OUTPUT_DIR=${OUTPUT_DIR:-$PROJECT_ROOT/experiments/outputs/slurm}

submit() {
  local job_id log
  mkdir -p "$OUTPUT_DIR"
  log=$OUTPUT_DIR/job_%j.log
  if [ -n "${RUN_DIR:-}" ]; then
    mkdir -p "$RUN_DIR"
    log=$RUN_DIR/slurm_%j.log
  fi
  export OUTPUT_DIR
  har_sbatch_resources 24:00:00 "$((${GPUS:-1} > 1 ? ${GPUS:-1} : 1))"
  job_id=$(har_submit --job-name="har-${RUN_LABEL:-trial}" --output="$log")
  echo "submitted job $job_id; run dir ${RUN_DIR:-$OUTPUT_DIR/job_$job_id}, log ${log//%j/$job_id}"
}

work() {
  local overrides
  har_job_banner
  har_split overrides "${OVERRIDES:-}"
  har_run_training "${RUN_DIR:-$OUTPUT_DIR/job_$SLURM_JOB_ID}" env="${ENV_NAME:-remote}" "${overrides[@]}"
}

if har_in_job; then work; else submit; fi

#!/usr/bin/env bash
# The study table of benchmarks/scenarios.md: every scenario, 3 seeds, on the MM-Fit twin (default
# split), plus the physics baseline and scarce real IMU (25 % and ≈10 % of the training subjects).
# Sized for a 2-core CPU (about 1.5 h): 6 epochs, windows every 0.5 s, one thread per run.
#   bash benchmarks/run_scenarios_study.sh            # then the tables (end of this file)
# Re-running skips completed seeds (run_eval resumes), so an interrupted study continues.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
TWIN="env.data_dir=.cache/test-data env.cache_dir=.cache/test-data/_preprocessed"
COMMON="$TWIN trainer.epochs=6 data.stride_seconds=0.5 trainer.plots=false trainer.progress_bar=false"
EVAL="$PY experiments/run_eval.py --seeds 1,2,3 --output-root experiments/eval/scenarios_study"

for scenario in scenario2 real_only no_mse no_similarity separate_classifiers \
    separate_feature_extractors secondary_pose feature_discriminator signal_discriminator; do
  $EVAL --name "$scenario" "scenario=$scenario" $COMMON
done
# Physics baseline: the non-learned regressor (calibrated on the training windows) in scenario 2.
$EVAL --name physics scenario=scenario2 model/regressor=physics $COMMON
# Scarce real IMU: fractions of the 6 training subjects (imu_subjects_seed 0 draws participants
# 2 and 5 for 0.25, participant 5 for 0.1: 3 and 1 of the 12 training workouts).
for fraction in 0.25 0.1; do
  for scenario in real_only scenario2; do
    $EVAL --name "${scenario}_imu${fraction}" "scenario=$scenario" "data.imu_subjects=$fraction" $COMMON
  done
done

# Tables (Markdown on stdout, also .md/.csv/.tex under experiments/tables/):
$PY -m har.reporting.aggregate 'experiments/eval/scenarios_study/**/results.json' \
  --by scenario model.regressor._target_ data.imu_subjects --baseline real_only \
  --out experiments/tables/scenarios_study

#!/usr/bin/env bash
# The yardsticks every later result is read against (issues 14 and 16), recorded in
# benchmarks/README.md ("Reference figures"):
#   - per twin preset (easy, realistic, hard) and split (official_unseen, default): real_only and
#     scenario2 (3 seeds), stage 1 of the virtual-IMU recipe with the learned and the physics
#     regressor (its MSE and Pearson r on the test participants; the physics one with and without
#     the gravity-direction fit), features + gradient boosting;
#   - the deployed model with acc + gyro beside features_gbm and MiniRocket on the realistic twin's
#     unseen participants (3 seeds);
#   - the real smartwatch data (data=watch): leave-one-subject-out for real_only, features_gbm and
#     MiniRocket.
# Every run trains to early stopping on val_f1 (patience 5, cap $EPOCHS epochs).
#
#   PHASE=classical bash benchmarks/run_reference_figures.sh   # features_gbm / MiniRocket (minutes)
#   PHASE=neural    bash benchmarks/run_reference_figures.sh   # the networks (about 2 h on 2 cores)
#   PHASE=tables    bash benchmarks/run_reference_figures.sh   # tables into benchmarks/tables/
#   PRESETS="realistic" SPLITS="official_unseen" ...            # a part of the grid
#   STEPS='*:*:real_only' ...                                    # steps whose name matches a glob
#                                        (names: preset:split:what, acc_gyr:what, watch:what)
#   DRY_RUN=1 PHASE=... ...                                      # print a phase's run_eval commands
#
# Every run is one seed (or fold) of run_eval.py, which keeps completed seeds and resumes an
# interrupted one: run the same command again after an interruption. Wall time per step is
# appended to $OUT/wall_time.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-experiments/eval/reference_figures}
PHASE=${PHASE:-neural}
PRESETS=${PRESETS:-realistic easy hard}
SPLITS=${SPLITS:-official_unseen default}
SEEDS=${SEEDS:-1,2,3}
EPOCHS=${EPOCHS:-40}
STEPS=${STEPS:-*}
COMMON="trainer.epochs=$EPOCHS trainer.early_stopping.patience=5 trainer.plots=false
  trainer.progress_bar=false"
ACC_GYR="data.sensors=[sw_l_acc,sw_l_gyr]"

run() {  # run NAME SEEDS OVERRIDES...: one evaluation (seeds) into $OUT/NAME
  local name=$1 seeds=$2
  # shellcheck disable=SC2086  # COMMON is words
  ${DRY_RUN:+echo} $PY experiments/run_eval.py --seeds "$seeds" --output-root "$OUT" --name "$name" \
    "${@:3}" $COMMON
}

loso() {  # loso NAME OVERRIDES...: leave-one-subject-out on the watch data
  # shellcheck disable=SC2086
  ${DRY_RUN:+echo} $PY experiments/run_eval.py --folds loso --output-root "$OUT" --name "$1" data=watch \
    "${@:2}" $COMMON
}

timed() {  # timed STEP COMMAND...: runs a step STEPS selects; its wall time into $OUT/wall_time.tsv
  # shellcheck disable=SC2053  # STEPS is a glob
  [[ $1 == $STEPS ]] || return 0
  local start=$SECONDS
  "${@:2}"
  [ -z "${DRY_RUN:-}" ] || return 0
  mkdir -p "$OUT"
  printf '%s\t%s\t%d\n' "$(date -Is)" "$1" $((SECONDS - start)) >>"$OUT/wall_time.tsv"
}

# The steps in order of importance (the deployed model's yardsticks first), so a part of the grid
# already answers the main questions.
phase_classical() {
  timed watch:features_gbm loso watch_features_gbm scenario=real_only model=features_gbm
  timed watch:minirocket loso watch_minirocket scenario=real_only model=minirocket
  for model in features_gbm minirocket; do
    timed "acc_gyr:$model" run "realistic_official_unseen_acc_gyr_$model" "$SEEDS" \
      scenario=real_only "model=$model" data.twin=realistic data.split=official_unseen "$ACC_GYR"
  done
  for preset in $PRESETS; do for split in $SPLITS; do
    local twin="data.twin=$preset data.split=$split"
    # shellcheck disable=SC2086
    timed "$preset:$split:features_gbm" run "${preset}_${split}_features_gbm" "$SEEDS" \
      scenario=real_only model=features_gbm $twin
  done; done
}

phase_neural() {
  # The deployed model. Since round 3 of run_model_selection.sh F has the window-statistics
  # branch (runs named `_statistics`: with the augmentation of real windows of its day), and since
  # round 5 its real windows are not augmented (`_unaugmented`).
  timed acc_gyr:real_only run realistic_official_unseen_acc_gyr_real_only_unaugmented "$SEEDS" \
    scenario=real_only data.twin=realistic data.split=official_unseen "$ACC_GYR"
  for preset in $PRESETS; do for split in $SPLITS; do
    local twin="data.twin=$preset data.split=$split" name="${preset}_${split}" step="$preset:$split"
    # shellcheck disable=SC2086
    {
      timed "$step:real_only" run "${name}_real_only" "$SEEDS" scenario=real_only $twin
      timed "$step:scenario2" run "${name}_scenario2" "$SEEDS" scenario=scenario2 $twin
      # Stage 1 of the virtual-IMU recipe is R fitted by MSE alone: its test MSE and Pearson r
      # (stage1_test_*) are the regression quality on participants never seen in training. Stage 2
      # is the boosted features here (minutes; the network's would take the better part of an hour
      # and add nothing to stage 1's figures).
      timed "$step:stage1_tcn" run "${name}_virtual_tcn_gbm" 1 scenario=virtual_imu \
        scenario.name=virtual_tcn_gbm model=features_gbm $twin
      timed "$step:stage1_physics" run "${name}_virtual_physics_gbm" 1 scenario=virtual_imu \
        scenario.name=virtual_physics_gbm model=features_gbm model/regressor=physics $twin
      # ... and with the physics calibration's gravity-direction fit (tilted cameras).
      timed "$step:stage1_physics_tilt" run "${name}_virtual_physics_tilt_gbm" 1 \
        scenario=virtual_imu scenario.name=virtual_physics_tilt_gbm model=features_gbm \
        model/regressor=physics model.regressor.fit_gravity_direction=true $twin
    }
  done; done
  timed watch:real_only loso watch_real_only_unaugmented scenario=real_only  # (as above)
}

phase_tables() {
  local metrics=test_f1,best_val_f1,test_acc,test_mse,stage1_test_mse
  metrics+=,stage1_test_pearson_x,stage1_test_pearson_y,stage1_test_pearson_z
  local by="model.name scenario.name data.sensors" prefix
  # One table per twin preset and split; Δ against features + gradient boosting on acc, paired by
  # seed. Rows are the model (a network's is unset), the method and the input streams; seeds are
  # a row's runs.
  for prefix in $(find "$OUT" -maxdepth 1 -name '*_features_gbm' -printf '%f\n' | sed -n \
      's/^\(\(easy\|realistic\|hard\)_\(official_unseen\|unseen\|default\)\)_features_gbm$/\1/p' | sort -u); do
    # shellcheck disable=SC2086
    $PY -m har.reporting.aggregate --decimals 3 "$OUT/${prefix}_*/*/results.json" --by $by \
      --metrics "$metrics" --out "benchmarks/tables/reference_${prefix}" --baseline \
      "model.name=features_gbm, scenario.name=real_only, data.sensors=[sw_l_acc]"
  done
  # The watch data by leave-one-subject-out: Δ paired by the fold's test participant.
  $PY -m har.reporting.aggregate --decimals 3 "$OUT/watch_*/*/results.json" --by model.name \
    --baseline features_gbm --pair-by data.test_subjects --metrics test_f1,best_val_f1,test_acc \
    --out benchmarks/tables/reference_watch_loso
}

"phase_$PHASE"

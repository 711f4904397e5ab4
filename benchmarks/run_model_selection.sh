#!/usr/bin/env bash
# Issue 16's choice of the deployed model's defaults, made on VALIDATION participants only: on the
# realistic twin, real_only with acc + gyro, each candidate over 2 seeds, trained to early stopping
# on val_f1 (patience 5). Decision rule, fixed before the runs: the candidate with the highest mean
# best_val_f1 becomes the default if it beats the round's baseline by more than the seeds' spread;
# test_f1 is printed beside it but never read for the choice.
#
#   ROUND=1 bash benchmarks/run_model_selection.sh  # F and regularisers (split official_unseen)
#   ROUND=2 bash benchmarks/run_model_selection.sh  # amplitude / tempo augmentation (split unseen:
#                                                   # validation participants of its own)
# Runs are resumable (run_eval keeps finished seeds); each round writes its table.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
PY=${PY:-.venv/bin/python}
ROUND=${ROUND:-2}
SEEDS=${SEEDS:-1,2}
# Candidates name every setting they differ in, so they keep their meaning when defaults move.
PLAIN="model.feature_extractor.residual=false scenario.augment.real=false"
AUG="scenario.augment.real=true scenario.augment.roll_deg=30 scenario.augment.gain=0.1
  scenario.augment.jitter=0.05"
CHOSEN="model.feature_extractor.residual=true $AUG"  # round 1's choice, today's default
declare -A CANDIDATE=(
  [cnn]="$PLAIN"
  [cnn_residual]="$PLAIN model.feature_extractor.residual=true"
  [deepconvlstm]="$PLAIN model/feature_extractor=deepconvlstm"
  [cnn_augment]="$PLAIN $AUG"
  [cnn_smooth_mixup]="$PLAIN scenario.label_smoothing=0.1 scenario.mixup=0.2"
  [cnn_residual_augment]="$CHOSEN"
  [motion]="$CHOSEN scenario.augment.motion_gain=1.0"
  [motion_warp]="$CHOSEN scenario.augment.motion_gain=1.0 scenario.augment.time_warp=0.2"
  # Five blocks see the whole 2.56 s window (three: about 0.6 s, then an average).
  [deep]="$CHOSEN model.feature_extractor.n_conv=5"
)
case $ROUND in
  1) SPLIT=official_unseen BASELINE=cnn
     DEFAULT_ORDER="cnn cnn_residual cnn_augment cnn_residual_augment cnn_smooth_mixup deepconvlstm" ;;
  2) SPLIT=unseen BASELINE=cnn_residual_augment
     DEFAULT_ORDER="cnn_residual_augment motion motion_warp deep" ;;
  *) echo "ROUND must be 1 or 2, got $ROUND" >&2; exit 2 ;;
esac
ORDER=${ORDER:-$DEFAULT_ORDER}
OUT=${OUT:-experiments/eval/model_selection$([ "$ROUND" = 1 ] || echo "_round$ROUND")}
COMMON="scenario=real_only data.twin=realistic data.split=$SPLIT
  data.sensors=[sw_l_acc,sw_l_gyr] trainer.epochs=40 trainer.early_stopping.patience=5
  trainer.plots=false trainer.progress_bar=false"
for name in $ORDER; do
  # shellcheck disable=SC2086  # the overrides are words
  $PY experiments/run_eval.py --seeds "$SEEDS" --output-root "$OUT" --name "$name" \
    $COMMON ${CANDIDATE[$name]} "scenario.name=$name"
done
$PY -m har.reporting.aggregate --decimals 3 "$OUT/*/*/results.json" --by scenario.name \
  --baseline "$BASELINE" --delta-metric best_val_f1 --metrics best_val_f1,test_f1,epochs_run \
  --out "benchmarks/tables/model_selection$([ "$ROUND" = 1 ] || echo "_round$ROUND")"

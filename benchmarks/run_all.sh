#!/usr/bin/env bash
# Every benchmark of benchmarks/README.md, one after the other (they must not share the cores), and
# the issue-2 comparison of joint training against the real-path-only baseline. Each table goes to
# $OUT/<name>.md (default benchmarks/out/, git-ignored) and to stdout. About 35 min on 2 CPU cores.
#   bash benchmarks/run_all.sh                  # all
#   bash benchmarks/run_all.sh train preprocess # some: train tta preprocess hpo threads joint
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-benchmarks/out}
# The recorded figures were measured on the easy twin (before presets existed); keep measuring there
# so they stay comparable (HAR_TWIN=realistic measures the harder default instead).
export HAR_TWIN=${HAR_TWIN:-easy}
mkdir -p "$OUT"
TWIN="env.data_dir=.cache/test-data env.cache_dir=.cache/test-data/_preprocessed"
QUIET="trainer.plots=false trainer.progress_bar=false"

run() {  # run NAME COMMAND...: the command's stdout into $OUT/NAME.md, timed
  local name=$1
  shift
  echo "## $name: $*" | tee "$OUT/$name.md"
  local started=$SECONDS
  "$@" | tee -a "$OUT/$name.md"
  echo "($name: $((SECONDS - started)) s)" | tee -a "$OUT/$name.md"
}

joint() {  # issue 2: scenario2 vs the same module with every regressor term off, 3 epochs, seed 0
  local dir=$OUT/joint
  $PY experiments/run_trial.py $TWIN $QUIET trainer.epochs=3 "hydra.run.dir=$dir/scenario2" >/dev/null
  $PY experiments/run_trial.py $TWIN $QUIET trainer.epochs=3 scenario.gamma=0 scenario.beta=0 \
    scenario.ce_sim=false "hydra.run.dir=$dir/real_path_only" >/dev/null
  $PY -m har.reporting.aggregate --decimals 3 "$dir/scenario2" "$dir/real_path_only" \
    --by scenario.gamma --metrics best_val_f1,test_f1,test_acc,test_sim_f1,test_mse --out "$dir/table"
}

STEPS=${*:-train tta preprocess hpo threads joint}
for step in $STEPS; do
  case $step in
    train) run train $PY benchmarks/bench_train.py ;;
    tta) run time_to_accuracy $PY benchmarks/bench_time_to_accuracy.py ;;
    preprocess) run preprocess $PY benchmarks/bench_preprocess.py --minutes 30 ;;
    hpo) run hpo_overhead $PY benchmarks/bench_hpo_overhead.py ;;
    threads) run threads $PY benchmarks/bench_threads.py ;;
    joint) run joint joint ;;
    *) echo "unknown step $step (train tta preprocess hpo threads joint)" >&2; exit 2 ;;
  esac
done

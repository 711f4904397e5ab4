"""The study's summaries: trials.csv (one row per trial), best.json, and the closing printout.

best.json carries the winning values three ways: `best_params` (as Optuna stores them),
`override_list` (one Hydra override per value, pinned ones included, read back by `--fix-from`) and
`overrides` (the same as one line to paste after `run_trial.py`). Files are replaced atomically, so a
reader (or a second worker writing at the same moment) never sees half a file. trials.csv's
`recovered` column says which results were adopted from a run dir after their worker died.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from har.hpo.search_plan import (
    FAIL_REASON_ATTR,
    FIXED_OVERRIDES_ATTR,
    PARAM_OVERRIDES_ATTR,
    RECOVERED_ATTR,
    RECOVERED_FROM_ATTR,
    RUN_DIR_ATTR,
    SearchPlan,
)
from har.launch.faults import fault_point
from har.launch.overrides import override_key, shell_join
from har.reporting.results import RESULTS_FILE, write_text_atomic
from har.reporting.runs import read_best_json

TRIALS_CSV = "trials.csv"
BEST_JSON = "best.json"


def write_summaries(study: optuna.Study, plan: SearchPlan) -> None:
    trials = study.get_trials(deepcopy=False)
    write_trials_csv(plan.output_root / TRIALS_CSV, trials)
    best = best_summary(study, plan, trials)
    if best is not None:
        fault_point("best_json")
        write_text_atomic(plan.output_root / BEST_JSON, json.dumps(best, indent=2) + "\n")


def write_trials_csv(path: Path, trials: Sequence[FrozenTrial]) -> None:
    param_keys = sorted({key for trial in trials for key in trial.params})
    metric_keys = sorted({key for t in trials for key in t.user_attrs.get("metrics", {})})
    timing_keys = sorted({key for t in trials for key in t.user_attrs.get("timing", {})})
    header = [
        "number",
        "state",
        "value",
        "duration_s",
        *(f"params.{k}" for k in param_keys),
        *metric_keys,
        *(f"timing.{k}" for k in timing_keys),
        "run_dir",
        "fail_reason",
        "recovered",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    carried_by = {
        t.user_attrs[RECOVERED_FROM_ATTR]: t.number
        for t in trials
        if t.user_attrs.get(RECOVERED_FROM_ATTR) is not None
    }
    for trial in sorted(trials, key=lambda t: t.number):
        recovered = trial.user_attrs.get(RECOVERED_ATTR, "")
        if trial.number in carried_by:
            recovered = f"its finished run was adopted as trial {carried_by[trial.number]}"
        duration = trial.duration.total_seconds() if trial.duration is not None else None
        metrics = trial.user_attrs.get("metrics", {})
        timing = trial.user_attrs.get("timing", {})
        writer.writerow(
            [
                trial.number,
                trial.state.name,
                _cell(trial.value),
                _cell(round(duration, 3) if duration is not None else None),
                *(_cell(trial.params.get(k)) for k in param_keys),
                *(_cell(metrics.get(k)) for k in metric_keys),
                *(_cell(timing.get(k)) for k in timing_keys),
                trial.user_attrs.get(RUN_DIR_ATTR, ""),
                trial.user_attrs.get(FAIL_REASON_ATTR, ""),
                recovered,
            ]
        )
    write_text_atomic(path, buffer.getvalue())


def best_summary(
    study: optuna.Study, plan: SearchPlan, trials: Sequence[FrozenTrial] | None = None
) -> dict[str, Any] | None:
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        return None
    pick = max if plan.direction == "maximize" else min
    best = pick(complete, key=lambda t: t.value)  # first of equals: the earliest trial wins ties
    # The trial's own recorded overrides, so best.json stays right even if the space file changed.
    fixed = list(best.user_attrs.get(FIXED_OVERRIDES_ATTR, []))
    params = list(best.user_attrs.get(PARAM_OVERRIDES_ATTR, []))
    run_dir = best.user_attrs.get(RUN_DIR_ATTR)
    return {
        "study_name": plan.study_name,
        "metric": plan.metric,
        "direction": plan.direction,
        "best_value": best.value,
        "best_trial_number": best.number,
        "best_params": dict(best.params),
        "fixed_overrides": fixed,
        "override_list": [*fixed, *params],
        "overrides": shell_join([*fixed, *params]),
        "run_dir": run_dir,
        "results_json": str(Path(run_dir) / RESULTS_FILE) if run_dir else None,
        "forwarded_overrides": list(plan.forwarded_overrides),
        "seed": plan.seed,
        "storage": str(plan.storage),
        "trial_counts": count_states(trials),
    }


def count_states(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in trials:
        counts[trial.state.name.lower()] += 1
    return counts


def read_fixed_overrides(path: Path) -> list[str]:
    """The winners of an earlier pass (its best.json), to pin them in the next pass."""
    return read_best_json(path, "--fix-from")["override_list"]


def merge_pinned(*groups: Sequence[str]) -> list[str]:
    """Later groups win for the same key, keeping each key's first position (one token per key)."""
    merged: dict[str, str] = {}
    for group in groups:
        for token in group:
            merged[override_key(token)] = token
    return list(merged.values())


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def print_summary(study: optuna.Study, plan: SearchPlan, plots: Sequence[Path] = ()) -> bool:
    """Print the study's result to stdout; False when no trial has completed yet."""
    trials = study.get_trials(deepcopy=False)
    counts = count_states(trials)
    print(
        f"\nStudy {plan.study_name}: {len(trials)} trials "
        f"({counts['complete']} complete, {counts['pruned']} pruned, {counts['fail']} failed"
        f"{', ' + str(counts['running']) + ' running' if counts['running'] else ''})"
    )
    best = best_summary(study, plan, trials)
    if best is None:
        print(
            "No completed trial, so no best parameters. See fail_reason in",
            plan.output_root / TRIALS_CSV,
        )
        return False
    print(
        f"Best {plan.metric} = {best['best_value']:.6g} (trial {best['best_trial_number']}, {best['run_dir']})"
    )
    for key, value in best["best_params"].items():
        print(f"  {key} = {value}")
    print(f"Overrides: {best['overrides']}")
    written = [plan.output_root / TRIALS_CSV, plan.output_root / BEST_JSON, *plots]
    print("Wrote", ", ".join(str(path) for path in written))
    return True

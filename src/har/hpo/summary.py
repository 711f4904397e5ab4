"""What the CLI prints at the end: trial counts, the best metric and its parameters, where files are."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import optuna

from har.hpo.outputs import BEST_JSON, TRIALS_CSV, best_summary, count_states
from har.hpo.plan import SearchPlan


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

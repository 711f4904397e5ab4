"""Deploy whichever of two recipes validates better, per (seed, subject draw): its test macro-F1
against the baseline recipe's, paired, with the 95 % t interval (benchmarks/scenarios.md).

    python benchmarks/choose_on_validation.py experiments/eval/sim_transfer_study_unaugmented \
        --baseline real_only --candidate virtual_physics --level 0.2

The choice reads only ``best_val_f1`` (validation participants); test macro-F1 is only scored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from har.reporting.paired import paired_difference
from har.reporting.runs import config_value, find_results, load_runs

Key = tuple[int, int]  # (seed, imu_subjects_seed)


def completed_runs(root: Path, recipe: str, level: str) -> dict[Key, tuple[float, float]]:
    """(best val macro-F1, test macro-F1) of each completed run of ``recipe`` at ``level``."""
    runs, _ = load_runs(
        find_results([root / f"{recipe}_imu{level}_d*" / "seed_*" / "results.json"])
    )
    return {
        (run.seed, int(config_value(run.config, "data.imu_subjects_seed"))): (
            run.metrics["best_val_f1"],
            run.metrics["test_f1"],
        )
        for run in runs
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the study's OUT folder")
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--candidate", required=True)
    parser.add_argument("--level", required=True, help="data.imu_subjects of the runs, e.g. 0.2")
    args = parser.parse_args(argv)
    base = completed_runs(args.root, args.baseline, args.level)
    other = completed_runs(args.root, args.candidate, args.level)
    pairs = sorted(base.keys() & other.keys())
    if not pairs:
        print(f"no (seed, draw) has completed runs of both recipes in {args.root}", file=sys.stderr)
        return 2
    # Ties keep the baseline: a candidate must validate better to be deployed.
    chosen = [other[k] if other[k][0] > base[k][0] else base[k] for k in pairs]
    picked = sum(other[k][0] > base[k][0] for k in pairs)
    difference = paired_difference([c[1] for c in chosen], [base[k][1] for k in pairs])
    print(
        f"level {args.level}: the validation choice picks {args.candidate} in {picked} of "
        f"{len(pairs)} pairs; test macro-F1 minus {args.baseline}: {difference.text(3)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

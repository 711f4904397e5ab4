"""Per-trial overhead of the HPO orchestrator: how long a trial takes to reach its first optimiser
step, and how much time the orchestrator adds around each trial.

    python benchmarks/bench_hpo_overhead.py                 # 3 tiny trials on the debug split
    python benchmarks/bench_hpo_overhead.py --n-trials 5 trainer.epochs=3

Runs the real CLI (`experiments/run_hpo.py`) on the twin's debug split in a temporary output root
and prints medians over the trials. "launch -> first step" is measured from outside the trial
(orchestrator's clock at launch to the trial's `first_step_unix`), so it includes interpreter
start-up, imports, data loading and model construction.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import optuna  # noqa: E402

from har.hpo.storage import open_storage  # noqa: E402

TINY_TRIAL = [
    "data=mmfit_debug",
    "trainer.epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.plots=false",
    "trainer.progress_bar=false",
]
TEST_TWIN = REPO / ".cache" / "test-data"


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH")) if p)
    return env


def run_search(output_root: Path, n_trials: int, overrides: list[str]) -> float:
    command = [
        sys.executable, "experiments/run_hpo.py", "--n-trials", str(n_trials),
        "--study-name", "bench", "--space-config", "conf/hpo/debug.yaml",
        "--output-root", str(output_root), "--no-plots", *overrides,
    ]  # fmt: skip
    print("$", " ".join(command), file=sys.stderr)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=python_env(), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-trials", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every trial")
    args = parser.parse_args()
    overrides = list(TINY_TRIAL)
    if TEST_TWIN.is_dir():  # reuse the test suite's twin instead of generating one
        overrides += [f"env.data_dir={TEST_TWIN}", f"env.cache_dir={TEST_TWIN / '_preprocessed'}"]
    overrides += args.overrides

    with tempfile.TemporaryDirectory(prefix="bench_hpo_") as tmp:
        output_root = Path(tmp)
        search_s = run_search(output_root, args.n_trials, overrides)
        study = optuna.load_study(
            study_name="bench",
            storage=open_storage(f"sqlite:///{output_root / 'bench.db'}", heartbeat=False),
        )
        trials = study.get_trials()

    def median(values: list[float | None]) -> str:
        present = [v for v in values if v is not None]
        return f"{statistics.median(present):7.2f}" if present else "    n/a"

    timing = [t.user_attrs.get("timing", {}) for t in trials]
    in_study = [t.duration.total_seconds() for t in trials if t.duration is not None]
    process = [x.get("wall_s") for x in timing]
    around = [s - p for s, p in zip(in_study, process, strict=False) if p is not None]
    gaps = [
        (b.datetime_start - a.datetime_complete).total_seconds()
        for a, b in itertools.pairwise(trials)
        if a.datetime_complete and b.datetime_start
    ]
    start = [x.get("launch_to_start_s") for x in timing]
    first = [x.get("launch_to_first_step_s") for x in timing]
    setup = [f - s for s, f in zip(start, first, strict=True) if s is not None and f is not None]
    teardown = [
        x["wall_s"] - x["launch_to_start_s"] - x["total_s"]
        for x in timing
        if {"wall_s", "launch_to_start_s", "total_s"} <= x.keys()
    ]
    rows = [
        ("launch -> first optimiser step", median(first)),
        ("  launch -> run_trial starts (imports, config)", median(start)),
        ("  run_trial start -> first step (data, model)", median(setup)),
        ("  run_trial's own process_to_first_step_s", median([x.get("process_to_first_step_s") for x in timing])),
        ("trial process, launch to exit", median(process)),
        ("run_trial's own total_s", median([x.get("total_s") for x in timing])),
        ("  run_trial end -> process exit", median(teardown)),
        ("orchestrator around a trial (ask..tell)", median(around)),
        ("orchestrator between trials", median(gaps)),
    ]  # fmt: skip
    states = [t.state.name for t in trials]
    print(f"\nHPO per-trial overhead: median of {len(trials)} trials ({', '.join(states)}),")
    print(f"debug space, {' '.join(TINY_TRIAL)}; whole search {search_s:.1f} s\n")
    width = max(len(name) for name, _ in rows)
    print(f"{'stage'.ljust(width)}  seconds")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()

"""Time to a good model: wall-clock seconds from a trial's process start until its validation
macro-F1 first reaches the target (0.9), on the MM-Fit twin's default split, median over seeds.

    python benchmarks/bench_time_to_accuracy.py [--seeds 0,1,2] [--target 0.9] [--budget 600]
                                                [hydra overrides ...]

Each seed runs the real entrypoint (``experiments/run_trial.py``, default config) in its own process,
one after the other. The clock starts just before the process is launched, so interpreter start-up,
imports, data loading and model construction count; it stops when the trial prints the epoch summary
line whose ``val_f1`` reaches the target (printed after validation, once the epoch's checkpoint is
saved: the good model exists on disk at that moment). The trial is then stopped. A seed that does
not reach the target within ``--budget`` seconds (or whose training ends first) reports the best
validation F1 it printed. A trial that runs to its end is cross-checked: the F1 values read from its
console must be those of its results.json history.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from machine import REPO, describe_machine, twin_overrides

# har.training.callbacks.EpochHistory.summary_line: "epoch   3 | ... | val_f1 0.8123 | ... | 12.3s"
EPOCH_LINE = re.compile(
    r"epoch\s+(?P<epoch>\d+) \|.*?\| val_f1 (?P<f1>[0-9.]+) \|.*\| (?P<s>[0-9.]+)s$"
)
QUIET = ["trainer.progress_bar=false", "trainer.plots=false"]


@dataclass
class SeedRun:
    seed: int
    reached_s: float | None = None  # launch -> epoch line with val_f1 >= target
    reached_epoch: int | None = None
    f1s: list[float] = field(default_factory=list)  # per epoch, as printed
    epoch_s: list[float] = field(default_factory=list)
    ended: str = ""  # reached | budget | finished (exit code)

    @property
    def best(self) -> float | None:
        return max(self.f1s) if self.f1s else None


def run_seed(seed: int, target: float, budget_s: float, overrides: list[str], out: Path) -> SeedRun:
    run_dir = out / f"seed{seed}"
    command = [
        sys.executable, "experiments/run_trial.py", *twin_overrides(), *QUIET, *overrides,
        f"seed={seed}", f"hydra.run.dir={run_dir}",
    ]  # fmt: skip
    print("$", " ".join(command), file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each line as it is printed
    record = SeedRun(seed)
    launched = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    deadline = _Deadline(proc, launched + budget_s)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = EPOCH_LINE.search(line.rstrip())
            if match is None:
                continue
            record.f1s.append(float(match["f1"]))
            record.epoch_s.append(float(match["s"]))
            if record.f1s[-1] >= target:
                record.reached_s = time.perf_counter() - launched
                record.reached_epoch = int(match["epoch"])
                record.ended = "reached"
                break
        else:
            record.ended = "budget" if deadline.expired else f"finished (exit {proc.wait()})"
    finally:
        deadline.cancel()
        _stop(proc)
    if record.ended == "finished (exit 0)":
        _cross_check(record, run_dir)
    return record


class _Deadline:
    """Stops the trial when the budget is spent (the line reader then sees end of output)."""

    def __init__(self, proc: subprocess.Popen, at: float) -> None:
        import threading

        self.expired = False
        self._timer = threading.Timer(max(0.0, at - time.perf_counter()), self._expire, (proc,))
        self._timer.daemon = True
        self._timer.start()

    def _expire(self, proc: subprocess.Popen) -> None:
        self.expired = True
        _stop(proc)

    def cancel(self) -> None:
        self._timer.cancel()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _cross_check(record: SeedRun, run_dir: Path) -> None:
    history = json.loads((run_dir / "results.json").read_text())["history"].get("val_f1", [])
    if [round(v, 4) for v in history] != record.f1s:
        raise RuntimeError(f"seed {record.seed}: console F1 {record.f1s} != results.json {history}")


def _seeds(text: str) -> list[int]:
    return [int(seed) for seed in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Comma-separated, so that a Hydra override after it is not read as one more seed.
    parser.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="e.g. 0,1,2")
    parser.add_argument("--target", type=float, default=0.9, help="validation macro-F1 to reach")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per seed")
    args, overrides = parser.parse_known_args()
    machine = describe_machine()
    with tempfile.TemporaryDirectory(prefix="bench_tta_") as tmp:
        runs = [run_seed(s, args.target, args.budget, overrides, Path(tmp)) for s in args.seeds]
    print_table(args.target, args.budget, overrides, runs, machine)


def print_table(target, budget, overrides, runs: list[SeedRun], machine: str) -> None:
    print(f"# bench_time_to_accuracy: {machine}")
    print(f"# load average after: {describe_machine().rsplit('load average ', 1)[1]}")
    print(f"# target val macro-F1 {target}, budget {budget:.0f} s per seed, "
          f"overrides: {' '.join(overrides) or '(defaults)'}")  # fmt: skip
    print(f"| seed | s to val F1 ≥ {target} | epoch | best val F1 seen | median s / epoch | ended "
          "| val F1 by epoch |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        reached = f"{r.reached_s:.1f}" if r.reached_s is not None else "not reached"
        epoch = r.reached_epoch if r.reached_epoch is not None else ""
        per_epoch = f"{statistics.median(r.epoch_s):.1f}" if r.epoch_s else ""
        best = f"{r.best:.4f}" if r.best is not None else ""
        curve = " ".join(f"{f:.3f}" for f in r.f1s)
        print(f"| {r.seed} | {reached} | {epoch} | {best} | {per_epoch} | {r.ended} | {curve} |")
    times = [r.reached_s for r in runs if r.reached_s is not None]
    if len(times) == len(runs):
        print(f"| **median** | **{statistics.median(times):.1f}** | | | | | |")
    else:
        bests = [r.best for r in runs if r.best is not None]
        median_best = f"{statistics.median(bests):.4f}" if bests else "n/a"
        print(f"| **median** | {len(times)}/{len(runs)} reached | | **{median_best}** | | | |")


if __name__ == "__main__":
    main()

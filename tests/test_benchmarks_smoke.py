"""Every benchmark in benchmarks/ runs, in a tiny configuration, and prints a table that adds up.

The benchmarks are scripts run from a checkout (``python benchmarks/<name>.py``), so they are run
the same way here, as subprocesses on the suite's twin.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from har.training.callbacks import EpochHistory
from tests.conftest import REPO, TEST_DATA_DIR

TINY_TRIAL = [
    "data=mmfit_debug", "scenario=debug", "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2", "trainer.limit_test_batches=2",
]  # fmt: skip
DEBUG_SPLIT = ["data.train_workouts=[w01]", "data.val_workouts=[w14]", "data.test_workouts=[w09]"]


def run_benchmark(name: str, *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def table(stdout: str) -> dict[str, list[str]]:
    """``| first cell | other cells |`` rows by their first cell (bold marks removed)."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def number(cell: str) -> float:
    return float(re.sub(r"[^0-9.eE+-]", "", cell))


def load_benchmark(name: str):
    """Import a benchmark script as a module (its sibling ``machine.py`` importable)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return module


def test_the_time_to_accuracy_parser_reads_the_trials_epoch_line():
    bench = load_benchmark("bench_time_to_accuracy")
    history = EpochHistory()
    history.history.update(
        epoch=[0, 1], train_loss=[1.2, 0.9], val_loss=[1.0, 0.8], val_f1=[0.9012, 0.8512],
        val_sim_f1=[0.5, 0.6], val_mse=[0.3, 0.2],
    )  # fmt: skip
    line = f"[2025-01-01 10:00:00,000][har][INFO] - {history.summary_line(12.34)}"
    match = bench.EPOCH_LINE.search(line)
    # The epoch's own F1, not the best one printed beside it.
    assert (match["epoch"], match["f1"], match["s"]) == ("1", "0.8512", "12.3")


@pytest.mark.slow
def test_bench_train():
    rows = table(run_benchmark("bench_train", "--batches", "3", "--warmup", "1", *TINY_TRIAL))
    step = number(rows["Lightning training step"][0])
    parts = [number(rows[p][0]) for p in ("fetch", "forward", "backward", "optimiser")]
    assert step > 0 and all(p > 0 for p in parts)
    overhead = number(rows["framework overhead (Lightning − hand loop)"][0])
    assert overhead == pytest.approx(step - sum(parts), abs=0.05)
    ceiling = number(rows["ceiling (batch in memory)"][0])
    assert number(rows["loop / ceiling"][2]) == pytest.approx(100 * ceiling / step, abs=0.1)


@pytest.mark.slow
def test_bench_time_to_accuracy_runs_to_the_end_when_the_target_is_out_of_reach():
    out = run_benchmark(
        "bench_time_to_accuracy", "--seeds", "0", "--target", "1.01", "--budget", "300",
        *TINY_TRIAL, "trainer.epochs=2", "trainer.early_stopping.enabled=false",
    )  # fmt: skip
    rows = table(out)
    # Two epochs printed and cross-checked against results.json (the benchmark raises otherwise).
    assert rows["0"][0] == "not reached" and rows["0"][4] == "finished (exit 0)"
    assert 0.0 <= number(rows["0"][2]) <= 1.0
    assert len(rows["0"][5].split()) == 2  # the learning curve, one F1 per epoch
    assert rows["median"][0] == "0/1 reached"


@pytest.mark.slow
def test_bench_preprocess_cold_then_warm():
    out = run_benchmark(
        "bench_preprocess", "--minutes", "4", "--warm-runs", "1",
        f"env.data_dir={TEST_DATA_DIR}", *DEBUG_SPLIT,
    )  # fmt: skip
    rows = table(out)
    cold, warm = number(rows["cold (empty cache)"][2]), number(rows["warm cache, median of 1"][2])
    assert 0 < warm < cold
    assert "3 workouts x 4 min" in out


@pytest.mark.slow
def test_bench_hpo_overhead():
    rows = run_benchmark("bench_hpo_overhead", "--n-trials", "1")
    first_step = re.search(r"launch -> first optimiser step\s+([0-9.]+)", rows)
    assert first_step is not None and float(first_step[1]) > 0


@pytest.mark.slow
def test_bench_threads():
    rows = table(run_benchmark("bench_threads", "--steps", "2", "--warmup", "1", "scenario=debug"))
    cores = len(os.sched_getaffinity(0))
    assert str(cores) in rows and str(max(1, cores // 2)) in rows
    assert all(number(cells[1]) > 0 for cells in rows.values() if cells[0][0].isdigit())

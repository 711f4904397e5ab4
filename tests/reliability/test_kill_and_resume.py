"""A trial killed with SIGKILL during epoch 2 of 3 and resumed into the same run dir ends with
exactly the metrics of an uninterrupted run with the same seed.

Three real ``python -m experiments.run_trial`` processes on the suite's twin: the uninterrupted
run, the run that is killed as soon as epoch 1's ``last.ckpt`` exists (so the kill lands inside
epoch 2), and ``resume=true`` into the killed run's directory.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.bad_inputs.entrypoint import REPO, assert_user_error, run_in_process
from tests.conftest import TEST_CACHE_DIR, TEST_DATA_DIR

# Slow: three short trainings in fresh interpreters (~1 min). One xdist worker runs this file
# (make test): its module-scoped fixtures are built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability.test_kill_and_resume")]

# Epochs long enough that a kill 0.3 s after epoch 1's checkpoint lands mid-epoch: the debug
# workout windowed every 0.1 s gives 37 batches; 96 batches (three passes) take ~3 s on a 2-core CPU.
ARGS = [
    "data=mmfit_debug", "scenario=debug", "data.stride_seconds=0.1", "trainer.epochs=3",
    "trainer.limit_train_batches=96",
    "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "trainer.progress_bar=false",
    f"env.data_dir={TEST_DATA_DIR}",
    f"env.cache_dir={TEST_CACHE_DIR}",
]  # fmt: skip
KILL_DELAY_S = 0.3  # lets Lightning finish writing last.ckpt


def command(run_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "experiments.run_trial",
        *ARGS,
        *extra,
        f"hydra.run.dir={run_dir}",
    ]


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def run_killed_in_epoch_2(run_dir: Path) -> None:
    process = subprocess.Popen(
        command(run_dir), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    try:
        while not last.exists():
            assert process.poll() is None, "the run ended before writing last.ckpt"
            assert time.monotonic() < deadline, "no last.ckpt after 300 s"
            time.sleep(0.05)
        time.sleep(KILL_DELAY_S)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("kill_and_resume")
    uninterrupted, killed = root / "uninterrupted", root / "killed"
    done = subprocess.run(command(uninterrupted), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    run_killed_in_epoch_2(killed)
    checkpoint = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 0, "the kill came after epoch 2 had finished: raise the batches"
    assert results(killed)["status"] == "running"  # a killed run never looks finished

    resumed = subprocess.run(
        command(killed, "resume=true"), cwd=REPO, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return uninterrupted, killed


def test_resumed_run_ends_with_the_uninterrupted_metrics(runs):
    uninterrupted, resumed = (results(run_dir) for run_dir in runs)
    assert resumed["status"] == uninterrupted["status"] == "completed"
    assert resumed["checkpoint"]["resumed_from"].endswith("last.ckpt")
    assert resumed["final_metrics"] == uninterrupted["final_metrics"]  # bit for bit
    assert resumed["final_metrics"]["epochs_run"] == 3
    for series, values in uninterrupted["history"].items():
        if series != "epoch_seconds":
            assert resumed["history"][series] == values, series


def test_the_csv_log_keeps_the_epochs_before_the_kill(runs):
    uninterrupted, resumed = (metrics_rows(run_dir) for run_dir in runs)
    assert {row["epoch"] for row in resumed} >= {"0", "1", "2"}
    assert resumed == uninterrupted  # rows of the re-run part of epoch 2 are not doubled


def metrics_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_checkpoints_load_weights_only_with_every_state_of_the_run(runs):
    checkpoint = torch.load(runs[1] / "checkpoints" / "last.ckpt", weights_only=True)
    assert {"RNGStateCheckpoint", "RunSettingsRecord", "EpochHistory"} <= set(
        checkpoint["callbacks"]
    )
    assert "train_generator" in checkpoint["MMFitDataModule"]


def test_resuming_with_another_configuration_fails_naming_the_keys(runs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(runs[1] / "checkpoints", run_dir / "checkpoints")
    outcome = run_in_process(
        [*ARGS, "resume=true", "model.feature_extractor.n_filters=4", "scenario.beta=0.25"], run_dir
    )
    line = assert_user_error(outcome, "different configuration", "last.ckpt")
    assert "model.feature_extractor.n_filters (checkpoint 8, now 4)" in line
    assert "scenario.beta (checkpoint 0.5, now 0.25)" in line
    assert results(run_dir)["status"] == "failed"
    assert os.listdir(run_dir / "checkpoints") == os.listdir(runs[1] / "checkpoints")

"""Issue 3's acceptance tests: the real `run_trial` on the synthetic twin's debug split.

Each trial is a real training run (tens of seconds on a laptop CPU), hence the `slow` marker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from har.hpo.storage import open_storage

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hpo.test_acceptance")]

REPO = Path(__file__).resolve().parents[2]
# The seed README's quick debug search, shrunk: 2 epochs of a few batches each.
SHRINK = [
    "data=mmfit_debug",
    "trainer.epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.plots=false",
    "trainer.progress_bar=false",
]


def run_hpo_cli(
    *args: str, entry: str = "experiments/run_hpo.py", timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH")) if p)
    command = [sys.executable, *(["-m", entry] if "/" not in entry else [entry]), *args]
    result = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    return result


def load(output_root: Path, name: str, storage: str | None = None) -> optuna.Study:
    location = storage or f"sqlite:///{output_root / f'{name}.db'}"
    return optuna.load_study(study_name=name, storage=open_storage(location, heartbeat=False))


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.get_trials()]


@pytest.fixture(scope="module")
def private_tmp() -> Iterator[Path]:
    """A temporary root of our own: these tests run for minutes, and on a shared machine other
    pytest sessions prune /tmp/pytest-of-<user> under running tests (seen: a study deleted)."""
    root = Path(tempfile.mkdtemp(prefix="har-hpo-acceptance-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def tmp_path(private_tmp: Path, request: pytest.FixtureRequest) -> Path:
    path = private_tmp / request.node.name
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def quick_search(private_tmp: Path, twin_overrides) -> tuple[Path, list[str]]:
    output_root = private_tmp / "quick" / "mmfit_sc2_debug"
    args = [
        "--metric", "val_f1", "--direction", "maximize", "--study-name", "mmfit_sc2_debug",
        "--space-config", "conf/hpo/scenario2_mmfit.yaml", "--output-root", str(output_root),
    ]  # fmt: skip
    overrides = [*SHRINK, *twin_overrides]
    result = run_hpo_cli("--n-trials", "3", *args, *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Best val_f1 =" in result.stdout
    return output_root, [*args, *overrides]


def test_quick_debug_search_writes_outputs_that_match_the_trials(quick_search) -> None:
    output_root, _ = quick_search
    best = json.loads((output_root / "best.json").read_text())
    values = {}
    for run_dir in (output_root / "trials").iterdir():
        results = json.loads((run_dir / "results.json").read_text())
        assert results["status"] == "completed"
        values[str(run_dir)] = results["final_metrics"]["best_val_f1"]
    assert len(values) == 3
    assert best["best_value"] == values[best["run_dir"]] == max(values.values())
    assert best["overrides"].count("=") == 8  # every knob of the scenario 2 space
    rows = (output_root / "trials.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[1].startswith("0,COMPLETE,")
    assert (output_root / "optimization_history.png").stat().st_size > 0
    assert (output_root / "param_importances.png").stat().st_size > 0


def test_resume_continues_numbers_and_a_crashing_trial_does_not_stop_the_study(
    quick_search,
) -> None:
    output_root, args = quick_search
    crashed = run_hpo_cli("--n-trials", "1", *args, "optim.lr=-1")  # run_trial exits 2
    assert crashed.returncode == 0, crashed.stderr[-3000:]
    resumed = run_hpo_cli("--n-trials", "1", *args, entry="experiments.run_hpo")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    study = load(output_root, "mmfit_sc2_debug")
    assert [t.number for t in study.get_trials()] == [0, 1, 2, 3, 4]
    assert states(study) == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    failed = study.get_trials()[3]
    assert "code 2" in failed.user_attrs["fail_reason"]
    assert "optim.lr" in failed.user_attrs["log_tail"]


def test_two_workers_on_a_journal_complete_exactly_n_trials(tmp_path: Path, twin_overrides) -> None:
    result = run_hpo_cli(
        "--n-trials", "3", "--n-workers", "2", "--study-name", "two", "--output-root",
        str(tmp_path), "--space-config", "conf/hpo/debug.yaml", *SHRINK, *twin_overrides,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    study = load(tmp_path, "two", f"journal:{tmp_path / 'two.journal'}")
    assert sorted(t.number for t in study.get_trials()) == [0, 1, 2]
    assert states(study) == ["COMPLETE"] * 3
    assert len({t.user_attrs["har.worker"]["pid"] for t in study.get_trials()}) == 2


def test_median_pruner_prunes_a_hopeless_trial_before_its_last_epoch(
    tmp_path: Path, twin_overrides
) -> None:
    # Only a knob that leaves the loss scale alone is searched, so val_loss values are comparable.
    space = tmp_path / "space.yaml"
    space.write_text(
        "hydra:\n  sweeper:\n    params:\n      trainer.gradient_clip_val: choice(0.0, 5.0)\n"
    )
    args = [
        "--study-name", "prune", "--output-root", str(tmp_path), "--space-config", str(space),
        "--metric", "val_loss", "--pruner", "median", "--pruner-startup-trials", "2",
        "--pruner-warmup-epochs", "0", *SHRINK, "trainer.epochs=3",
        "trainer.limit_train_batches=5", "trainer.early_stopping.enabled=false", *twin_overrides,
    ]  # fmt: skip
    good = run_hpo_cli("--n-trials", "2", *args, "optim.lr=0.003")
    assert good.returncode == 0, good.stderr[-3000:]
    hopeless = run_hpo_cli("--n-trials", "1", *args, "optim.lr=1e-9")  # learns nothing
    assert hopeless.returncode == 0, hopeless.stderr[-3000:]
    study = load(tmp_path, "prune")
    assert states(study) == ["COMPLETE", "COMPLETE", "PRUNED"]
    pruned = study.get_trials()[2]
    assert max(pruned.intermediate_values) < 2  # stopped before the last of 3 epochs
    results = json.loads((tmp_path / "trials" / "trial_2" / "results.json").read_text())
    assert results["status"] == "pruned" and results["final_metrics"]["epochs_run"] < 3


def _trial_pids(run_dir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if f"hydra.run.dir={run_dir}" in cmdline:
                pids.append(int(proc.name))
    return pids


def test_orchestrator_killed_mid_trial_resumes_without_running_trials(
    tmp_path: Path, twin_overrides
) -> None:
    args = [
        "--study-name", "killed", "--output-root", str(tmp_path),
        "--space-config", "conf/hpo/debug.yaml", *SHRINK, *twin_overrides,
    ]  # fmt: skip
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH")) if p)
    orchestrator = subprocess.Popen(
        [sys.executable, "experiments/run_hpo.py", "--n-trials", "2", *args],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    run_dir = tmp_path / "trials" / "trial_0"
    deadline = time.monotonic() + 120
    while not _trial_pids(run_dir):
        assert time.monotonic() < deadline, "trial 0 never started"
        time.sleep(0.2)
    time.sleep(2)  # well inside the trial
    orchestrator.send_signal(signal.SIGKILL)
    orchestrator.wait(timeout=30)
    deadline = time.monotonic() + 60
    while _trial_pids(run_dir):  # the trial follows its parent (parent-death signal)
        assert time.monotonic() < deadline, "the orphaned trial kept running"
        time.sleep(0.2)
    assert states(load(tmp_path, "killed")) == ["RUNNING"]

    resumed = run_hpo_cli("--n-trials", "1", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    study = load(tmp_path, "killed")
    assert states(study) == ["FAIL", "COMPLETE"]
    assert "died" in study.get_trials()[0].user_attrs["fail_reason"]

"""Parallel workers split the cores: each trial gets OMP_NUM_THREADS = cores // n_workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from har.hpo import plan_from_args as planning
from har.hpo.plan_from_args import thread_share
from har.launch.trial_process import trial_environment
from tests.hpo.conftest import run_hpo


def test_thread_share_divides_the_usable_cores(monkeypatch):
    monkeypatch.setattr(planning.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert [thread_share(n) for n in (1, 2, 3, 8, 16)] == [None, 4, 2, 1, 1]


def test_trial_environment_sets_threads_unless_the_user_did():
    assert trial_environment({}, threads=3)["OMP_NUM_THREADS"] == "3"
    assert trial_environment({"OMP_NUM_THREADS": "5"}, threads=3)["OMP_NUM_THREADS"] == "5"
    assert "OMP_NUM_THREADS" not in trial_environment({}, threads=None)


def _record_trial_threads(project: Path) -> None:
    """Make the fake trial write the OMP_NUM_THREADS it was started with into its run dir."""
    script = project / "experiments" / "run_trial.py"
    script.write_text(
        script.read_text()
        + '\n(run_dir / "omp").write_text(os.environ.get("OMP_NUM_THREADS", "unset"))\n'
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_each_trial_process_gets_its_share(fake_project: Path, monkeypatch, workers: int) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _record_trial_threads(fake_project)
    out = fake_project / "out"
    result = run_hpo(
        fake_project, "--n-trials", "2", "--n-workers", str(workers), "--study-name", "t",
        "--space-config", "space.yaml", "--output-root", str(out), "--no-plots",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = {p.read_text() for p in (out / "trials").glob("trial_*/omp")}
    cores = len(os.sched_getaffinity(0))
    assert seen == ({"unset"} if workers == 1 else {str(max(1, cores // workers))})

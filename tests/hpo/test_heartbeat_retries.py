"""A killed worker's trial, failed by heartbeats and retried, still lets the study reach its total
(issue 8). SQLite through the database ("rdb") path stands in for PostgreSQL: same heartbeats."""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest

from har.hpo.search_plan import WORKER_ATTR
from har.hpo.storage import StorageSpec, open_storage
from har.hpo.study import count_started
from har.hpo.worker import heartbeat, wait_for_retries
from har.launch.liveness import current_process

SPACE = {"x": optuna.distributions.FloatDistribution(0, 1)}


def study_with_heartbeats(tmp_path: Path) -> optuna.Study:
    spec = StorageSpec("rdb", f"sqlite:///{tmp_path / 'r.db'}")
    storage = open_storage(spec, heartbeat=True, heartbeat_interval_s=1, heartbeat_grace_s=2)
    return optuna.create_study(study_name="s", storage=storage)


def ask(study: optuna.Study) -> optuna.Trial:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return study.ask(SPACE)


def ask_for_a_worker_that_dies(study: optuna.Study) -> optuna.Trial:
    """A trial whose worker beat once (as run_one_trial does at once) and then died."""
    trial = ask(study)
    study._storage.record_heartbeat(trial._trial_id)
    return trial


def budget(tmp_path: Path, total: int, storage: str = "r.db") -> SimpleNamespace:
    """What wait_for_retries reads of a SearchPlan."""
    kind = "rdb" if storage == "r.db" else "sqlite"
    return SimpleNamespace(
        lock_path=tmp_path / ".lock",
        target_total=total,
        storage=StorageSpec(kind, f"sqlite:///{tmp_path / storage}"),
        metric="val_f1",
    )


def test_a_retried_failure_gives_its_place_in_the_budget_to_its_retry(tmp_path: Path) -> None:
    study = study_with_heartbeats(tmp_path)
    done = ask(study)
    study.tell(done, 0.5)
    dead = ask_for_a_worker_that_dies(study)  # stale after the 2 s grace
    assert count_started(study) == 2
    time.sleep(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "FAIL", "WAITING"]
    assert count_started(study) == 1  # the FAIL is replaced by its (queued) retry
    retry = ask(study)
    assert retry.params == dead.params and count_started(study) == 2


def test_a_plain_failure_still_counts(tmp_path: Path) -> None:
    study = study_with_heartbeats(tmp_path)
    study.tell(ask(study), state=optuna.trial.TrialState.FAIL)
    assert count_started(study) == 1


def test_a_worker_with_no_budget_left_waits_for_a_dead_worker_trial(tmp_path: Path) -> None:
    study = study_with_heartbeats(tmp_path)
    ask_for_a_worker_that_dies(study)
    started = time.monotonic()
    assert wait_for_retries(study, budget(tmp_path, 1), threading.Event())
    assert time.monotonic() - started < 6  # within grace + interval (+ scheduling slack)
    assert [t.state.name for t in study.get_trials()] == ["FAIL", "WAITING"]


def test_a_live_trial_is_waited_for_one_grace_period_at_most(tmp_path: Path) -> None:
    study = study_with_heartbeats(tmp_path)
    trial = ask(study)
    with heartbeat(study, trial):
        started = time.monotonic()
        assert not wait_for_retries(study, budget(tmp_path, 1), threading.Event())
        assert 2.5 < time.monotonic() - started < 6
    assert study.get_trials()[0].state.name == "RUNNING"


@pytest.mark.parametrize("storage", ["file", "nothing running"])
def test_no_wait_without_heartbeats_or_running_trials(tmp_path: Path, storage: str) -> None:
    if storage == "file":
        study = optuna.create_study(
            storage=open_storage(f"sqlite:///{tmp_path}/f.db", heartbeat=True)
        )
        # A running trial of a live worker (this process): nothing to wait for.
        ask(study).set_user_attr(WORKER_ATTR, current_process().to_attr())
    else:
        study = study_with_heartbeats(tmp_path)
    started = time.monotonic()
    plan = budget(tmp_path, 1, "f.db" if storage == "file" else "r.db")
    assert not wait_for_retries(study, plan, threading.Event())
    assert time.monotonic() - started < 0.5

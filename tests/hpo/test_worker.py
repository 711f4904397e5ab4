"""Worker pieces that the fake-project tests cannot reach: heartbeats for database storages."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import optuna

from har.hpo.storage import StorageSpec, open_storage
from har.hpo.worker import heartbeat


def fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)


def test_heartbeat_keeps_a_running_trial_alive_and_its_absence_fails_it(tmp_path: Path) -> None:
    # A database storage (here SQLite through the "rdb" path) with a fast heartbeat.
    spec = StorageSpec("rdb", f"sqlite:///{tmp_path / 'r.db'}")
    storage = open_storage(spec, heartbeat=True, heartbeat_interval_s=1, heartbeat_grace_s=2)
    study = optuna.create_study(study_name="s", storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    with heartbeat(study, trial):
        time.sleep(3.5)
        fail_stale(study)
        assert study.get_trials()[0].state.name == "RUNNING"
    time.sleep(2.5)
    fail_stale(study)
    failed, retry = study.get_trials()
    assert (failed.state.name, retry.state.name) == ("FAIL", "WAITING")
    assert retry.params == trial.params  # the retry runs the same configuration


def test_heartbeat_is_a_no_op_for_file_storages(tmp_path: Path) -> None:
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path}/s.db", heartbeat=True))
    trial = study.ask()
    with heartbeat(study, trial):
        pass

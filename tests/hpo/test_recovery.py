"""Settling the trials of dead workers (issue 17): finished work is adopted, the rest is lost.

Unit tests of study.recover_stale_trials and worker.adopt_retried_run on real Optuna storages: a
journal file (workers judged by pid on this host, by heartbeat file elsewhere) and SQLite through
the database path (Optuna's heartbeats and retry callback, as on PostgreSQL).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

from har.hpo.search_plan import (
    LAUNCH_DIGEST_ATTR,
    RECOVERED_ATTR,
    RECOVERED_FROM_ATTR,
    RUN_DIR_ATTR,
    WORKER_ATTR,
)
from har.hpo.storage import HEARTBEAT_GRACE_ENV, StorageSpec, open_storage
from har.hpo.study import count_started, mark_failed, recover_stale_trials
from har.hpo.worker import adopt_retried_run
from har.launch.heartbeat_files import HeartbeatFiles
from har.launch.liveness import ProcessIdentity
from har.launch.run_records import record_launch

SPACE = {"optim.lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
ELSEWHERE = ProcessIdentity("another-node", 4242, 1)
GRACE_S = 5


@pytest.fixture
def journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[optuna.Study, SimpleNamespace]:
    monkeypatch.setenv(HEARTBEAT_GRACE_ENV, str(GRACE_S))
    spec = StorageSpec("journal", str(tmp_path / "s.journal"))
    study = optuna.create_study(study_name="s", storage=open_storage(spec, heartbeat=False))
    return study, SimpleNamespace(storage=spec, metric="val_f1")


def ask(study: optuna.Study) -> optuna.Trial:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return study.ask(SPACE)


def launched(study: optuna.Study, root: Path, worker: ProcessIdentity) -> optuna.Trial:
    """A trial as run_one_trial leaves it: its worker, run dir and launch digest recorded, one
    intermediate value reported."""
    trial = ask(study)
    run_dir = root / "trials" / f"trial_{trial.number}"
    trial.set_user_attr(WORKER_ATTR, worker.to_attr())
    trial.set_user_attr(RUN_DIR_ATTR, str(run_dir))
    trial.set_user_attr(LAUNCH_DIGEST_ATTR, f"digest-{trial.number}")
    record_launch(run_dir, f"digest-{trial.number}")
    trial.report(0.3, step=0)
    return trial


def finish_run(trial: optuna.Trial, value: float, status: str = "completed", **config) -> None:
    """What run_trial writes last: results.json with the resolved config and the final metrics."""
    resolved = {
        "optim": {"lr": trial.params["optim.lr"]},
        "optuna": {"trial_number": trial.number},
    }
    payload = {
        "status": status,
        "config": resolved | config,
        "final_metrics": {"best_val_f1": value} if status == "completed" else {},
    }
    Path(trial.user_attrs[RUN_DIR_ATTR], "results.json").write_text(json.dumps(payload))


def heartbeat_aged(plan: SimpleNamespace, worker: ProcessIdentity, age_s: float) -> None:
    files = HeartbeatFiles(plan.storage.heartbeat_dir)
    files.beat(worker)
    stamp = files.path_of(worker).stat().st_mtime - age_s
    os.utime(files.path_of(worker), (stamp, stamp))


def test_a_worker_on_another_host_is_judged_by_its_heartbeat_file(journal, tmp_path) -> None:
    study, plan = journal
    trial = launched(study, tmp_path, ELSEWHERE)
    finish_run(trial, 0.7)
    heartbeat_aged(plan, ELSEWHERE, age_s=1)  # beating: alive, whatever its run dir says
    recovery = recover_stale_trials(study, plan)
    assert recovery.pending == 1 and study.trials[0].state == TrialState.RUNNING

    heartbeat_aged(plan, ELSEWHERE, age_s=GRACE_S + 10)  # silent past the grace: dead
    recovery = recover_stale_trials(study, plan)
    adopted = study.trials[0]
    assert recovery.adopted == [0] and adopted.state == TrialState.COMPLETE
    assert adopted.value == 0.7 and adopted.intermediate_values == {0: 0.3}
    assert "was adopted" in adopted.user_attrs[RECOVERED_ATTR]


def test_a_dead_worker_elsewhere_with_nothing_finished_loses_its_trial(journal, tmp_path) -> None:
    study, plan = journal
    finish_run(launched(study, tmp_path, ELSEWHERE), 0.0, status="running")
    heartbeat_aged(plan, ELSEWHERE, age_s=GRACE_S + 10)
    assert recover_stale_trials(study, plan).failed == [0]
    assert study.trials[0].state == TrialState.FAIL and study.trials[0].user_attrs["lost"]
    assert count_started(study) == 0  # its place in the budget goes to a new trial


def test_database_storages_leave_a_trial_that_names_its_worker_to_optuna(tmp_path) -> None:
    spec = StorageSpec("rdb", f"sqlite:///{tmp_path / 'plain.db'}")  # no heartbeats: never stale
    study = optuna.create_study(storage=open_storage(spec, heartbeat=False))
    launched(study, tmp_path, ELSEWHERE)
    plan = SimpleNamespace(storage=spec, metric="val_f1")
    assert recover_stale_trials(study, plan).failed == []
    assert study.trials[0].state == TrialState.RUNNING


def test_a_trial_asked_by_a_worker_that_died_before_its_first_beat_is_retried(tmp_path) -> None:
    spec = StorageSpec("rdb", f"sqlite:///{tmp_path / 'r.db'}")
    storage = open_storage(spec, heartbeat=True, heartbeat_interval_s=1, heartbeat_grace_s=1)
    study = optuna.create_study(storage=storage)
    ask(study)  # never beat, names no worker: Optuna's heartbeats alone would never judge it
    plan = SimpleNamespace(storage=spec, metric="val_f1")
    recover_stale_trials(study, plan)  # beats for it, once
    assert study.trials[0].state == TrialState.RUNNING
    time.sleep(2.5)  # past the grace, and no live worker beat it
    recover_stale_trials(study, plan)  # must not beat again: it is stale now
    assert [t.state.name for t in study.get_trials()] == ["FAIL", "WAITING"]  # retried
    assert count_started(study) == 0


def test_a_lost_trial_whose_run_finished_later_is_carried_by_a_new_trial(journal, tmp_path) -> None:
    study, plan = journal
    trial = launched(study, tmp_path, ELSEWHERE)
    assert mark_failed(study, trial.number, "its worker died while it was running")
    finish_run(trial, 0.8)  # the run ended after the trial was marked

    assert recover_stale_trials(study, plan, target=0).adopted == []  # no room in the budget
    assert recover_stale_trials(study, plan, target=1).adopted == [1]
    lost, carrier = study.trials
    assert lost.state == TrialState.FAIL  # Optuna never changes a finished trial
    assert carrier.state == TrialState.COMPLETE and carrier.value == 0.8
    assert carrier.params == lost.params and carrier.intermediate_values == {0: 0.3}
    assert carrier.user_attrs[RECOVERED_FROM_ATTR] == 0
    assert carrier.user_attrs[RUN_DIR_ATTR] == lost.user_attrs[RUN_DIR_ATTR]
    assert "fail_reason" not in carrier.user_attrs and "lost" not in carrier.user_attrs
    assert recover_stale_trials(study, plan, target=5).adopted == []  # carried once only
    assert count_started(study) == 1


@pytest.mark.parametrize(
    "spoil",
    ["other launch", "other trial number", "other parameters", "not finished"],
)
def test_a_run_dir_is_adopted_only_when_it_is_finished_work_of_that_launch(
    journal, tmp_path, spoil
) -> None:
    study, plan = journal
    trial = launched(study, tmp_path, ELSEWHERE)
    mark_failed(study, trial.number, "its worker died while it was running")
    run_dir = Path(trial.user_attrs[RUN_DIR_ATTR])
    if spoil == "other launch":
        finish_run(trial, 0.8)
        record_launch(run_dir, "digest-of-another-configuration")
    elif spoil == "other trial number":
        finish_run(trial, 0.8, optuna={"trial_number": 7})
    elif spoil == "other parameters":
        finish_run(trial, 0.8, optim={"lr": 0.5})
    else:
        finish_run(trial, 0.8, status="running")
    assert recover_stale_trials(study, plan, target=5).adopted == []
    assert len(study.trials) == 1


def test_a_heartbeat_retry_takes_the_finished_run_of_the_trial_it_copies(tmp_path) -> None:
    spec = StorageSpec("rdb", f"sqlite:///{tmp_path / 'r.db'}")
    storage = open_storage(spec, heartbeat=True, heartbeat_interval_s=1, heartbeat_grace_s=2)
    study = optuna.create_study(study_name="s", storage=storage)
    original = launched(study, tmp_path, ELSEWHERE)
    finish_run(original, 0.9)  # finished, but its worker died before telling the study
    # What optuna.storages.fail_stale_trials does to a stale trial: FAIL, then the retry
    # callback (RetryHeartbeatStaleTrialCallback) queues a copy with its params and attributes.
    storage.set_trial_state_values(original._trial_id, TrialState.FAIL)
    storage.get_heartbeat_stale_trial_callback()(study, study.trials[0])
    copy = ask(study)
    assert copy.number == 1 and copy.params == original.params

    plan = SimpleNamespace(metric="val_f1")
    outcome = adopt_retried_run(study, copy, plan)
    assert outcome is not None and outcome.state == "complete" and outcome.value == 0.9
    carrier = study.trials[1]
    assert carrier.state == TrialState.COMPLETE and carrier.value == 0.9
    assert carrier.intermediate_values == {0: 0.3}
    assert carrier.user_attrs[RECOVERED_FROM_ATTR] == 0
    assert count_started(study) == 1


def test_a_heartbeat_retry_of_an_unfinished_run_trains_again(tmp_path) -> None:
    spec = StorageSpec("rdb", f"sqlite:///{tmp_path / 'r.db'}")
    storage = open_storage(spec, heartbeat=True, heartbeat_interval_s=1, heartbeat_grace_s=2)
    study = optuna.create_study(study_name="s", storage=storage)
    original = launched(study, tmp_path, ELSEWHERE)
    finish_run(original, 0.0, status="running")
    storage.set_trial_state_values(original._trial_id, TrialState.FAIL)
    storage.get_heartbeat_stale_trial_callback()(study, study.trials[0])
    copy = ask(study)
    assert adopt_retried_run(study, copy, SimpleNamespace(metric="val_f1")) is None
    assert study.trials[1].state == TrialState.RUNNING  # left for run_one_trial

"""The study itself: create or resume it, clear trials left RUNNING by dead workers, count trials.

Resuming is Optuna's `load_if_exists`: the same study name and storage continue the same study, trial
numbers carry on, and finished trials are never rerun. What a resumed study must agree on (metric,
direction) is checked here, because mixing F1 values and losses in one study would be silent garbage.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import optuna
from optuna.trial import TrialState

from har.errors import ConfigError
from har.hpo.pruner_choice import PRUNER_ATTR, build_pruner
from har.hpo.search_plan import (
    FAIL_REASON_ATTR,
    LOST_ATTR,
    METRIC_ATTR,
    SPACE_ATTR,
    WORKER_ATTR,
    SearchPlan,
)
from har.hpo.storage import open_storage
from har.launch.liveness import ProcessIdentity, is_alive

log = logging.getLogger(__name__)

STARTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


def open_study(plan: SearchPlan, worker_index: int = 0) -> optuna.Study:
    """Load the (already created) study with this worker's sampler and the plan's pruner."""
    storage = open_storage(plan.storage, heartbeat=True)
    return optuna.load_study(
        study_name=plan.study_name,
        storage=storage,
        sampler=make_sampler(plan, worker_index),
        pruner=build_pruner(plan.pruner),
    )


def make_sampler(plan: SearchPlan, worker_index: int) -> optuna.samplers.BaseSampler:
    # One seed per (seed, worker, resume point): parallel workers and a resumed study must not
    # replay the random start-up proposals that an earlier worker or invocation already tried.
    sampler_seed = int(
        np.random.SeedSequence([plan.seed, worker_index, plan.started_before]).generate_state(1)[0]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # constant_liar: a worker's proposal treats the others' running trials as bad, so parallel
        # workers spread out instead of all proposing the same point.
        return optuna.samplers.TPESampler(seed=sampler_seed, constant_liar=True)


def prepare_study(plan: SearchPlan) -> optuna.Study:
    """Create or resume the study, record what it optimises, and fail stale RUNNING trials."""
    storage = open_storage(plan.storage, heartbeat=True)
    study = optuna.create_study(
        study_name=plan.study_name,
        storage=storage,
        direction=plan.direction,
        load_if_exists=True,
        pruner=build_pruner(plan.pruner),
    )
    existing_direction = study.direction.name.lower()
    if existing_direction != plan.direction:
        raise ConfigError(
            f"study {plan.study_name!r} in {plan.storage} is {existing_direction}d; "
            f"--direction {plan.direction} cannot resume it (use another --study-name)"
        )
    existing_metric = study.user_attrs.get(METRIC_ATTR)
    if existing_metric not in (None, plan.metric):
        raise ConfigError(
            f"study {plan.study_name!r} in {plan.storage} optimises {existing_metric}; "
            f"--metric {plan.metric} cannot resume it (use another --study-name)"
        )
    check_space_matches_history(study, plan)
    study.set_user_attr(METRIC_ATTR, plan.metric)
    study.set_user_attr(PRUNER_ATTR, plan.pruner.to_attr())
    study.set_user_attr(SPACE_ATTR, {k: p.expression for k, p in plan.space.params.items()})
    fail_stale_trials(study, plan)
    return study


def check_space_matches_history(study: optuna.Study, plan: SearchPlan) -> None:
    """A resumed study cannot change a parameter's kind or choices: Optuna would refuse at the
    first trial, so say it now, naming the parameter."""
    seen: dict[str, optuna.distributions.BaseDistribution] = {}
    for trial in study.get_trials(deepcopy=False):
        seen.update(trial.distributions)
    for key, param in plan.space.params.items():
        if key not in seen:
            continue
        try:
            optuna.distributions.check_distribution_compatibility(seen[key], param.distribution)
        except ValueError as error:
            raise ConfigError(
                f"study {plan.study_name!r} searched {key} as {seen[key]}, the space now says "
                f"{param.expression!r} ({error}); start a new study (--study-name) for a new space"
            ) from error


def fail_stale_trials(study: optuna.Study, plan: SearchPlan) -> list[int]:
    """FAIL the RUNNING trials whose worker is gone; returns their numbers.

    Database storages use Optuna's heartbeats (a stale trial is failed and retried). File storages
    have none, so a trial's recorded worker (host, pid, start time) is checked on this host."""
    if not plan.storage.is_local_file:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        return []
    failed = []
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = ProcessIdentity.from_attr(frozen.user_attrs.get(WORKER_ATTR))
        alive = is_alive(worker) if worker is not None else None
        if alive is None:
            where = f"host {worker.host}" if worker else "an unknown worker"
            log.warning("trial %d is RUNNING on %s; left as it is", frozen.number, where)
            continue
        if alive:
            continue
        reason = f"its worker (pid {worker.pid} on {worker.host}) died while it was running"
        if mark_failed(study, frozen.number, reason):
            failed.append(frozen.number)
            log.warning("trial %d: %s; marked FAIL", frozen.number, reason)
    return failed


def mark_failed(study: optuna.Study, trial_number: int, reason: str) -> bool:
    """FAIL (as lost) a RUNNING trial whose worker died, by number (False if another process
    finished it first)."""
    try:
        trial = optuna.trial.Trial(study, trial_id_of(study, trial_number))
        trial.set_user_attr(FAIL_REASON_ATTR, reason)
        trial.set_user_attr(LOST_ATTR, True)
        study.tell(trial_number, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


def trial_id_of(study: optuna.Study, trial_number: int) -> int:
    """The storage id of a trial number (what `optuna.trial.Trial(study, id)` needs); Optuna keeps
    it on FrozenTrial only as `_trial_id`."""
    frozen = study.get_trials(deepcopy=False)[trial_number]
    assert frozen.number == trial_number  # get_trials is ordered by number, without gaps
    return frozen._trial_id


def count_started(study: optuna.Study) -> int:
    """Trials that count against the budget: every state except WAITING (queued, not yet run),
    less the lost ones (``LOST_ATTR``: stopped or orphaned with their worker).

    A FAIL trial that heartbeats retried (Optuna's RetryHeartbeatStaleTrialCallback queues a copy)
    gives its place to the copy: otherwise the queued retry would find the budget already spent and
    never run, and the study would end one result short for every killed worker."""
    trials = study.get_trials(deepcopy=False)
    retried = {
        t.system_attrs["retry_history"][-1] for t in trials if t.system_attrs.get("retry_history")
    }
    return sum(
        t.state in STARTED_STATES
        and not (
            t.state == TrialState.FAIL and (t.number in retried or t.user_attrs.get(LOST_ATTR))
        )
        for t in trials
    )

"""The study itself: create or resume it, settle trials left RUNNING by dead workers, count trials.

Resuming is Optuna's `load_if_exists`: the same study name and storage continue the same study, trial
numbers carry on, and finished trials are never rerun. What a resumed study must agree on (metric,
direction) is checked here, because mixing F1 values and losses in one study would be silent garbage.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from har.errors import ConfigError
from har.hpo.pruner_choice import PRUNER_ATTR, build_pruner
from har.hpo.search_plan import (
    BEAT_FOR_ATTR,
    FAIL_REASON_ATTR,
    LAUNCH_DIGEST_ATTR,
    LOG_TAIL_ATTR,
    LOST_ATTR,
    METRIC_ATTR,
    RECOVERED_ATTR,
    RECOVERED_FROM_ATTR,
    RUN_DIR_ATTR,
    SPACE_ATTR,
    TRIAL_PROCESS_ATTR,
    WORKER_ATTR,
    SearchPlan,
)
from har.hpo.storage import heartbeat_timing, open_storage
from har.launch.heartbeat_files import HeartbeatFiles
from har.launch.liveness import ProcessIdentity, is_alive
from har.launch.run_records import finished_outcome
from har.launch.trial_process import RESULTS_FILE, TrialOutcome

log = logging.getLogger(__name__)

STARTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
# Validation metrics kept on each trial (test metrics stay out of the search on purpose).
KEPT_METRICS = ("best_val_f1", "best_val_loss", "val_f1_last", "val_loss_last", "train_loss_last")
KEPT_TIMINGS = (
    "launch_to_start_s",
    "launch_to_first_step_s",
    "process_to_first_step_s",
    "total_s",
)


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
    recover_stale_trials(study, plan)
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


UNOWNED = "its worker died between asking for it and recording itself"


@dataclass
class Recovery:
    """What one look at the study's RUNNING and lost trials did."""

    adopted: list[int] = field(default_factory=list)  # trial numbers recorded from their run dir
    failed: list[int] = field(default_factory=list)  # lost: worker gone, nothing finished
    pending: int = 0  # RUNNING trials that may still turn out orphaned (worth waiting for)


def recover_stale_trials(
    study: optuna.Study, plan: SearchPlan, target: int | None = None
) -> Recovery:
    """Settle the trials whose worker is gone; call under the budget lock (see worker.budget_lock).

    A RUNNING trial whose worker is dead and whose trial process has ended is *adopted* (recorded
    COMPLETE or PRUNED, with the value of its run dir's results.json and the intermediate values
    it reported) when its run dir holds finished work of that very launch
    (``har.launch.run_records``); otherwise it is FAIL, marked lost, and its place in the budget
    goes to a new trial. A lost FAIL trial whose run dir holds finished work (its run ended after
    it was marked) is carried by a new COMPLETE trial (Optuna never changes a finished trial),
    while the study holds fewer than ``target`` started trials. Database storages judge workers by
    Optuna's heartbeats (a stale trial is failed and a copy queued, see worker.adopt_retried_run)."""
    recovery = Recovery()
    if not plan.storage.is_local_file:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    heartbeats = HeartbeatFiles(plan.storage.heartbeat_dir) if plan.storage.heartbeat_dir else None
    _, grace = heartbeat_timing()
    trials = study.get_trials(deepcopy=False)
    for frozen in trials:
        if frozen.state != TrialState.RUNNING:
            continue
        if not plan.storage.is_local_file:
            if WORKER_ATTR not in frozen.user_attrs:
                beat_once_for(study, frozen)
            continue
        gone = worker_is_gone(frozen, heartbeats, grace)
        if gone is None:
            where = frozen.user_attrs.get(WORKER_ATTR, {}).get("host", "another host")
            log.warning("trial %d is RUNNING on %s; left as it is", frozen.number, where)
            continue
        if not gone or _trial_process_runs(frozen):
            recovery.pending += bool(gone) or _runs_elsewhere(frozen)
            continue
        outcome = _finished_work(frozen, plan)
        why = (
            f"its worker died; {RESULTS_FILE} in {frozen.user_attrs.get(RUN_DIR_ATTR)} was adopted"
        )
        if outcome is not None and _close(study, frozen, outcome, why):
            recovery.adopted.append(frozen.number)
            log.warning("trial %d: %s (%s)", frozen.number, why, outcome.state.upper())
        elif outcome is None:
            worker = frozen.user_attrs.get(WORKER_ATTR)
            reason = (
                f"its worker (pid {worker.get('pid')} on {worker.get('host')}) died while it "
                "was running"
                if isinstance(worker, dict)
                else UNOWNED
            )
            if mark_failed(study, frozen.number, reason):
                recovery.failed.append(frozen.number)
                log.warning("trial %d: %s; marked FAIL (lost)", frozen.number, reason)
    if target is not None:
        room = target - count_started(study)
        recovery.adopted += adopt_lost_runs(study, plan, study.get_trials(deepcopy=False), room)
    return recovery


def worker_is_gone(
    frozen: FrozenTrial, heartbeats: HeartbeatFiles | None, grace_s: float
) -> bool | None:
    """Is the worker that owns this RUNNING trial gone? None: cannot tell (another host, no
    heartbeat folder). A trial without a recorded worker was asked by a worker that died before it
    could record itself: asking and recording happen under the budget lock that the caller holds."""
    worker = ProcessIdentity.from_attr(frozen.user_attrs.get(WORKER_ATTR))
    if worker is None:
        return True
    alive = is_alive(worker)
    if alive is not None:
        return not alive
    if heartbeats is None:
        return None
    age = heartbeats.age_s(worker)
    return age is None or age > grace_s  # no file: its worker ended (it removes it on exit)


def beat_once_for(study: optuna.Study, frozen: FrozenTrial) -> None:
    """Optuna judges only trials that beat at least once; a worker killed between asking for a
    trial and recording itself may have left one that never did. Beat for it once (marked, so
    never again): unless a live worker beats it, it goes stale after the grace and is retried."""
    storage = study._storage
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if not interval or frozen.user_attrs.get(BEAT_FOR_ATTR):
        return
    try:
        optuna.trial.Trial(study, frozen._trial_id).set_user_attr(BEAT_FOR_ATTR, True)
    except optuna.exceptions.UpdateFinishedTrialError:
        return
    storage.record_heartbeat(frozen._trial_id)
    log.warning(
        "trial %d is RUNNING and names no worker; judged by heartbeat from now", frozen.number
    )


def _trial_process_runs(frozen: FrozenTrial) -> bool:
    """The trial process of a dead worker may still be winding down (its parent-death SIGTERM
    arrived, it is still writing): its run dir is judged once it has ended."""
    process = ProcessIdentity.from_attr(frozen.user_attrs.get(TRIAL_PROCESS_ATTR))
    return process is not None and bool(is_alive(process))


def _runs_elsewhere(frozen: FrozenTrial) -> bool:
    worker = ProcessIdentity.from_attr(frozen.user_attrs.get(WORKER_ATTR))
    return worker is not None and is_alive(worker) is None


def _finished_work(frozen: FrozenTrial, plan: SearchPlan) -> TrialOutcome | None:
    run_dir = frozen.user_attrs.get(RUN_DIR_ATTR)
    if not run_dir:
        return None
    expected = {**frozen.params, "optuna.trial_number": frozen.number}
    return finished_outcome(
        Path(run_dir), frozen.user_attrs.get(LAUNCH_DIGEST_ATTR), plan.metric, expected
    )


def _close(study: optuna.Study, frozen: FrozenTrial, outcome: TrialOutcome, why: str) -> bool:
    try:
        trial = optuna.trial.Trial(study, frozen._trial_id)
        trial.set_user_attr(RECOVERED_ATTR, why)
        tell_outcome(study, trial, outcome)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False  # another process closed it first
    return True


def adopt_lost_runs(
    study: optuna.Study, plan: SearchPlan, trials: list[FrozenTrial], room: int
) -> list[int]:
    """New trials carrying the finished runs of lost FAIL trials; returns the new numbers."""
    carried = {t.user_attrs.get(RECOVERED_FROM_ATTR) for t in trials}
    adopted: list[int] = []
    for frozen in trials:
        if len(adopted) >= room:
            break
        lost = frozen.state == TrialState.FAIL and frozen.user_attrs.get(LOST_ATTR)
        if not lost or frozen.number in carried:
            continue
        outcome = _finished_work(frozen, plan)
        if outcome is None:
            continue
        attrs = {
            k: v
            for k, v in frozen.user_attrs.items()
            if k not in (FAIL_REASON_ATTR, LOST_ATTR, LOG_TAIL_ATTR)
        }
        attrs |= outcome_attrs(outcome) | {
            RECOVERED_FROM_ATTR: frozen.number,
            RECOVERED_ATTR: f"carries lost trial {frozen.number}'s finished run "
            f"({RESULTS_FILE} in {frozen.user_attrs.get(RUN_DIR_ATTR)})",
        }
        state = TrialState.COMPLETE if outcome.state == "complete" else TrialState.PRUNED
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                value=outcome.value,
                params=frozen.params,
                distributions=frozen.distributions,
                user_attrs=attrs,
                intermediate_values=frozen.intermediate_values,
            )
        )
        adopted.append(len(study.get_trials(deepcopy=False)) - 1)
        log.warning(
            "lost trial %d: its finished run adopted as trial %d", frozen.number, adopted[-1]
        )
    return adopted


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


def outcome_attrs(outcome: TrialOutcome) -> dict[str, Any]:
    """The validation metrics and timings a trial keeps (test metrics stay out of the search)."""
    metrics = {k: outcome.final_metrics[k] for k in KEPT_METRICS if k in outcome.final_metrics}
    timing = {k: outcome.timing[k] for k in KEPT_TIMINGS if k in outcome.timing}
    return {
        "metrics": metrics,
        "timing": {**timing, "wall_s": round(outcome.wall_s, 3)},
        "exit_code": outcome.exit_code,
    }


def tell_outcome(study: optuna.Study, trial: optuna.Trial, outcome: TrialOutcome) -> None:
    for key, value in outcome_attrs(outcome).items():
        trial.set_user_attr(key, value)
    if outcome.state == "complete":
        study.tell(trial, outcome.value)
    elif outcome.state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)  # Optuna keeps the last reported value
    else:
        close_as_failed(
            study, trial, outcome.reason or "failed", outcome.log_tail, lost=outcome.lost
        )


def close_as_failed(
    study: optuna.Study, trial: optuna.Trial, reason: str, log_tail: str = "", lost: bool = False
) -> None:
    try:
        trial.set_user_attr(FAIL_REASON_ATTR, reason)
        if lost:
            trial.set_user_attr(LOST_ATTR, True)
        if log_tail:
            trial.set_user_attr(LOG_TAIL_ATTR, log_tail)
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
    except Exception as error:  # the storage itself may be what failed; nothing more to do here
        log.error("trial %d could not be marked FAIL: %s", trial.number, error)


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

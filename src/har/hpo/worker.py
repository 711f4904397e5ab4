"""One worker's loop: ask the study for a trial, run it as a process, tell the study how it went.

Several workers (processes, possibly on several hosts) may share one study. The budget is exact:
under a lock, a worker counts the trials the study has started and asks for a new one only while
that count is below the plan's target. (Optuna's MaxTrialsCallback checks only after a trial ends,
so K workers would overshoot by up to K-1 trials.)
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import Trial, TrialState

from har.hpo.outputs import write_summaries
from har.hpo.search_plan import (
    FAIL_REASON_ATTR,
    FIXED_OVERRIDES_ATTR,
    LOG_TAIL_ATTR,
    LOST_ATTR,
    PARAM_OVERRIDES_ATTR,
    RUN_DIR_ATTR,
    WORKER_ATTR,
    SearchPlan,
)
from har.hpo.study import count_started, open_study
from har.launch.liveness import current_process
from har.launch.trial_process import (
    TrialOutcome,
    read_outcome,
    run_trial_process,
    set_aside_stale_run_dir,
    trial_command,
    trial_environment,
    trial_run_dir,
)

log = logging.getLogger(__name__)

# Validation metrics kept on each trial (test metrics stay out of the search on purpose).
KEPT_METRICS = ("best_val_f1", "best_val_loss", "val_f1_last", "val_loss_last", "train_loss_last")
KEPT_TIMINGS = (
    "launch_to_start_s",
    "launch_to_first_step_s",
    "process_to_first_step_s",
    "total_s",
)


@dataclass
class WorkerSummary:
    completed: int = 0
    pruned: int = 0
    failed: int = 0
    interrupted: bool = False


def run_worker(plan: SearchPlan, stop: threading.Event, worker_index: int = 0) -> WorkerSummary:
    study = open_study(plan, worker_index)
    summary = WorkerSummary()
    env = trial_environment(threads=plan.trial_threads)
    while not stop.is_set():
        trial = ask_within_budget(study, plan, stop)
        if trial is None:
            if wait_for_retries(study, plan, stop):
                continue
            break
        try:
            outcome = run_one_trial(study, trial, plan, env, stop)
        except BaseException as error:
            # Whatever went wrong here (storage error, a bug, KeyboardInterrupt), the trial must
            # not stay RUNNING: close it as FAIL, then let the error go on.
            close_as_failed(study, trial, f"orchestrator error: {error!r}")
            raise
        _count(summary, outcome)
        _log_outcome(trial.number, outcome, plan)
        _write_summaries_quietly(study, plan)
    summary.interrupted = stop.is_set()
    return summary


def ask_within_budget(study: optuna.Study, plan: SearchPlan, stop: threading.Event) -> Trial | None:
    with budget_lock(plan.lock_path):
        # `stop` again: a signal may have come while this worker waited for the lock.
        if stop.is_set() or count_started(study) >= plan.target_total:
            return None
        if not plan.storage.is_local_file:
            _fail_stale_trials(study)
        with warnings.catch_warnings():
            # Optuna wants heartbeats used only through Study.optimize; we beat ourselves (below).
            warnings.filterwarnings("ignore", message=".*Heartbeat.*")
            trial = study.ask(fixed_distributions=plan.space.distributions)
        # Recorded at once, so a restarted orchestrator can tell whether this trial is orphaned.
        trial.set_user_attr(WORKER_ATTR, current_process().to_attr())
    return trial


def wait_for_retries(study: optuna.Study, plan: SearchPlan, stop: threading.Event) -> bool:
    """The budget is spent but other workers' trials still run. With heartbeats, the trial of a
    worker that died is failed once its grace period passes and a copy is queued, which needs a
    worker to run it: wait up to one grace period for that. True when a place in the budget freed.
    """
    storage = study._storage
    get_interval = getattr(storage, "get_heartbeat_interval", None)
    interval = get_interval() if get_interval is not None else None
    if not interval:
        return False
    grace = getattr(storage, "grace_period", None) or 2 * interval
    deadline = time.monotonic() + grace + interval
    logged = False
    while time.monotonic() < deadline:
        if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            return False
        if not logged:
            log.info(
                "budget spent; waiting up to %d s in case a running trial's worker died", grace
            )
            logged = True
        if stop.wait(interval):
            return False
        with budget_lock(plan.lock_path):
            _fail_stale_trials(study)
            if count_started(study) < plan.target_total:
                return True
    return False


def _fail_stale_trials(study: optuna.Study) -> None:
    """Heartbeats: FAIL the RUNNING trials whose worker stopped beating, and queue their retries."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def run_one_trial(
    study: optuna.Study,
    trial: Trial,
    plan: SearchPlan,
    env: dict[str, str],
    stop: threading.Event,
) -> TrialOutcome:
    run_dir = trial_run_dir(plan.output_root, trial.number)
    moved = set_aside_stale_run_dir(run_dir)
    if moved is not None:
        log.warning("trial %d: an older %s was moved to %s", trial.number, run_dir, moved)
    param_overrides = plan.space.overrides_for(trial.params)
    trial.set_user_attr(RUN_DIR_ATTR, str(run_dir))
    trial.set_user_attr(PARAM_OVERRIDES_ATTR, param_overrides)
    trial.set_user_attr(FIXED_OVERRIDES_ATTR, list(plan.fixed_overrides))
    command = trial_command(
        [
            *plan.base_overrides,
            *plan.tracking_overrides(trial.number),
            *param_overrides,
            *plan.optuna_overrides(trial.number),
        ],
        run_dir,
        plan.seed,
    )
    log.info("trial %d: %s", trial.number, " ".join(param_overrides) or "(no searched params)")
    with heartbeat(study, trial):
        result = run_trial_process(
            command,
            run_dir,
            cwd=plan.project_root,
            env=env,
            stop=stop,
            timeout_s=plan.trial_timeout_s,
            grace_s=plan.stop_grace_s,
        )
    outcome = read_outcome(run_dir, result, plan.metric)
    tell_outcome(study, trial, outcome)
    return outcome


def tell_outcome(study: optuna.Study, trial: Trial, outcome: TrialOutcome) -> None:
    metrics = {k: outcome.final_metrics[k] for k in KEPT_METRICS if k in outcome.final_metrics}
    timing = {k: outcome.timing[k] for k in KEPT_TIMINGS if k in outcome.timing}
    trial.set_user_attr("metrics", metrics)
    trial.set_user_attr("timing", {**timing, "wall_s": round(outcome.wall_s, 3)})
    trial.set_user_attr("exit_code", outcome.exit_code)
    if outcome.state == "complete":
        study.tell(trial, outcome.value)
    elif outcome.state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)  # Optuna keeps the last reported value
    else:
        close_as_failed(
            study, trial, outcome.reason or "failed", outcome.log_tail, lost=outcome.lost
        )


def close_as_failed(
    study: optuna.Study, trial: Trial, reason: str, log_tail: str = "", lost: bool = False
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


@contextlib.contextmanager
def budget_lock(path: Path) -> Iterator[None]:
    """Serialise 'count, then ask' across the workers that share this output root."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def heartbeat(study: optuna.Study, trial: Trial) -> Iterator[None]:
    """Beat for `trial` while it runs, where the storage has heartbeats (database storages)."""
    storage = study._storage
    interval = (
        storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
    )
    if not interval:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        while True:
            try:
                storage.record_heartbeat(trial._trial_id)
            except Exception as error:  # a missed beat is survivable; a dead thread is not
                log.warning("heartbeat for trial %d failed: %s", trial.number, error)
            if done.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-trial-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _count(summary: WorkerSummary, outcome: TrialOutcome) -> None:
    if outcome.state == "complete":
        summary.completed += 1
    elif outcome.state == "pruned":
        summary.pruned += 1
    else:
        summary.failed += 1


def _log_outcome(number: int, outcome: TrialOutcome, plan: SearchPlan) -> None:
    took = f"in {outcome.wall_s:.1f} s"
    if outcome.state == "complete":
        log.info("trial %d: COMPLETE %s=%.6g %s", number, plan.metric, outcome.value, took)
    elif outcome.state == "pruned":
        log.info("trial %d: PRUNED %s", number, took)
    else:
        log.warning("trial %d: FAIL %s: %s", number, took, outcome.reason)


def _write_summaries_quietly(study: optuna.Study, plan: SearchPlan) -> None:
    # Refreshed after every trial so a long search can be watched; a failure here must not stop it.
    try:
        write_summaries(study, plan)
    except Exception as error:
        log.warning("could not refresh trials.csv / best.json: %s", error)

"""One worker's loop: ask the study for a trial, run it as a process, tell the study how it went.

Before each ask, and before it stops for a spent budget, a worker settles the trials of dead
workers (study.recover_stale_trials): a killed search restarted at once finishes its budget.

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
    FIXED_OVERRIDES_ATTR,
    LAUNCH_DIGEST_ATTR,
    PARAM_OVERRIDES_ATTR,
    RECOVERED_ATTR,
    RECOVERED_FROM_ATTR,
    RUN_DIR_ATTR,
    TRIAL_PROCESS_ATTR,
    WORKER_ATTR,
    SearchPlan,
)
from har.hpo.storage import heartbeat_timing
from har.hpo.study import (
    close_as_failed,
    count_started,
    open_study,
    recover_stale_trials,
    tell_outcome,
)
from har.launch.faults import fault_point
from har.launch.heartbeat_files import HeartbeatFiles
from har.launch.liveness import current_process, process_identity
from har.launch.run_records import finished_outcome, launch_digest, record_launch
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

# How often a worker with no budget left looks again at trials that may turn out orphaned.
_SETTLE_POLL_S = 0.5


@dataclass
class WorkerSummary:
    completed: int = 0
    pruned: int = 0
    failed: int = 0
    interrupted: bool = False


def run_worker(plan: SearchPlan, stop: threading.Event, worker_index: int = 0) -> WorkerSummary:
    study = open_study(plan, worker_index)
    with _file_heartbeat(plan):
        return _work(study, plan, stop)


def _work(study: optuna.Study, plan: SearchPlan, stop: threading.Event) -> WorkerSummary:
    summary = WorkerSummary()
    env = trial_environment(threads=plan.trial_threads)
    while not stop.is_set():
        trial = ask_within_budget(study, plan, stop)
        if trial is None:
            if wait_for_retries(study, plan, stop):
                continue
            break
        try:
            outcome = adopt_retried_run(study, trial, plan) or run_one_trial(
                study, trial, plan, env, stop
            )
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


@contextlib.contextmanager
def _file_heartbeat(plan: SearchPlan) -> Iterator[None]:
    """File storages: this worker touches its heartbeat file beside the storage while it lives,
    so that workers on other hosts can tell when it died (see study.worker_is_gone)."""
    folder = plan.storage.heartbeat_dir
    if folder is None:
        yield
        return
    interval, _ = heartbeat_timing()
    with HeartbeatFiles(folder).beating(current_process(), interval):
        yield


def ask_within_budget(study: optuna.Study, plan: SearchPlan, stop: threading.Event) -> Trial | None:
    with budget_lock(plan.lock_path):
        # `stop` again: a signal may have come while this worker waited for the lock.
        if stop.is_set():
            return None
        # Every ask looks at the trials of dead workers first: finished work is adopted, lost
        # trials give their place in the budget back.
        recover_stale_trials(study, plan, plan.target_total)
        if count_started(study) >= plan.target_total:
            return None
        with warnings.catch_warnings():
            # Optuna wants heartbeats used only through Study.optimize; we beat ourselves (below).
            warnings.filterwarnings("ignore", message=".*Heartbeat.*")
            trial = study.ask(fixed_distributions=plan.space.distributions)
        fault_point("trial_asked")
        if _database_heartbeats(study):
            # Optuna judges only trials that beat at least once: a worker killed before its
            # trial's heartbeat thread starts must still leave a trial that goes stale.
            study._storage.record_heartbeat(trial._trial_id)
        # Recorded under the lock (after the first beat), so a trial without a worker is one
        # whose worker died here (study.recover_stale_trials settles it: at once on file
        # storages, by a heartbeat that goes stale on databases).
        trial.set_user_attr(WORKER_ATTR, current_process().to_attr())
    return trial


def wait_for_retries(study: optuna.Study, plan: SearchPlan, stop: threading.Event) -> bool:
    """The budget is spent but trials still run. A trial whose worker died frees its place (or is
    adopted) once it is judged: at once for a worker of this host (once its trial process ended),
    after one heartbeat grace period for others. Wait for that, at most grace + interval; True when
    a place in the budget freed."""
    interval, grace = _heartbeat_timing(study)
    deadline = time.monotonic() + grace + interval
    logged = False
    while study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        with budget_lock(plan.lock_path):
            recovery = recover_stale_trials(study, plan, plan.target_total)
            if count_started(study) < plan.target_total:
                return True
        pending = recovery.pending
        if not plan.storage.is_local_file:  # database heartbeats: any RUNNING trial may go stale
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            pending = len(running) if _database_heartbeats(study) else 0
        if not pending or time.monotonic() > deadline:
            return False
        if not logged:
            log.info(
                "budget spent; waiting up to %d s in case a running trial's worker died", grace
            )
            logged = True
        if stop.wait(_SETTLE_POLL_S if plan.storage.is_local_file else interval):
            return False
    return False


def _database_heartbeats(study: optuna.Study) -> bool:
    get_interval = getattr(study._storage, "get_heartbeat_interval", None)
    return bool(get_interval and get_interval())


def _heartbeat_timing(study: optuna.Study) -> tuple[float, float]:
    if _database_heartbeats(study):
        interval = study._storage.get_heartbeat_interval()
        return interval, getattr(study._storage, "grace_period", None) or 2 * interval
    return heartbeat_timing()


def adopt_retried_run(study: optuna.Study, trial: Trial, plan: SearchPlan) -> TrialOutcome | None:
    """Database storages: a trial failed by heartbeats comes back as a queued copy (same params,
    its user attributes). When the failed trial's run dir holds its finished work, the copy takes
    that result (and the failed trial's intermediate values) instead of training again."""
    history = study._storage.get_trial_system_attrs(trial._trial_id).get("retry_history")
    run_dir = trial.user_attrs.get(RUN_DIR_ATTR)
    if not history or not run_dir:
        return None
    source = history[-1]
    expected = {**trial.params, "optuna.trial_number": source}
    digest = trial.user_attrs.get(LAUNCH_DIGEST_ATTR)
    outcome = finished_outcome(Path(run_dir), digest, plan.metric, expected)
    if outcome is None:
        return None
    for step, value in study.get_trials(deepcopy=False)[source].intermediate_values.items():
        trial.report(value, step)
    trial.set_user_attr(RECOVERED_FROM_ATTR, source)
    trial.set_user_attr(RECOVERED_ATTR, f"carries trial {source}'s finished run ({run_dir})")
    tell_outcome(study, trial, outcome)
    return outcome


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
    overrides = [
        *plan.base_overrides,
        *plan.tracking_overrides(trial.number),
        *param_overrides,
        *plan.optuna_overrides(trial.number),
    ]
    command = trial_command(overrides, run_dir, plan.seed)
    # What a successor needs to adopt this run if this worker dies: the digest of the exact
    # launch, on the trial and in the run dir (har.launch.run_records).
    digest = launch_digest(overrides, plan.seed)
    trial.set_user_attr(LAUNCH_DIGEST_ATTR, digest)
    record_launch(run_dir, digest)
    fault_point("trial_start")

    def record_process(pid: int) -> None:
        identity = process_identity(pid)
        record_launch(run_dir, digest, identity)
        trial.set_user_attr(TRIAL_PROCESS_ATTR, identity.to_attr())

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
            on_started=record_process,
        )
    outcome = read_outcome(run_dir, result, plan.metric)
    fault_point("after_results")
    tell_outcome(study, trial, outcome)
    return outcome


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

"""Run the search with one worker in this process, or K worker processes on one shared study.

Ctrl-C and SIGTERM never kill a trial mid-write: they set a stop flag; each worker then stops its
running trial (SIGTERM to the trial's process group, a grace period, SIGKILL), records it as FAIL and
exits. Workers die with the orchestrator (parent-death signal) even when it is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading

from har.hpo.search_plan import SearchPlan
from har.hpo.worker import run_worker
from har.launch.liveness import die_with_parent
from har.launch.signals import EXIT_INTERRUPTED, stop_on_signals

log = logging.getLogger(__name__)


def run_search(plan: SearchPlan, n_workers: int, first_worker_index: int = 0) -> bool:
    """Run until the plan's budget is used up; False when a stop signal cut the search short.
    Workers are numbered from `first_worker_index` (distinct across orchestrators sharing a study)."""
    stop = threading.Event()
    if n_workers == 1:
        with stop_on_signals(stop):
            summary = run_worker(plan, stop, worker_index=first_worker_index)
        return not summary.interrupted
    context = multiprocessing.get_context("spawn")  # no fork: no inherited locks or DB connections
    workers = [
        context.Process(
            target=_worker_process,
            args=(plan, first_worker_index + index, os.getpid()),
            name=f"hpo-worker-{index}",
        )
        for index in range(n_workers)
    ]

    def forward_stop() -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGTERM)

    with stop_on_signals(stop, also=forward_stop):
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    crashed = [w.name for w in workers if w.exitcode not in (0, EXIT_INTERRUPTED)]
    if crashed and not stop.is_set():
        log.error(
            "worker(s) %s exited with an error (see their log lines above)", ", ".join(crashed)
        )
    return not stop.is_set() and not any(w.exitcode == EXIT_INTERRUPTED for w in workers)


def configure_logging(prefix: str = "hpo") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s [{prefix}] %(message)s", "%H:%M:%S"))
    root = logging.getLogger("har.hpo")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def _worker_process(plan: SearchPlan, index: int, parent_pid: int) -> None:
    die_with_parent()
    if os.getppid() != parent_pid:  # the orchestrator died before the line above took effect
        sys.exit(EXIT_INTERRUPTED)
    configure_logging(f"hpo worker {index}")
    quiet_optuna()
    stop = threading.Event()
    with stop_on_signals(stop):
        summary = run_worker(plan, stop, worker_index=index)
    sys.exit(EXIT_INTERRUPTED if summary.interrupted else 0)


def quiet_optuna() -> None:
    import optuna

    # Our own per-trial lines say more (run dir, failure reason); Optuna's would repeat them.
    optuna.logging.set_verbosity(optuna.logging.WARNING)

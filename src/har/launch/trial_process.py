"""One trial = one `python -m experiments.run_trial` process, and what its results.json says.

The process runs in its own process group (its DataLoader workers with it), so stopping a trial
stops all of it, and a terminal's Ctrl-C reaches only the orchestrator, which then stops the trial
in order: SIGTERM to the group, a grace period, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from har.errors import ConfigError
from har.launch.liveness import parent_death_signal
from har.launch.overrides import format_value
from har.launch.project import package_search_path

TRIAL_MODULE = "experiments.run_trial"
RESULTS_FILE = "results.json"
LOG_FILE = "trial.log"
LOG_TAIL_LINES = 30
# results.json key holding the objective for each --metric.
OBJECTIVE_KEYS = {"val_f1": "best_val_f1", "val_loss": "best_val_loss"}
EXIT_CODE_MEANING = {1: "crashed", 2: "user error: bad config or data"}

_POLL_S = 0.2
_SIGNALLED_STOP_WAIT_S = 2.0

TrialState = Literal["complete", "pruned", "fail"]


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None
    wall_s: float
    interrupted: bool = False
    timed_out: bool = False
    launched_unix: float | None = None  # wall clock at launch, to time the start-up overhead


@dataclass(frozen=True)
class TrialOutcome:
    state: TrialState
    value: float | None
    reason: str | None  # why it failed, for the trial's user attributes and trials.csv
    exit_code: int | None
    wall_s: float
    log_tail: str = ""
    final_metrics: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)
    lost: bool = False  # interrupted by the orchestrator's stop, not failed by itself


def trial_run_dir(output_root: Path, trial_number: int) -> Path:
    return output_root / "trials" / f"trial_{trial_number}"


def trial_command(overrides: Sequence[str], run_dir: Path, seed: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        TRIAL_MODULE,
        *overrides,
        f"hydra.run.dir={format_value(str(run_dir))}",
        f"seed={seed}",
    ]


def trial_environment(
    base: Mapping[str, str] | None = None, threads: int | None = None
) -> dict[str, str]:
    """The orchestrator's environment, with the imported `har` first on the trial's import path.

    ``threads``: the trial's torch threads (``OMP_NUM_THREADS``, which torch's default follows), so
    that parallel workers do not run more busy threads than cores; the user's own setting wins,
    and so does ``trainer.threads``."""
    env = dict(os.environ if base is None else base)
    if threads is not None:
        env.setdefault("OMP_NUM_THREADS", str(threads))
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_search_path(), existing) if p)
    return env


def set_aside_stale_run_dir(run_dir: Path) -> Path | None:
    """A run dir left by an earlier study (same output root, new storage) must not be read as this
    trial's results; it is renamed, never deleted. Returns the new name, if any."""
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return None
    for index in range(1, 10_000):
        target = run_dir.with_name(f"{run_dir.name}.stale{index}")
        if not target.exists():
            run_dir.rename(target)
            return target
    raise RuntimeError(f"too many stale copies of {run_dir}")


@contextlib.contextmanager
def exclusive_lock(path: Path, held_message: str) -> Iterator[None]:
    """Hold ``path`` locked (flock) while inside, or refuse with ``held_message`` at once. The
    kernel frees the lock when its process dies, however it dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise ConfigError(f"{held_message} (lock {path}); wait for it to end") from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_trial_process(
    command: Sequence[str],
    run_dir: Path,
    cwd: Path,
    env: Mapping[str, str],
    stop: threading.Event,
    timeout_s: float | None = None,
    grace_s: float = 10.0,
    on_started: Callable[[int], None] | None = None,
) -> ProcessResult:
    """Run `command` with its output in `<run_dir>/trial.log`; stop it when `stop` is set.
    `on_started(pid)` is called once the process exists (to record who runs the trial)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    launched_unix = time.time()
    with open(run_dir / LOG_FILE, "ab") as log_file:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=parent_death_signal(),
        )
        if on_started is not None:
            try:
                on_started(process.pid)
            except BaseException:
                stop_process_group(process, grace_s)
                raise
        while True:
            try:
                exit_code = process.wait(timeout=_POLL_S)
                # A trial killed by a signal (scancel, a node going down) usually goes with its
                # worker: give the worker's own stop a moment to arrive, so that the trial counts
                # as interrupted (lost, see LOST_ATTR) rather than as failed by its configuration.
                interrupted = exit_code < 0 and stop.wait(_SIGNALLED_STOP_WAIT_S)
                return ProcessResult(
                    exit_code,
                    time.monotonic() - started,
                    interrupted=interrupted,
                    launched_unix=launched_unix,
                )
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.monotonic() - started
            if stop.is_set() or (timeout_s is not None and elapsed > timeout_s):
                exit_code = stop_process_group(process, grace_s)
                return ProcessResult(
                    exit_code,
                    time.monotonic() - started,
                    interrupted=stop.is_set(),
                    timed_out=not stop.is_set(),
                    launched_unix=launched_unix,
                )


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float) -> int | None:
    """SIGTERM the whole group, wait `grace_s`, then SIGKILL what is left."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            return process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
    return process.poll()


def read_outcome(run_dir: Path, result: ProcessResult, metric: str) -> TrialOutcome:
    """Judge a finished trial from its exit code and results.json; anything doubtful is FAIL."""
    results, unreadable = _load_results(run_dir / RESULTS_FILE)
    final_metrics = dict(results.get("final_metrics") or {}) if results else {}
    timing = dict(results.get("timing") or {}) if results else {}
    if result.launched_unix is not None:
        # Seen from outside the trial: interpreter start and imports included.
        for mark, name in (
            ("started_unix", "launch_to_start_s"),
            ("first_step_unix", "launch_to_first_step_s"),
        ):
            moment = _finite(timing.get(mark))
            if moment is not None:
                timing[name] = moment - result.launched_unix

    def outcome(
        state: TrialState, value: float | None = None, reason: str | None = None, lost: bool = False
    ) -> TrialOutcome:
        return TrialOutcome(
            state=state,
            value=value,
            reason=reason,
            exit_code=result.exit_code,
            wall_s=result.wall_s,
            log_tail=log_tail(run_dir) if state == "fail" else "",
            final_metrics=final_metrics,
            timing=timing,
            lost=lost,
        )

    # A trial stopped or killed after it wrote its final results.json (its plots, loggers or
    # interpreter were still closing) did finish: its results are kept, not thrown away as lost.
    finished = results is not None and results.get("status") in ("completed", "pruned")
    signalled = result.exit_code is not None and result.exit_code < 0
    if result.interrupted and not finished:
        return outcome("fail", reason="interrupted: the orchestrator was stopped", lost=True)
    if result.timed_out and not finished:
        return outcome("fail", reason=f"timed out after {result.wall_s:.0f} s")
    if result.exit_code != 0 and not (finished and (signalled or result.interrupted)):
        meaning = EXIT_CODE_MEANING.get(result.exit_code or 0)
        if result.exit_code is not None and result.exit_code < 0:
            meaning = f"killed by signal {signal.Signals(-result.exit_code).name}"
        error = f": {results.get('error')}" if results and results.get("error") else ""
        return outcome(
            "fail", reason=f"run_trial exited with code {result.exit_code} ({meaning}){error}"
        )
    if results is None:
        return outcome("fail", reason=f"{RESULTS_FILE} {unreadable}")
    status = results.get("status")
    if status == "pruned":
        return outcome("pruned")
    if status != "completed":
        return outcome("fail", reason=f"{RESULTS_FILE} status {status!r}: {results.get('error')}")
    key = OBJECTIVE_KEYS[metric]
    value = _finite(final_metrics.get(key))
    if value is None:
        return outcome(
            "fail", reason=f"{RESULTS_FILE} final_metrics.{key} is {final_metrics.get(key)!r}"
        )
    return outcome("complete", value=value)


def log_tail(run_dir: Path, lines: int = LOG_TAIL_LINES, max_bytes: int = 32_768) -> str:
    path = run_dir / LOG_FILE
    try:
        with open(path, "rb") as log_file:
            log_file.seek(max(0, path.stat().st_size - max_bytes))
            text = log_file.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _load_results(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, ValueError) as error:
        return None, f"is unreadable ({error})"
    if not isinstance(data, dict):
        return None, "is not a JSON object"
    return data, ""


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None

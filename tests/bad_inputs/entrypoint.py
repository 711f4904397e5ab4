"""What a user sees for a broken input: exit code and the one ``error:`` line.

Three levels, cheapest first. ``user_error_of`` calls the library (the DataModule, the config
checks) and returns the exit code and line that ``har.cli`` makes of what it raised, with the very
functions the entrypoint uses. ``run_in_process`` executes the entrypoint module exactly as
``python -m experiments.run_trial`` does (``runpy``, ``__name__ == "__main__"``) without an
interpreter start (Hydra's composition still costs about a second). ``run_subprocess`` is the
literal command.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra

from har.errors import as_user_error, error_line

REPO = Path(__file__).resolve().parents[2]
USER_ERROR_EXIT = 2


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def tiny_overrides(raw: Path, cache: Path) -> list[str]:
    """Point a trial at a ``write_tiny_dataset`` tree, with a tiny model and one short epoch."""
    return [
        "data=mmfit", f"data.data_dir={raw}", f"data.cache_dir={cache}",
        "data.train_workouts=[w01,w02]", "data.val_workouts=[w14]", "data.test_workouts=[w09]",
        "data.sampling_rate_hz=50", "data.sensor_window_length=32", "data.batch_size=8",
        "scenario=debug", "trainer.epochs=1", "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "trainer.progress_bar=false",
    ]  # fmt: skip


@contextlib.contextmanager
def _isolated_logging() -> Iterator[None]:
    # Hydra installs its own root handlers for the job; put pytest's back afterwards.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        GlobalHydra.instance().clear()


def run_in_process(
    args: Sequence[str], run_dir: Path, env: dict[str, str] | None = None
) -> Outcome:
    """``python -m experiments.run_trial *args hydra.run.dir=run_dir``, in this process."""
    argv = ["experiments/run_trial.py", *args, f"hydra.run.dir={run_dir}"]
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_env = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    code = 0
    try:
        with (
            _isolated_logging(),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            saved_argv, sys.argv = sys.argv, argv
            try:
                runpy.run_module("experiments.run_trial", run_name="__main__")
            except SystemExit as done:
                code = 0 if done.code is None else done.code if isinstance(done.code, int) else 1
            except Exception:  # what the interpreter would do with it: traceback, exit 1
                traceback.print_exc()
                code = 1
            finally:
                sys.argv = saved_argv
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Outcome(code, stdout.getvalue(), stderr.getvalue())


def run_subprocess(
    args: Sequence[str], run_dir: Path, env: dict[str, str] | None = None
) -> Outcome:
    """The literal command a user types, in a fresh interpreter."""
    process = subprocess.run(
        [sys.executable, "-m", "experiments.run_trial", *args, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    return Outcome(process.returncode, process.stdout, process.stderr)


def user_error_of(action: Callable[[], object]) -> Outcome:
    """Run ``action``; it must raise a user error. The Outcome the entrypoint would produce."""
    with pytest.raises(Exception) as caught:
        action()
    error = as_user_error(caught.value)
    assert error is not None, f"a crash, not a user error: {caught.value!r}"
    return Outcome(error.exit_code, "", error_line(error) + "\n")


def assert_user_error(outcome: Outcome, *words: str) -> str:
    """Exit 2, one ``error:`` line holding every word, no traceback; returns that line."""
    assert outcome.exit_code == USER_ERROR_EXIT, outcome.stderr[-3000:]
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    assert len(outcome.error_lines) == 1, outcome.stderr
    line = outcome.error_lines[0]
    missing = [word for word in words if word.lower() not in line.lower()]
    assert not missing, f"{missing} not in: {line}"
    return line

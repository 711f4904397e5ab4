"""The Hydra face of ``experiments/run_trial.py``: exit codes, logging, the one-line summary.

The error toolkit every layer shares lives in ``har.errors``."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from har.errors import ConfigError, HarError, as_user_error, error_line

log = logging.getLogger("har")

USER_ERROR_EXIT = HarError.exit_code
# Set when Hydra hands over to the task: Hydra's own errors (config composition) come before it.
_task_started = False
_user_wants_traceback = False  # HYDRA_FULL_ERROR=1 as the user set it


def hydra_entrypoint(main: Callable[[], object]) -> None:
    """Run a ``@hydra.main`` function so that every user error exits with ``USER_ERROR_EXIT``.

    Hydra's own errors (an unknown config group option or key, a malformed override, a wrong
    type) happen before the task starts, which is how they are told apart from a crash inside
    the task. Hydra is asked to raise them (HYDRA_FULL_ERROR for the call) so that they print as
    the one ``error:`` line every user error gets. With HYDRA_FULL_ERROR=1 set by the user, the
    traceback is printed instead and user errors keep their exit code.
    """
    global _task_started, _user_wants_traceback
    _task_started = False
    _user_wants_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except SystemExit as done:
        if done.code == 1 and not _task_started:
            sys.exit(USER_ERROR_EXIT)
        raise
    except Exception as error:
        if _task_started and as_user_error(error) is None:
            raise  # a crash: Python prints the traceback and exits 1
        if _user_wants_traceback:
            traceback.print_exc()
        elif _task_started:
            print(error_line(as_user_error(error)), file=sys.stderr)  # type: ignore[arg-type]
        else:  # Hydra's own message (what to type instead) first, then its cause
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            print(error_line(ConfigError(f"{error}{cause}")), file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
    finally:
        if not _user_wants_traceback:
            os.environ.pop("HYDRA_FULL_ERROR", None)


def trial_main(cfg: DictConfig) -> float | None:
    """``experiments/run_trial.py``: train one configuration into the Hydra run dir.

    A user error (bad file, bad value) prints one line and exits 2; set HYDRA_FULL_ERROR=1 for the
    traceback. Any other failure exits non-zero with results.json marked failed.
    """
    global _task_started
    _task_started = True
    from har.hpo.pruning_callback import pruning_from_config  # optuna only on the first report
    from har.training.trial import run_trial  # heavy imports after Hydra has parsed the CLI

    _route_lightning_logs_through_hydra()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    log.info("run dir: %s", run_dir)
    try:
        pruning = pruning_from_config(cfg.optuna)
        payload = run_trial(cfg, run_dir, [] if pruning is None else [pruning])
    except Exception as err:
        log.info("failed | run dir: %s", run_dir)
        user_error = as_user_error(err)
        if user_error is None or _user_wants_traceback:
            raise
        print(error_line(user_error), file=sys.stderr)
        sys.exit(user_error.exit_code)
    log.info("run dir: %s", run_dir)
    metrics = payload["final_metrics"]
    log.info(
        "%s: best val_f1 %s, test_f1 %s | results: %s",
        payload["status"],
        _fmt(metrics.get("best_val_f1")),
        _fmt(metrics.get("test_f1")),
        run_dir / "results.json",
    )
    return metrics.get("best_val_f1")


def _route_lightning_logs_through_hydra() -> None:
    """The ``lightning`` package installs its own console handler; Hydra's already prints (and
    files) everything that reaches the root logger, so without this every message shows twice."""
    logging.getLogger("lightning").handlers.clear()


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"

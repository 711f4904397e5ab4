"""What the thin Hydra entrypoints call: logging, error reporting, exit codes."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from har.errors import HarError

log = logging.getLogger("har")


def trial_main(cfg: DictConfig) -> float | None:
    """``experiments/run_trial.py``: train one configuration into the Hydra run dir.

    A user error (bad file, bad value) prints one line and exits 2; set HYDRA_FULL_ERROR=1 for the
    traceback. Any other failure exits non-zero with results.json marked failed.
    """
    from har.training.trial import run_trial  # heavy imports after Hydra has parsed the CLI

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    log.info("run dir: %s", run_dir)
    try:
        payload = run_trial(cfg, run_dir)
    except HarError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    metrics = payload["final_metrics"]
    log.info(
        "%s: best val_f1 %s, test_f1 %s | results: %s",
        payload["status"],
        _fmt(metrics.get("best_val_f1")),
        _fmt(metrics.get("test_f1")),
        run_dir / "results.json",
    )
    return metrics.get("best_val_f1")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"

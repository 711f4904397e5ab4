"""Shared fixtures: composing the real Hydra config, and one cached synthetic twin for the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import har.config  # noqa: F401  (resolvers)

REPO = Path(__file__).resolve().parents[1]
# The suite runs on the easy twin (fast to learn; thresholds were set on it), trial subprocesses
# included; a test that needs another preset says data.twin=... (conf/data/mmfit_synth.yaml).
os.environ.setdefault("HAR_TWIN", "easy")
# The twin is generated once and reused by every test run (and by trial subprocesses).
TEST_DATA_DIR = Path(os.environ.get("HAR_TEST_DATA_DIR", REPO / ".cache" / "test-data"))
TEST_CACHE_DIR = TEST_DATA_DIR / "_preprocessed"


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("conf", overrides=list(overrides))


@pytest.fixture(scope="session")
def twin_overrides() -> list[str]:
    """Overrides that point a run at the suite's shared twin and cache."""
    return [f"env.data_dir={TEST_DATA_DIR}", f"env.cache_dir={TEST_CACHE_DIR}"]


@dataclass
class TrialRun:
    proc: subprocess.CompletedProcess
    run_dir: Path

    @property
    def results(self) -> dict:
        return json.loads((self.run_dir / "results.json").read_text())


def run_trial_cli(
    args: list[str], run_dir: Path, *, script: bool = False, env: dict[str, str] | None = None
) -> TrialRun:
    """Run the real entrypoint in a subprocess on the suite's twin, into ``run_dir``."""
    entry = ["experiments/run_trial.py"] if script else ["-m", "experiments.run_trial"]
    cmd = [
        sys.executable,
        *entry,
        f"env.data_dir={TEST_DATA_DIR}",
        f"env.cache_dir={TEST_CACHE_DIR}",
        f"hydra.run.dir={run_dir}",
        "trainer.progress_bar=false",
        *args,
    ]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    return TrialRun(proc, run_dir)

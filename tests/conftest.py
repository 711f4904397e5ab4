"""Shared fixtures: composing the real Hydra config, and one cached synthetic twin for the suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import har.config  # noqa: F401  (resolvers)

REPO = Path(__file__).resolve().parents[1]
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

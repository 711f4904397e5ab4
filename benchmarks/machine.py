"""What every benchmark prints above its table: the machine, the software, and how busy the CPU was.

A figure measured on a machine that others were using is not the machine's figure: the load average
before and after a run goes into the header so a reader can tell.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

REPO = Path(__file__).resolve().parents[1]
# The test suite's twin, reused when present (the same files the default run would generate).
TEST_TWIN = REPO / ".cache" / "test-data"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def describe_machine() -> str:
    """One line: CPU model, cores, torch version and threads, GPU if any, load average now."""
    import torch

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {gpu}; load average {load_average()} (1/5/15 min)"
    )


def compose_config(overrides: list[str]) -> DictConfig:
    """The trial's config (conf/conf.yaml) with ``overrides``, as ``run_trial.py`` would see it."""
    from har.config import CONF_DIR  # also registers the config resolvers

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("conf", overrides=overrides)


def twin_overrides() -> list[str]:
    """Reuse the test suite's twin and cache when present (the default twin's settings, already
    generated); otherwise the config's data_dir, where the twin is generated on first use. Put
    the user's overrides after these so that theirs win."""
    if not TEST_TWIN.is_dir():
        return []
    return [f"env.data_dir={TEST_TWIN}", f"env.cache_dir={TEST_TWIN / '_preprocessed'}"]

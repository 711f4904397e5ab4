"""Fail fast: compose a trial's config before any trial process starts.

A typo in a forwarded override or in a search space (`optim.lrr`) would otherwise make every trial
or seed exit with a config error, one process start at a time. Hydra's compose API catches it in a
second. HPO and multi-seed evaluation both call this.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from har.errors import ConfigError

CONFIG_NAME = "conf"


def compose_trial_config(project_root: Path, overrides: Sequence[str], what: str) -> Any:
    """The trial's composed config; ConfigError naming the problem (``what`` says whose) if not."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    import har.config  # noqa: F401  (resolvers)

    try:
        with initialize_config_dir(
            config_dir=str(project_root / "conf"), version_base="1.3", job_name="preflight"
        ):
            return compose(config_name=CONFIG_NAME, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"{what} does not compose: {error}") from error

"""Fail fast: compose one trial's config before any trial runs.

A typo in a forwarded override or in the space file (`optim.lrr`) would otherwise make every trial
exit with a config error, one process start at a time. Hydra's compose API catches it in a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from har.errors import ConfigError
from har.hpo.space import SearchSpace

CONFIG_NAME = "conf"


def representative_overrides(space: SearchSpace) -> list[str]:
    """One legal value per searched key (first choice, lower bound) to compose with."""
    values: dict[str, Any] = {}
    for key, param in space.params.items():
        distribution = param.distribution
        if isinstance(distribution, CategoricalDistribution):
            values[key] = distribution.choices[0]
        elif isinstance(distribution, FloatDistribution | IntDistribution):
            values[key] = distribution.low
    return space.overrides_for(values)


def check_trial_config(project_root: Path, overrides: Sequence[str]) -> None:
    """Raise ConfigError naming the problem if the trial config cannot be composed."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(
            config_dir=str(project_root / "conf"), version_base="1.3", job_name="hpo_preflight"
        ):
            compose(config_name=CONFIG_NAME, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(
            f"the trial configuration does not compose, so every trial would fail: {error}"
        ) from error

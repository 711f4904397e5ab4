"""Optuna pruners by name, built identically by the orchestrator and by each trial process.

The trial only gets the name on its command line (`optuna.pruner=median`); the settings travel in
the study itself (user attribute `har.pruner`), so both sides always agree on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from har.errors import ConfigError

if TYPE_CHECKING:
    from optuna.pruners import BasePruner

PrunerName = Literal["none", "median", "hyperband"]
PRUNER_NAMES: tuple[str, ...] = ("none", "median", "hyperband")
PRUNER_ATTR = "har.pruner"


@dataclass(frozen=True)
class PrunerSettings:
    name: str = "median"
    # Median: trials that finish before any pruning happens, and epochs never pruned in each trial.
    startup_trials: int = 5
    warmup_epochs: int = 1
    # Hyperband: the fewest epochs a trial gets and the fraction kept at each rung.
    min_epochs: int = 1
    reduction_factor: int = 3

    def to_attr(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_attr(cls, stored: Mapping[str, Any] | None, name: str) -> PrunerSettings:
        """Settings stored on the study, or defaults when they are missing or for another pruner."""
        if stored and stored.get("name") == name:
            known = {k: v for k, v in stored.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        return cls(name=name)


def build_pruner(settings: PrunerSettings) -> BasePruner:
    import optuna

    if settings.name == "none":
        return optuna.pruners.NopPruner()
    if settings.name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=settings.startup_trials, n_warmup_steps=settings.warmup_epochs
        )
    if settings.name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=settings.min_epochs,
            max_resource="auto",  # the longest completed trial's epochs
            reduction_factor=settings.reduction_factor,
        )
    raise ConfigError(f"pruner {settings.name!r}: choose one of {', '.join(PRUNER_NAMES)}")

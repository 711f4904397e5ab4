"""A paired data set plus a pose-only secondary one (``data.secondary``) for the secondary scenario.

``data.secondary`` is a data config of its own (``data@data.secondary=ntu60``, or
``mmfit_heldout``: MM-Fit workouts outside every split). Its training windows ride along in every
training batch as ``{"paired": <primary batch>, "secondary": {"pose", "label", ...}}``; validation
and test are the primary's alone (the deployed model is scored on real IMU). An epoch is the
primary's length: the secondary loader is cycled (or cut) to match, so adding a large pose-only
set does not change how many steps an epoch has.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import lightning.pytorch as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def build_datamodule(data: DictConfig) -> pl.LightningDataModule:
    """The trial's data module: ``cfg.data`` itself, or it with its ``secondary`` attached."""
    secondary = data.get("secondary") if isinstance(data, DictConfig) else None
    if secondary is None:
        return instantiate(data, _recursive_=False)
    # Resolved while still attached to the root config (its keys interpolate env.*, data.*).
    primary_cfg = OmegaConf.to_container(data, resolve=True)
    assert isinstance(primary_cfg, dict)
    primary_cfg.pop("secondary")
    return WithSecondary(
        instantiate(primary_cfg, _recursive_=False), instantiate(secondary, _recursive_=False)
    )


class _Cycled:
    """``loader`` cycled or cut to exactly ``length`` batches per pass."""

    def __init__(self, loader: DataLoader, length: int) -> None:
        self.loader, self.length = loader, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[Any]:
        return itertools.islice(
            itertools.chain.from_iterable(itertools.repeat(self.loader)), self.length
        )


class WithSecondary(pl.LightningDataModule):
    """Delegates everything to the primary data module except the training loader."""

    def __init__(self, primary: pl.LightningDataModule, secondary: pl.LightningDataModule) -> None:
        super().__init__()
        self.primary, self.secondary = primary, secondary

    def __getattr__(self, name: str) -> Any:
        # acc_stats, class_names, num_classes, imu_channels, window_counts, sessions, ...
        if name in ("primary", "secondary") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.primary, name)

    @property
    def secondary_num_classes(self) -> int:
        return self.secondary.num_classes

    def prepare_data(self) -> None:
        self.primary.prepare_data()
        self.secondary.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        self.primary.setup(stage)
        self.secondary.setup(stage)
        check = getattr(self.secondary, "check_pairs_with", None)
        if check is not None:
            check(self.primary)  # same rate and joint count: the regressor sees both
        for key in ("sensor_window_length", "sampling_rate_hz"):
            mine, theirs = getattr(self.secondary, key), getattr(self.primary, key)
            if mine != theirs:
                raise ConfigError(
                    f"data.secondary.{key}={mine} differs from data.{key}={theirs}: the same "
                    "regressor and feature extractor see both, set them alike"
                )
        self._check_no_leak()

    def _check_no_leak(self) -> None:
        """A secondary session that is also a primary val/test session would leak test data."""
        if getattr(self.primary, "data_dir", None) != getattr(self.secondary, "data_dir", None):
            return
        names = {s.workout for s in self.secondary.sessions.get("train", [])}
        for split in ("train", "val", "test"):
            shared = names & {s.workout for s in self.primary.sessions.get(split, [])}
            if shared:
                raise DataError(
                    f"data.secondary trains on {sorted(shared)}, which are also primary {split} "
                    "sessions: choose data.secondary.train_workouts outside every primary split"
                )

    def train_dataloader(self) -> Mapping[str, Any]:
        paired = self.primary.train_dataloader()
        secondary = self.secondary.train_dataloader()
        # Lightning combines a dict of loaders; equal lengths make its default mode exact.
        return {"paired": paired, "secondary": _Cycled(secondary, len(paired))}

    def val_dataloader(self) -> DataLoader:
        return self.primary.val_dataloader()

    def test_dataloader(self) -> DataLoader:
        return self.primary.test_dataloader()

    def state_dict(self) -> dict[str, Any]:
        return {"primary": self.primary.state_dict(), "secondary": self.secondary.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.primary.load_state_dict(state_dict.get("primary", {}))
        self.secondary.load_state_dict(state_dict.get("secondary", {}))

"""What a reference classifier sees: the DataModule's real IMU windows of a split as arrays.

The windows are the very ones the neural models are trained and scored on (the same
``SessionDataModule`` index, stride, label rule and per-channel standardisation with training
statistics); only their container differs. Under scarce real IMU (``data.imu_subjects``) the
training windows of subjects without IMU are left out: a reference trains on real IMU only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from har.errors import DataError

GATHER_CHUNK = 4096  # windows gathered per indexing op (bounds the transient pose copy)


@dataclass(frozen=True)
class WindowSplit:
    x: np.ndarray  # (N, C, T) float32, standardised per channel with the training statistics
    y: np.ndarray  # (N,) int64 class indices
    weight: np.ndarray | None = None  # (N,) per-window sample weights; None: all 1

    def joined(self, other: WindowSplit, other_weight: float) -> WindowSplit:
        """These windows and ``other``'s, the latter weighted ``other_weight`` each."""
        mine = np.ones(len(self.y)) if self.weight is None else self.weight
        return WindowSplit(
            x=np.concatenate([self.x, other.x]),
            y=np.concatenate([self.y, other.y]),
            weight=np.concatenate([mine, np.full(len(other.y), float(other_weight))]),
        )


@dataclass(frozen=True)
class SignalInfo:
    """What the windows are: their rate, and the standardisation that ``physical`` undoes."""

    rate_hz: float
    mean: np.ndarray  # (C,) per-channel training mean (physical units)
    std: np.ndarray  # (C,) per-channel training std

    def physical(self, x: np.ndarray) -> np.ndarray:
        return x * self.std[None, :, None] + self.mean[None, :, None]


class ReferenceClassifier(Protocol):
    """A ``model.estimator`` of ``model.kind=classical`` (instantiated by Hydra from its config)."""

    def fit(self, train: WindowSplit, val: WindowSplit, signal: SignalInfo) -> dict[str, Any]:
        """Fit on ``train`` (``val`` only for the selection the estimator documents); returns
        what the fit chose (iterations, regularisation), recorded in results.json."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices (N,) for standardised windows (N, C, T)."""


def window_split(datamodule: Any, split: str) -> WindowSplit:
    """The split's real IMU windows, gathered by the DataModule's own dataset."""
    dataset = datamodule.datasets[split]
    chosen = torch.arange(len(dataset))
    if split == "train" and dataset.imu_mask is not None:
        chosen = chosen[dataset.imu_mask.cpu()]  # data.imu_subjects: IMU subjects only
    if len(chosen) == 0:
        raise DataError(
            f"split {split!r} has no window with real IMU to train a reference model on"
        )
    xs, ys = [], []
    for part in torch.split(chosen, GATHER_CHUNK):
        batch = dataset.__getitems__(part.tolist())
        if "acc" not in batch:
            raise DataError(f"split {split!r} carries no IMU (a pose-only data set)")
        xs.append(batch["acc"].cpu().numpy())
        ys.append(batch["label"].cpu().numpy())
    return WindowSplit(x=np.concatenate(xs), y=np.concatenate(ys).astype(np.int64))


def signal_info(datamodule: Any) -> SignalInfo:
    stats = datamodule.acc_stats
    return SignalInfo(
        rate_hz=float(datamodule.sampling_rate_hz),
        mean=np.asarray(stats.mean, dtype=np.float64),
        std=np.asarray(stats.std, dtype=np.float64),
    )

"""Normalisation: pose scaled by body size per session, acc standardised with TRAIN statistics.

Pose is only scaled here, never re-centred per frame: per-frame centring would erase the whole-body
motion (squats, jumps) that the wrist-worn sensor feels. The DataModule centres each window on the
root joint at the window's centre sample, a reference that does not move within the window.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har.data.cache import atomic_write
from har.data.session import Session
from har.errors import DataError

STATS_FILE = "norm_stats.json"
# Human3.6M indices of the torso used for the body scale.
HIP, THORAX = 0, 8


def body_scale(
    pose: np.ndarray, name: str = "session", torso: tuple[int, int] = (HIP, THORAX)
) -> float:
    """Median over frames of the torso length, hip (0) to thorax (8), in the pose's units.

    The torso is a rigid segment that every exercise keeps in view, and in 3D its length does not
    foreshorten, so its median is a robust per-person size. Dividing by it makes a short and a
    tall participant's poses comparable. ``torso`` names the two joints in other joint layouts
    (Kinect: hip centre / spine base to shoulder centre / spine shoulder).
    """
    lengths = np.linalg.norm(pose[:, torso[1]] - pose[:, torso[0]], axis=-1)
    lengths = lengths[np.isfinite(lengths)]
    scale = float(np.median(lengths)) if len(lengths) else 0.0
    if not scale > 1e-6:
        raise DataError(
            f"{name}: the pose has no torso (hip-to-thorax length is 0): check its pose_3d file"
        )
    return scale


@dataclass(frozen=True)
class AccStats:
    """Per-channel mean and standard deviation of the IMU over the training workouts' valid samples."""

    mean: np.ndarray  # (C,)
    std: np.ndarray  # (C,)
    workouts: tuple[str, ...]  # the training workouts they come from

    def apply(self, acc: np.ndarray) -> np.ndarray:
        return ((acc - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict:
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "workouts": list(self.workouts),
        }

    @classmethod
    def from_json(cls, content: dict) -> AccStats:
        return cls(
            mean=np.asarray(content["mean"], dtype=np.float64),
            std=np.asarray(content["std"], dtype=np.float64),
            workouts=tuple(content["workouts"]),
        )


def fit_acc_stats(train_sessions: Sequence[Session]) -> AccStats:
    """Statistics from the training sessions only (never val/test: that would leak)."""
    acc = np.concatenate([s.acc[s.valid] for s in train_sessions]).astype(np.float64)
    if len(acc) == 0:
        raise DataError("the training workouts hold no valid IMU sample: check data.train_workouts")
    # A constant channel (e.g. a dead axis) would divide by zero; leave it unscaled instead.
    std = acc.std(axis=0)
    return AccStats(
        mean=acc.mean(axis=0),
        std=np.where(std > 1e-8, std, 1.0),
        workouts=tuple(s.workout for s in train_sessions),
    )


def save_stats(stats: AccStats, folder: Path) -> Path:
    """Write ``folder/norm_stats.json`` atomically (several trials may share one cache)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STATS_FILE
    atomic_write(path, lambda out: out.write(json.dumps(stats.to_json(), indent=2).encode()))
    return path


def load_stats(path: Path) -> AccStats:
    return AccStats.from_json(json.loads(Path(path).read_text()))

"""Reader for one MM-Fit workout as published: pose_3d, its IMU streams and the labels CSV.

The first stream of ``data.sensors`` is the primary one: its rows' frame numbers time the video
frames. Further streams (``wXX_sw_l_gyr.npy``, the other wrist, ...) carry their own timestamps
and are put on the same clock by ``align``.

Each raw file is loaded and checked by ``har.data.sources.mmfit.raw_files`` (this format's one
validator); the reader finds the files and unpacks them into a ``Recording``. Putting pose and IMU
on one clock is ``har.data.sources.mmfit.align``'s job. Every problem a user can fix is a one-line
``DataError`` naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from har.data.sources.mmfit.format import PARTICIPANT_OF, file_name
from har.data.sources.mmfit.raw_files import (
    ImuRows,
    Segment,
    integral_frames,
    load_imu,
    load_pose,
    more_rows,
    read_labels,
)
from har.errors import DataError

_FIX_ROOT = "set env.data_dir=... (or data.data_dir) to the folder holding w00 … w20, or use data=mmfit_synth"


@dataclass(frozen=True)
class WorkoutFiles:
    """The raw files one aligned session is built from (their identity keys the cache)."""

    pose_3d: Path
    imu: Path  # the primary stream
    labels: Path
    more_imu: tuple[Path, ...] = ()  # further streams, in data.sensors order

    def all(self) -> tuple[Path, ...]:
        return (self.pose_3d, self.imu, self.labels, *self.more_imu)


@dataclass(frozen=True)
class Recording:
    """One workout's raw content, on its own clocks (video frames and IMU milliseconds)."""

    workout: str
    participant: int  # -1 for a workout id outside the published 21
    pose_frames: np.ndarray  # (F,) int64, absolute frame numbers
    pose_mm: np.ndarray  # (F, 17, 3) float64, Human3.6M joints
    imu_frames: np.ndarray  # (N,) int64 frame value carried by each IMU row
    imu_time_ms: np.ndarray  # (N,) float64
    imu: np.ndarray  # (N, 3) float64
    segments: list[Segment]
    files: tuple[Path, ...]
    # Rows/frames whose frame number or timestamp is NaN/inf cannot be placed in time at all; the
    # reader drops them and align reports the counts beside its own.
    dropped: dict[str, int] = field(default_factory=dict)
    more_imu: tuple[ImuRows, ...] = ()  # further streams, concatenated after imu by align


def workout_files(
    root: Path, workout: str, sensor: str | Sequence[str] = "sw_l_acc"
) -> WorkoutFiles:
    """Paths of the files ``read_workout`` reads; raises if the root or workout folder is missing."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"MM-Fit folder {root} does not exist: {_FIX_ROOT}")
    folder = root / workout
    if not folder.is_dir():
        raise DataError(
            f"workout folder {folder} does not exist: remove {workout} from the data split or {_FIX_ROOT}"
        )
    first, *more = [sensor] if isinstance(sensor, str) else sensor
    return WorkoutFiles(
        pose_3d=folder / file_name(workout, "pose_3d"),
        imu=folder / file_name(workout, first),
        labels=folder / file_name(workout, "labels", "csv"),
        more_imu=tuple(folder / file_name(workout, stream) for stream in more),
    )


def require_files(files: WorkoutFiles) -> None:
    """Raise for the first missing raw file of a workout."""
    for path in files.all():
        if not path.is_file():
            raise DataError(
                f"{path} is missing: choose other data.sensors, drop {path.parent.name} from the "
                f"split, or {_FIX_ROOT}"
            )


def read_workout(root: Path, workout: str, sensor: str | Sequence[str] = "sw_l_acc") -> Recording:
    """Read ``<root>/<workout>/`` : ``wXX_pose_3d.npy``, ``wXX_<sensor>.npy`` (each stream),
    ``wXX_labels.csv``."""
    files = workout_files(root, workout, sensor)
    require_files(files)
    pose = load_pose(files.pose_3d)
    imu = load_imu(files.imu)
    pose_placed = np.isfinite(pose[0, :, 0])
    imu_placed = np.isfinite(imu[:, 0]) & np.isfinite(imu[:, 1])
    pose, imu = pose[:, pose_placed], imu[imu_placed]
    if pose.shape[1] == 0 or imu.shape[0] == 0:
        empty = files.pose_3d if pose.shape[1] == 0 else files.imu
        raise DataError(
            f"{empty} has no row with a finite frame number and timestamp: replace the file"
        )
    pose_frames = integral_frames(pose[0, :, 0], files.pose_3d)
    imu_frames = integral_frames(imu[:, 0], files.imu)
    known = np.concatenate([pose_frames, imu_frames])
    frame_range = (int(known.min()), int(known.max()))
    segments = read_labels(files.labels, frame_range)
    return Recording(
        workout=workout,
        participant=PARTICIPANT_OF.get(workout, -1),
        pose_frames=pose_frames,
        # (xyz, frame, joint) -> (frame, joint, xyz); column 0 of the joint axis is the frame number.
        pose_mm=np.ascontiguousarray(pose[:, :, 1:].transpose(1, 2, 0), dtype=np.float64),
        imu_frames=imu_frames,
        imu_time_ms=imu[:, 1].astype(np.float64),
        imu=imu[:, 2:].astype(np.float64),
        segments=segments,
        files=files.all(),
        dropped={
            "pose_frames_without_frame_number": int((~pose_placed).sum()),
            "imu_rows_without_frame_or_time": int((~imu_placed).sum()),
        },
        more_imu=tuple(more_rows(path) for path in files.more_imu),
    )

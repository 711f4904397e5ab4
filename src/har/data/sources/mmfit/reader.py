"""Reader for one MM-Fit workout as published: pose_3d, its IMU streams and the labels CSV.

The first stream of ``data.sensors`` is the primary one: its rows' frame numbers time the video
frames. Further streams (``wXX_sw_l_gyr.npy``, the other wrist, ...) carry their own timestamps
and are put on the same clock by ``align``.

The reader only checks and unpacks the raw files; putting pose and IMU on one clock is
``har.data.sources.mmfit.align``'s job. Every problem a user can fix is a one-line ``DataError`` naming the file.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import numpy as np

from har.data.sources.mmfit.format import CLASS_NAMES, PARTICIPANT_OF, file_name
from har.errors import DataError

log = logging.getLogger(__name__)

NUM_POSE_JOINTS = 17
IMU_COLUMNS = 5  # frame, timestamp_ms, x, y, z
_FIX_ROOT = "set env.data_dir=... (or data.data_dir) to the folder holding w00 … w20, or use data=mmfit_synth"


class Segment(NamedTuple):
    """One exercise set of ``wXX_labels.csv`` (frames are absolute reference-camera frames)."""

    start_frame: int
    end_frame: int
    reps: int
    class_index: int


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
class ImuRows:
    """A further IMU stream on its own clock (its frame column is not needed)."""

    time_ms: np.ndarray  # (N,) float64, finite
    values: np.ndarray  # (N, 3) float64
    path: Path


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
    pose = _load_npy(files.pose_3d)
    if (
        pose.ndim != 3
        or pose.shape[0] != 3
        or pose.shape[2] != NUM_POSE_JOINTS + 1
        or pose.shape[1] == 0
    ):
        raise DataError(
            f"{files.pose_3d} has shape {pose.shape}, expected (3, N, {NUM_POSE_JOINTS + 1}) "
            "(xyz, frames, [frame number, 17 joints]): replace it with the published file"
        )
    imu = _load_imu(files.imu)
    pose_placed = np.isfinite(pose[0, :, 0])
    imu_placed = np.isfinite(imu[:, 0]) & np.isfinite(imu[:, 1])
    pose, imu = pose[:, pose_placed], imu[imu_placed]
    if pose.shape[1] == 0 or imu.shape[0] == 0:
        empty = files.pose_3d if pose.shape[1] == 0 else files.imu
        raise DataError(
            f"{empty} has no row with a finite frame number and timestamp: replace the file"
        )
    pose_frames = _integral_frames(pose[0, :, 0], files.pose_3d)
    imu_frames = _integral_frames(imu[:, 0], files.imu)
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
        more_imu=tuple(_more_rows(path) for path in files.more_imu),
    )


def _load_imu(path: Path) -> np.ndarray:
    imu = _load_npy(path)
    if imu.ndim != 2 or imu.shape[1] != IMU_COLUMNS or imu.shape[0] == 0:
        raise DataError(
            f"{path} has shape {imu.shape}, expected (N, {IMU_COLUMNS}) "
            "(frame, timestamp_ms, x, y, z): choose acc/gyr/mag streams as data.sensors"
        )
    return imu


def _more_rows(path: Path) -> ImuRows:
    """A further stream's rows that can be placed in time (finite timestamp)."""
    imu = _load_imu(path)
    placed = imu[np.isfinite(imu[:, 1])]
    if len(placed) < 2:
        raise DataError(f"{path} has fewer than two rows with a finite timestamp: replace the file")
    return ImuRows(placed[:, 1].astype(np.float64), placed[:, 2:].astype(np.float64), path)


def read_labels(path: Path, frame_range: tuple[int, int]) -> list[Segment]:
    """Parse the headerless ``start_frame,end_frame,reps,activity`` rows (activity: name or class id)."""
    segments: list[Segment] = []
    lo, hi = frame_range
    _require_text(path)
    with open(path, newline="", encoding="utf-8") as handle:
        for row_number, row in enumerate(csv.reader(handle), start=1):
            fields = [field.strip() for field in row]
            if not any(fields):
                continue  # blank line
            where = f"{path} row {row_number}"
            if len(fields) != 4:
                raise DataError(
                    f"{where} has {len(fields)} fields {row!r}, expected start_frame,end_frame,reps,activity"
                )
            try:
                start, end, reps = (int(float(value)) for value in fields[:3])
            except (ValueError, OverflowError):  # OverflowError: "inf"
                raise DataError(
                    f"{where}: start_frame, end_frame and reps must be integers, got {row!r}"
                ) from None
            class_index = _class_index(fields[3], where)
            if end < start:
                raise DataError(
                    f"{where}: end_frame {end} is before start_frame {start}: fix the row"
                )
            if start < lo or end > hi:
                raise DataError(
                    f"{where}: frames {start}..{end} lie outside the recording's frames {lo}..{hi}: fix the row"
                )
            segments.append(Segment(start, end, reps, class_index))
    _warn_overlaps(segments, path)
    return segments


def _require_text(path: Path) -> None:
    """A binary file (not UTF-8, or holding NUL bytes) would crash the CSV reader: say so instead."""
    content = Path(path).read_bytes()
    try:
        content.decode("utf-8")
        binary = b"\0" in content
    except UnicodeDecodeError:
        binary = True
    if binary:
        raise DataError(
            f"{path} is not a text CSV (it holds binary bytes): replace it with the published file"
        )


def _class_index(activity: str, where: str) -> int:
    name = activity.lower()
    if name in CLASS_NAMES:
        return CLASS_NAMES.index(name)
    if name.isdigit() and int(name) < len(CLASS_NAMES):
        return int(name)
    raise DataError(f"{where}: unknown activity {activity!r}; known: {', '.join(CLASS_NAMES)}")


def _warn_overlaps(segments: list[Segment], path: Path) -> None:
    # Overlapping sets are not fatal (alignment applies rows in file order, later rows win), but
    # they usually mean a mislabelled row, so say so.
    ordered = sorted(segments)
    for before, after in pairwise(ordered):
        if after.start_frame <= before.end_frame:
            log.warning("%s: sets %s and %s overlap; the later row wins", path, before, after)


def _load_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    # numpy fails on damaged bytes in many ways (header tokenizer and literal parser, pickle
    # refusal, short reads): each means the file is unreadable, never a bug to show as a traceback.
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(
            f"{path} is not a readable .npy file ({reason}): re-download or regenerate it"
        ) from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        found = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
        raise DataError(
            f"{path} holds {found}, expected an array of real numbers: re-download or regenerate it"
        )
    return array


def _integral_frames(values: np.ndarray, path: Path) -> np.ndarray:
    """Frame numbers are stored in a float array beside the data; they must be whole numbers."""
    if np.any(np.abs(values - np.round(values)) > 1e-6):
        raise DataError(
            f"{path}: the frame-number column holds non-integer values: replace the file"
        )
    return np.round(values).astype(np.int64)

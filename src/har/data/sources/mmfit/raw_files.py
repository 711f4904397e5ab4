"""MM-Fit's published files, each loaded and checked on its own: this format's one validator.

``wXX_pose_3d.npy`` (``load_pose``), each IMU stream ``wXX_<sensor>.npy`` (``load_imu``,
``more_rows``), the frame-number columns (``integral_frames``) and the headerless labels CSV
(``read_labels``). Every violation is a one-line ``DataError`` naming the file (and the CSV row),
what was found and what was expected. Checks that need two files at once (the clocks, the overlap
of pose and IMU) are ``har.data.sources.mmfit.align``'s.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import numpy as np

from har.data.sources.mmfit.format import CLASS_NAMES
from har.errors import DataError

log = logging.getLogger(__name__)

NUM_POSE_JOINTS = 17
IMU_COLUMNS = 5  # frame, timestamp_ms, x, y, z


class Segment(NamedTuple):
    """One exercise set of ``wXX_labels.csv`` (frames are absolute reference-camera frames)."""

    start_frame: int
    end_frame: int
    reps: int
    class_index: int


@dataclass(frozen=True)
class ImuRows:
    """A further IMU stream on its own clock (its frame column is not needed)."""

    time_ms: np.ndarray  # (N,) float64, finite
    values: np.ndarray  # (N, 3) float64
    path: Path


def load_pose(path: Path) -> np.ndarray:
    """``wXX_pose_3d.npy``: (3, N, 18) real numbers (xyz, frames, [frame number, 17 joints])."""
    pose = load_npy(path)
    if (
        pose.ndim != 3
        or pose.shape[0] != 3
        or pose.shape[2] != NUM_POSE_JOINTS + 1
        or pose.shape[1] == 0
    ):
        raise DataError(
            f"{path} has shape {pose.shape}, expected (3, N, {NUM_POSE_JOINTS + 1}) "
            "(xyz, frames, [frame number, 17 joints]): replace it with the published file"
        )
    return pose


def load_imu(path: Path) -> np.ndarray:
    imu = load_npy(path)
    if imu.ndim != 2 or imu.shape[1] != IMU_COLUMNS or imu.shape[0] == 0:
        raise DataError(
            f"{path} has shape {imu.shape}, expected (N, {IMU_COLUMNS}) "
            "(frame, timestamp_ms, x, y, z): choose acc/gyr/mag streams as data.sensors"
        )
    return imu


def more_rows(path: Path) -> ImuRows:
    """A further stream's rows that can be placed in time (finite timestamp)."""
    imu = load_imu(path)
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


def load_npy(path: Path) -> np.ndarray:
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


def integral_frames(values: np.ndarray, path: Path) -> np.ndarray:
    """Frame numbers are stored in a float array beside the data; they must be whole numbers."""
    if np.any(np.abs(values - np.round(values)) > 1e-6):
        raise DataError(
            f"{path}: the frame-number column holds non-integer values: replace the file"
        )
    return np.round(values).astype(np.int64)

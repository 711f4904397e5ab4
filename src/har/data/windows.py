"""Index of fixed-length windows over a split's sessions laid end to end.

Label rule (MM-Fit's official one): a window takes the label of its CENTRE sample,
``start + window_length // 2``; so a window is labelled with a set exactly when its centre lies
inside the set. Windows that touch an invalid sample (a hole in pose or IMU) are left out, so no
window straddles a gap or the seam between two sessions. A long session left without any window
is an error naming it (clips: ``har.data.clip_windows``), as is a split left without any.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from har.data.session import Session
from har.errors import DataError


@dataclass(frozen=True)
class WindowIndex:
    """Windows of one split. Offsets index the split's sessions concatenated in order."""

    start: np.ndarray  # (W,) int64 offset of each window's first sample in the concatenation
    label: np.ndarray  # (W,) int64 label of each window's centre sample
    session: np.ndarray  # (W,) int64 index of the window's session
    session_offsets: np.ndarray  # (S + 1,) int64 where each session starts (last: total length)
    window_length: int

    def __len__(self) -> int:
        return len(self.start)

    def class_counts(self, num_classes: int) -> list[int]:
        return np.bincount(self.label, minlength=num_classes).tolist()


def stride_samples(stride_seconds: float, rate_hz: float) -> int:
    return max(1, round(stride_seconds * rate_hz))


def build_index(
    sessions: Sequence[Session], window_length: int, stride_samples: int, split: str = "split"
) -> WindowIndex:
    """Every ``stride_samples``-th window of ``window_length`` samples lying wholly on valid samples."""

    def positions(n: int) -> np.ndarray:
        return np.arange(0, n - window_length + 1, stride_samples, dtype=np.int64)

    def nothing_fits() -> str:
        longest = max((_longest_valid_run(s.valid) for s in sessions), default=0)
        return (
            f"no window fits in split {split!r}: data.sensor_window_length={window_length} samples is "
            f"longer than every session's longest stretch of valid samples ({longest}): "
            "lower data.sensor_window_length or add longer workouts"
        )

    index = index_windows(sessions, window_length, positions, nothing_fits)
    per_session = np.bincount(index.session, minlength=len(sessions))
    if len(empty := np.flatnonzero(per_session == 0)):
        session = sessions[int(empty[0])]
        raise DataError(
            f"session {session.workout} of split {split!r} has no window: its longest stretch of "
            f"valid samples ({_longest_valid_run(session.valid)} of {len(session)}; "
            f"{session.report.get('samples_nonfinite', 0)} non-finite) is shorter than "
            f"data.sensor_window_length={window_length}: fix or drop the session, or lower the window"
        )
    return index


def index_windows(
    sessions: Sequence[Session],
    window_length: int,
    positions: Callable[[int], np.ndarray],
    nothing_fits: Callable[[], str],
) -> WindowIndex:
    """The windows starting at ``positions(len(session))`` in each session (they may overhang a
    short clip), less those whose in-session part touches an invalid sample. Labelled by the
    centre sample, clamped into the session; ``nothing_fits()`` explains an empty index."""
    lengths = np.array([len(s) for s in sessions], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    starts, labels, owners = [], [], []
    for number, session in enumerate(sessions):
        n = len(session)
        local = positions(n)
        # Invalid samples before each position: a window is clean iff the count does not change.
        first, end = np.maximum(local, 0), np.minimum(local + window_length, n)
        invalid_before = np.concatenate([[0], np.cumsum(~session.valid)])
        local = local[invalid_before[end] == invalid_before[first]]
        starts.append(local + offsets[number])
        labels.append(session.labels[np.clip(local + window_length // 2, 0, n - 1)])
        owners.append(np.full(len(local), number, dtype=np.int64))
    start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    if len(start) == 0:
        raise DataError(nothing_fits())
    return WindowIndex(
        start=start,
        label=np.concatenate(labels).astype(np.int64),
        session=np.concatenate(owners),
        session_offsets=offsets,
        window_length=window_length,
    )


def _longest_valid_run(valid: np.ndarray) -> int:
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return int(runs.max()) if len(runs) else 0

"""The neutral core every data source produces: one recording on one uniform clock.

Readers (``har.data.sources``) turn their published files into ``Session``s; everything downstream
(normalisation, windows, caches, the DataModule) sees only this type. ``interpolate`` is the one
linear resampler the readers share, so every source puts its streams on the clock the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_GAP_S = 0.25  # no interpolation across a hole in either stream longer than this


@dataclass
class Session:
    """One workout on a uniform clock: sample k is at ``t0_ms + k * 1000 / rate_hz`` (IMU ms)."""

    workout: str  # the session's name (MM-Fit workout id; clip or file name in other data sets)
    participant: int | str
    pose: np.ndarray  # (T, J, 3) float32, metres; MM-Fit: 17 Human3.6M joints; J = 0: IMU-only
    acc: np.ndarray  # (T, C) float32, data.sensors concatenated (m/s², rad/s); C = 0: pose-only
    labels: np.ndarray  # (T,) int64 class index
    valid: np.ndarray  # (T,) bool; False inside holes of either stream: windows must skip them
    t0_ms: float
    rate_hz: float
    report: dict[str, int | float | str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


def interpolate(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of the rows ``fp`` (at increasing ``xp``) to ``x``, vectorised over
    columns; also returns the span between the two samples used, to find holes in the stream."""
    right = np.searchsorted(xp, x, side="right").clip(1, len(xp) - 1)
    left = right - 1
    span = xp[right] - xp[left]
    weight = ((x - xp[left]) / span).clip(0.0, 1.0)[:, None]
    return fp[left] * (1.0 - weight) + fp[right] * weight, span


def resample(
    pose: np.ndarray,
    imu: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    rate: float,
    target: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A session sampled uniformly at ``rate`` Hz onto ``target`` Hz: linear for pose (T, J, 3;
    J may be 0) and IMU (T, C; C may be 0), nearest sample for labels; a new sample is valid when
    both old samples around it are."""
    t = np.arange(len(labels)) / rate
    clock = np.arange(int(np.floor(t[-1] * target + 1e-9)) + 1) / target
    pose_flat, _ = interpolate(clock, t, pose.reshape(len(pose), -1))
    imu_new, _ = interpolate(clock, t, imu)
    nearest = np.clip(np.rint(clock * rate).astype(np.int64), 0, len(labels) - 1)
    left = np.clip(np.floor(clock * rate).astype(np.int64), 0, len(labels) - 1)
    right = np.clip(left + 1, 0, len(labels) - 1)
    return (
        pose_flat.reshape(len(clock), pose.shape[1], 3),
        imu_new,
        labels[nearest],
        valid[left] & valid[right],
    )


def mask_nonfinite(session: Session) -> int:
    """Mark samples holding NaN/inf in pose or IMU invalid (holes no window touches), count them
    in ``report["samples_nonfinite"]`` and return the count. Every source's sessions pass here
    once, when read, so no non-finite value reaches a batch whatever the reader did."""
    finite = np.all(np.isfinite(session.pose), axis=(1, 2)) & np.all(
        np.isfinite(session.acc), axis=1
    )
    session.valid = session.valid & finite
    dropped = int((~finite).sum())
    session.report["samples_nonfinite"] = dropped
    return dropped


def layout_mismatch(session: Session, reference: Session) -> str | None:
    """How ``session``'s joint or IMU channel count differs from ``reference``'s (None: alike). An
    IMU-only session (0 joints) may sit beside posed ones: the data set then drops pose."""
    for what, mine, theirs in (
        ("joints", session.pose.shape[1:], reference.pose.shape[1:]),
        ("IMU columns", session.acc.shape[1:], reference.acc.shape[1:]),
    ):
        if what == "joints" and 0 in (mine[0], theirs[0]):
            continue
        if mine != theirs:
            return (
                f"it has {mine[0]} {what} but session {reference.workout} has {theirs[0]}: "
                f"every session must hold the same {what}"
            )
    return None

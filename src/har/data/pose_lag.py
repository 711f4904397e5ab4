"""How far the pose trails (or leads) the IMU in an aligned session, by cross-correlation.

The accelerometer's magnitude is compared with the magnitude of the watch reading computed
physically from the pose (``har.physics.virtual_imu`` on the watch arm's shoulder, elbow and wrist).
Magnitudes do not depend on how the watch is mounted or rolled, and both are band-passed (0.3–4 Hz)
so that gravity's offset and pose jitter do not decide the peak. The lag is the shift of the pose
that correlates best, refined between samples by a parabola through the peak; it is the value to
ADD to ``data.pose_lag_ms`` (positive: the pose came out early and must move later).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from har import physics
from har.data.session import Session

MAX_LAG_MS = 300.0
BAND_HZ = (0.3, 4.0)


def estimate_pose_lag_ms(
    session: Session, arm: Sequence[int], max_lag_ms: float = MAX_LAG_MS
) -> float | None:
    """The pose's lag (ms) in ``session``; None when too little valid signal overlaps."""
    fs = float(session.rate_hz)
    shoulder, elbow, wrist = (session.pose[:, j].astype(np.float64) for j in arm)
    simulated, _ = physics.virtual_imu(shoulder, elbow, wrist, fs, cutoff_hz=BAND_HZ[1])
    from_pose = _band(np.linalg.norm(simulated, axis=1), fs)
    from_imu = _band(np.linalg.norm(session.acc[:, :3].astype(np.float64), axis=1), fs)
    valid = np.asarray(session.valid, dtype=bool)
    max_shift = round(max_lag_ms * fs / 1000.0)
    shifts = np.arange(-max_shift, max_shift + 1)
    scores = np.array([_correlation(from_imu, from_pose, valid, k) for k in shifts])
    if not np.isfinite(scores).any():
        return None
    best = int(np.nanargmax(scores))
    offset = 0.0
    if 0 < best < len(shifts) - 1 and np.isfinite(scores[best - 1 : best + 2]).all():
        left, mid, right = scores[best - 1 : best + 2]
        curvature = left - 2 * mid + right
        offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float((shifts[best] + offset) * 1000.0 / fs)


def _band(x: np.ndarray, fs: float) -> np.ndarray:
    return physics.lowpass(x, fs, BAND_HZ[1]) - physics.lowpass(x, fs, BAND_HZ[0])


def _correlation(imu: np.ndarray, pose: np.ndarray, valid: np.ndarray, shift: int) -> float:
    """Pearson r of imu(t) with pose(t - shift) over the samples valid in both."""
    n = len(imu)
    if abs(shift) >= n - 2:
        return np.nan
    if shift >= 0:
        a, b, ok = imu[shift:], pose[: n - shift], valid[shift:] & valid[: n - shift]
    else:
        a, b, ok = imu[:shift], pose[-shift:], valid[:shift] & valid[-shift:]
    if ok.sum() < 100:
        return np.nan
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else np.nan

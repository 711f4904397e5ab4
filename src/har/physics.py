"""Virtual IMU from joint trajectories: what a wrist watch would measure, computed physically.

Used by the synthetic MM-Fit twin (on clean simulated trajectories) and as a non-learned baseline
pose->IMU regressor (on estimated poses, where the low-pass filter does the heavy lifting).

Conventions (see ``shared/reference/dataset-formats.md``, "Virtual accelerometry from joints"):

- Positions are in metres in the pose ("world") frame of the twin, which is camera-like:
  x right, y DOWN, z forward (away from the camera). Gravity therefore points +y:
  ``GRAVITY_POSE_FRAME = (0, +9.80665, 0)`` m/s², and a sensor at rest reads +9.81 along its axis
  that points up (world -y).
- Time is axis 0 of every array; any further leading axes (batch, joints) ride along.
- A frame ``R`` (..., 3, 3) holds the sensor axes as COLUMNS in world coordinates, so a world
  vector v reads ``R^T v`` in the sensor.
- Forearm sensor frame: x = unit(wrist - elbow) (along the forearm, towards the hand);
  z = unit(x × (shoulder - elbow)) (normal to the arm's plane); y = z × x.
  Roll about the forearm is not observable from three joints: ``apply_roll`` adds it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import butter, sosfiltfilt
from scipy.spatial.transform import Rotation

G = 9.80665
# Gravitational acceleration in the pose frame (y points down).
GRAVITY_POSE_FRAME: NDArray[np.float64] = np.array([0.0, G, 0.0])

Array = NDArray[np.float64]


def lowpass(
    x: ArrayLike, fs: float, cutoff_hz: float | None, order: int = 4, axis: int = 0
) -> Array:
    """Zero-phase Butterworth low-pass along ``axis`` (``sosfiltfilt``).

    ``cutoff_hz=None`` or a cutoff at/above Nyquist returns a float64 copy unchanged. Inputs shorter
    than the filter's default edge padding are filtered with the longest padding they allow.
    """
    x = np.asarray(x, dtype=np.float64)
    if cutoff_hz is None or cutoff_hz >= 0.5 * fs:
        return x.copy()
    if cutoff_hz <= 0:
        raise ValueError(f"cutoff_hz must be positive, got {cutoff_hz}")
    n = x.shape[axis]
    if n < 2:
        return x.copy()
    sos = butter(order, cutoff_hz, btype="low", fs=fs, output="sos")
    # scipy's default padlen; it raises when the signal is not longer than that.
    zeros_at_origin = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    default_padlen = 3 * (2 * len(sos) + 1 - zeros_at_origin)
    return sosfiltfilt(sos, x, axis=axis, padlen=min(default_padlen, n - 1))


def kinematic_acceleration(pos_m: ArrayLike, fs: float, stencil: int = 1) -> Array:
    """Second central difference along time: a(t) = [p(t+nΔ) - 2p(t) + p(t-nΔ)] / (nΔ)².

    ``pos_m`` is (T, 3) or (T, ..., 3) in metres. The n edge samples at each end take the nearest
    valid value; with fewer than 2n+1 samples the result is all zeros (nothing can be estimated).
    """
    p = np.asarray(pos_m, dtype=np.float64)
    n = int(stencil)
    if n < 1:
        raise ValueError(f"stencil must be >= 1, got {stencil}")
    t_len = p.shape[0]
    acc = np.zeros_like(p)
    if t_len < 2 * n + 1:
        return acc
    h = n / fs
    acc[n : t_len - n] = (p[2 * n :] - 2.0 * p[n : t_len - n] + p[: t_len - 2 * n]) / (h * h)
    acc[:n] = acc[n]
    acc[t_len - n :] = acc[t_len - n - 1]
    return acc


def _unit(v: Array) -> Array:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


def _any_perpendicular(x: Array) -> Array:
    """A unit vector perpendicular to each unit x (used only when no arm plane is ever defined)."""
    ref = np.zeros_like(x)
    use_z = np.abs(x[..., 2]) < 0.9
    ref[..., 2] = np.where(use_z, 1.0, 0.0)
    ref[..., 0] = np.where(use_z, 0.0, 1.0)
    return _unit(np.cross(x, ref))


def forearm_frames(
    shoulder: ArrayLike, elbow: ArrayLike, wrist: ArrayLike, *, min_sin: float = 0.02
) -> Array:
    """Forearm sensor frames (T, ..., 3, 3): columns x, y, z in world coordinates.

    Where the arm is (nearly) straight — sine of the elbow angle below ``min_sin`` — the arm's plane
    is undefined, so the last valid normal is carried forward (backward before the first valid
    one) and re-orthogonalised against the current forearm axis. Never returns NaN for finite input.
    """
    s, e, w = (np.asarray(a, dtype=np.float64) for a in (shoulder, elbow, wrist))
    x = _unit(w - e)
    upper = s - e
    normal = np.cross(x, upper)
    norm = np.linalg.norm(normal, axis=-1)
    valid = (norm > min_sin * np.linalg.norm(upper, axis=-1)) & np.isfinite(norm)
    z = normal / np.where(valid, norm, 1.0)[..., None]

    if not valid.all():
        t_len = x.shape[0]
        flat_valid = valid.reshape(t_len, -1)
        flat_z = z.reshape(t_len, -1, 3)
        # Index of the last valid sample at or before t (forward fill) ...
        steps = np.arange(t_len)[:, None]
        last = np.maximum.accumulate(np.where(flat_valid, steps, -1), axis=0)
        # ... and, before the first valid sample, the first valid one (back fill).
        first = np.argmax(flat_valid, axis=0)
        src = np.where(last >= 0, last, first[None, :])
        filled = np.take_along_axis(flat_z, src[..., None], axis=0)
        never_valid = ~flat_valid.any(axis=0)
        filled[:, never_valid] = np.nan  # replaced below
        z = filled.reshape(z.shape)
        z = z - np.sum(z * x, axis=-1, keepdims=True) * x
        z_norm = np.linalg.norm(z, axis=-1)
        bad = ~(z_norm > 1e-6)
        z = z / np.where(bad, 1.0, z_norm)[..., None]
        if bad.any():
            z[bad] = _any_perpendicular(x[bad])
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def apply_roll(R: ArrayLike, roll_rad: ArrayLike) -> Array:
    """Rotate each sensor frame about its own x axis (the forearm) by ``roll_rad``.

    ``R' = R @ Rx(roll)``: y' = cos·y + sin·z, z' = -sin·y + cos·z. A vector that read (vx, vy, vz)
    reads (vx, cos·vy + sin·vz, -sin·vy + cos·vz) afterwards; at +90° that is (vx, vz, -vy).
    ``roll_rad`` is a scalar, a (T,) series, or any array broadcasting to R's leading shape.
    """
    R = np.asarray(R, dtype=np.float64)
    roll = np.asarray(roll_rad, dtype=np.float64)
    if roll.ndim == 1 and R.ndim > 3:  # a (T,) series applies to every trailing frame at time t
        roll = roll.reshape(roll.shape + (1,) * (R.ndim - 3))
    roll = np.broadcast_to(roll, R.shape[:-2])
    c, s = np.cos(roll)[..., None], np.sin(roll)[..., None]
    y, z = R[..., :, 1], R[..., :, 2]
    out = R.copy()
    out[..., :, 1] = c * y + s * z
    out[..., :, 2] = -s * y + c * z
    return out


def specific_force(
    R: ArrayLike, acc_world: ArrayLike, gravity: ArrayLike = GRAVITY_POSE_FRAME
) -> Array:
    """What an accelerometer reads: f = Rᵀ (a - g), with g the gravity vector in the world frame."""
    R = np.asarray(R, dtype=np.float64)
    rel = np.asarray(acc_world, dtype=np.float64) - np.asarray(gravity, dtype=np.float64)
    return np.einsum("...ji,...j->...i", R, rel)


def angular_velocity(R: ArrayLike, fs: float) -> Array:
    """Body-frame rotation rate (T, ..., 3) in rad/s: ω(t) = log(R(t)ᵀ R(t+1)) · fs.

    This is what a gyroscope fixed to the frame reads. The last sample repeats the one before.
    """
    R = np.asarray(R, dtype=np.float64)
    out = np.zeros(R.shape[:-1])
    if R.shape[0] < 2:
        return out
    relative = np.einsum("...ji,...jk->...ik", R[:-1], R[1:])
    rotvec = Rotation.from_matrix(relative.reshape(-1, 3, 3)).as_rotvec()
    out[:-1] = rotvec.reshape(relative.shape[:-1]) * fs
    out[-1] = out[-2]
    return out


def virtual_imu(
    shoulder: ArrayLike,
    elbow: ArrayLike,
    wrist: ArrayLike,
    fs: float,
    cutoff_hz: float | None = 8.0,
    stencil: int = 1,
    roll: ArrayLike = 0.0,
    gravity: ArrayLike = GRAVITY_POSE_FRAME,
) -> tuple[Array, Array]:
    """Watch accelerometer (m/s², including gravity) and gyroscope (rad/s) from arm joints.

    Joints are (T, 3) or (T, ..., 3) in metres sampled at ``fs``. They are low-passed at
    ``cutoff_hz`` (None: not filtered — for clean simulated trajectories), the forearm frame is
    rolled by ``roll`` (scalar or (T,): mounting rotation plus wrist supination), and the wrist's
    kinematic acceleration is turned into specific force in that frame.
    Returns ``(acc, gyr)``, each shaped like ``wrist``.
    """
    s, e, w = (lowpass(j, fs, cutoff_hz) for j in (shoulder, elbow, wrist))
    R = apply_roll(forearm_frames(s, e, w), roll)
    acc = specific_force(R, kinematic_acceleration(w, fs, stencil), gravity)
    return acc, angular_velocity(R, fs)

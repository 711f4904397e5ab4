"""The twin's watches: a rigid-body sensor on the forearm, and the clocks its rows are logged with.

Sensor model (``sensor_model=rigid_body``). Deliberately NOT ``har.physics.virtual_imu`` (the chain
the physics baseline ports), so the baseline is not right by construction:

- the watch is a rigid body strapped to the distal forearm: its orientation is the forearm's
  (x along the forearm towards the hand; the arm's plane, blended with the camera's depth axis so
  it stays defined for a straight arm) turned about x by the strap's roll, the grip and the share of
  the hand's supination the distal forearm follows;
- the sensor sits ``offset`` away from the wrist joint (towards the elbow, above the forearm's
  axis, in the watch's own axes), so it feels the tangential and centripetal terms of the forearm's
  rotation as well as the wrist's acceleration;
- the sensor point's acceleration comes from a cubic spline through its positions (exact second
  derivative of the interpolant), the gyroscope from the rotation between the neighbouring samples
  (centred), and the watch's own anti-aliasing low-pass is applied to what it measures.

Clock model. A watch samples at its own jittered ≈103 Hz; the phone logs each row with its
timestamp on the WATCH's clock (per-watch offset, rate error ``drift_ppm``) and with the video frame
SHOWN when the row arrived: ``floor((t + delay + latency) · fps)`` with a per-watch delivery delay
and a random logging latency. The aligner places a frame at the mean time of the rows carrying it,
so the pose ends up ``delay + E[latency] − half a frame`` early: ``expected_pose_lag_ms``, the value
``data.pose_lag_ms`` should take (and ``python -m har.data.inspect --estimate-lag`` estimates).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

from har.physics import G, lowpass

Array = np.ndarray
WATCH_INTERVAL_MS = 1000.0 / 103.0  # nominal 100 Hz, measured ≈103 Hz on the real watches
_DEPTH = np.array([0.0, 0.0, 1.0])
_GRAVITY = np.array([0.0, G, 0.0])  # the level world frame the body moves in (y down)


def rigid_body_imu(
    shoulder: Array,
    elbow: Array,
    wrist: Array,
    fs: float,
    roll_deg: Array,
    offset_m: Array,
    cutoff_hz: float,
) -> tuple[Array, Array]:
    """Accelerometer (m/s², with gravity) and gyroscope (rad/s), (T, 3) each, in the watch's axes.

    ``roll_deg`` (T,) turns the watch about the forearm; ``offset_m`` (T, 2) is the sensor's place
    relative to the wrist joint: metres towards the elbow and above the forearm's axis.
    """
    x = _unit(wrist - elbow)
    upper = shoulder - elbow
    reference = upper + 0.1 * np.linalg.norm(upper, axis=-1, keepdims=True) * _DEPTH
    z = _unit(np.cross(x, reference))
    y = np.cross(z, x)
    forearm = Rotation.from_matrix(np.stack([x, y, z], axis=-1))
    watch = forearm * Rotation.from_rotvec(np.deg2rad(roll_deg)[:, None] * [1.0, 0.0, 0.0])
    local = np.column_stack([-offset_m[:, 0], np.zeros(len(offset_m)), offset_m[:, 1]])
    sensor = wrist + watch.apply(local)
    t = np.arange(len(wrist)) / fs
    acc_world = CubicSpline(t, sensor, axis=0)(t, 2)
    acc = watch.inv().apply(acc_world - _GRAVITY)
    gyr = np.zeros_like(acc)
    step = (watch[:-2].inv() * watch[2:]).as_rotvec() * (fs / 2.0)
    gyr[1:-1] = step
    gyr[0], gyr[-1] = step[0], step[-1]
    return lowpass(acc, fs, cutoff_hz), lowpass(gyr, fs, cutoff_hz)


def _unit(v: Array) -> Array:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def sample_times(end_s: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """True sample times (s) of the accelerometer and gyroscope: jittered ≈103 Hz.

    The gyroscope's events trail the accelerometer's by about a millisecond and one stream may hold
    one row more than the other, as on the real watches.
    """
    n_max = int(end_s * 1000.0 / WATCH_INTERVAL_MS * 1.1) + 10
    intervals = np.clip(rng.normal(WATCH_INTERVAL_MS, 0.7, n_max), 6.5, 13.0) / 1000.0
    acc_t = rng.uniform(0.0, 0.02) + np.cumsum(intervals) - intervals[0]
    gyr_t = acc_t + (rng.uniform(0.5, 2.0) + rng.normal(0.0, 0.15, n_max)) / 1000.0
    keep = gyr_t < end_s
    acc_t, gyr_t = acc_t[keep], gyr_t[keep]
    drop = rng.integers(3)  # 0: none, 1: first gyro row, 2: last gyro row
    gyr_t = gyr_t[1:] if drop == 1 else gyr_t[:-1] if drop == 2 else gyr_t
    return acc_t, gyr_t


class Logger:
    """How one watch's rows are logged: its delivery delay, latency, clock offset and rate error."""

    def __init__(self, delay_ms: float, latency_ms: float, offset_ms: float, drift_ppm: float):
        self.delay_ms, self.latency_ms = delay_ms, latency_ms
        self.offset_ms, self.drift_ppm = offset_ms, drift_ppm

    @classmethod
    def draw(cls, preset, rng: np.random.Generator) -> Logger:
        return cls(
            rng.uniform(*preset.watch_delay_ms),
            preset.log_latency_ms,
            rng.uniform(-60.0, 60.0),
            rng.normal(0.0, preset.drift_ppm),
        )

    def frames(self, t: Array, fps: float, n_frames: int, rng: np.random.Generator) -> Array:
        """Index (0..n_frames-1) of the frame shown when each row sampled at ``t`` was logged."""
        latency = rng.exponential(self.latency_ms, len(t)) if self.latency_ms > 0 else 0.0
        arrived = t + (self.delay_ms + latency) / 1000.0
        return np.clip(np.floor(arrived * fps), 0, n_frames - 1)

    def stamps(self, t: Array, epoch_ms: float) -> Array:
        """The watch's own timestamps (ms) of rows sampled at true times ``t``."""
        return np.round(epoch_ms + 1000.0 * t * (1.0 + 1e-6 * self.drift_ppm) + self.offset_ms)

    def expected_pose_lag_ms(self, fps: float) -> float:
        return self.delay_ms + self.latency_ms - 500.0 / fps

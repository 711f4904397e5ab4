"""Virtual IMU physics: gravity sign, centripetal acceleration, roll, gyro, degeneracy, filtering."""

from __future__ import annotations

import numpy as np
import pytest

from har.physics import (
    GRAVITY_POSE_FRAME,
    G,
    angular_velocity,
    apply_roll,
    forearm_frames,
    kinematic_acceleration,
    lowpass,
    specific_force,
    virtual_imu,
)

UP = np.array([0.0, -1.0, 0.0])  # the pose frame's y axis points down


def _still(point, t_len: int = 50) -> np.ndarray:
    return np.tile(np.asarray(point, dtype=float), (t_len, 1))


def test_gravity_constant_points_down_the_pose_frame():
    assert np.allclose(GRAVITY_POSE_FRAME, [0.0, G, 0.0])


@pytest.mark.parametrize(
    ("shoulder", "elbow", "wrist", "up_axis"),
    [
        # Forearm vertical, hand up (shoulder press): x points up.
        ([0.3, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, -0.25, 0.0], 0),
        # Upper arm hanging down to the elbow, forearm horizontal forward: y = up.
        ([0.0, -0.3, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.25], 1),
    ],
)
def test_sensor_at_rest_reads_plus_g_on_the_axis_pointing_up(shoulder, elbow, wrist, up_axis):
    acc, gyr = virtual_imu(_still(shoulder), _still(elbow), _still(wrist), fs=100.0)
    expected = np.zeros(3)
    expected[up_axis] = G
    assert np.allclose(acc, expected, atol=1e-9)
    assert np.allclose(gyr, 0.0, atol=1e-9)


def test_uniform_circular_motion_gives_centripetal_acceleration_along_minus_x():
    # Elbow fixed, upper arm pointing up, forearm horizontal and turning about the vertical axis:
    # the wrist circles the elbow. Sensor x is radial (outwards), y is up, z is tangential.
    fs, radius, omega = 1000.0, 0.25, 2 * np.pi * 1.5
    t = np.arange(2000) / fs
    wrist = radius * np.column_stack([np.cos(omega * t), np.zeros_like(t), np.sin(omega * t)])
    elbow = np.zeros_like(wrist)
    shoulder = np.tile(0.3 * UP, (len(t), 1))
    acc, gyr = virtual_imu(shoulder, elbow, wrist, fs, cutoff_hz=None)
    inner = slice(5, -5)
    assert np.allclose(acc[inner, 0], -(omega**2) * radius, rtol=1e-4)
    assert np.allclose(acc[inner, 1], G, atol=1e-3)
    assert np.allclose(acc[inner, 2], 0.0, atol=1e-3)
    # Rotating about the world vertical = the sensor's y axis; |ω| exact, sign from handedness:
    # x = (cos, 0, sin) turns towards +z = -(up) × x ... i.e. clockwise seen from above.
    assert np.allclose(np.abs(gyr[:-1, 1]), omega, rtol=1e-6)
    assert np.allclose(gyr[:-1, [0, 2]], 0.0, atol=1e-6)
    # Cross-check the sign against the frames themselves: dR/dt = R [ω]x.
    R = forearm_frames(shoulder, elbow, wrist)
    x_next_in_sensor = R[100].T @ R[101][:, 0]
    assert np.sign(x_next_in_sensor[2]) == -np.sign(gyr[100, 1])


def test_roll_by_90_degrees_swaps_y_and_z_with_a_sign():
    rng = np.random.default_rng(0)
    R = forearm_frames(rng.normal(size=(20, 3)), np.zeros((20, 3)), rng.normal(size=(20, 3)))
    acc_world = rng.normal(size=(20, 3))
    before = specific_force(R, acc_world)
    after = specific_force(apply_roll(R, np.pi / 2), acc_world)
    assert np.allclose(after[:, 0], before[:, 0])
    assert np.allclose(after[:, 1], before[:, 2])
    assert np.allclose(after[:, 2], -before[:, 1])
    # The rolled frame is still a proper rotation.
    rolled = apply_roll(R, rng.normal(size=20))
    assert np.allclose(np.einsum("tji,tjk->tik", rolled, rolled), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(rolled), 1.0)


def test_constant_roll_rate_reads_as_omega_on_x():
    fs, rate, t_len = 200.0, 2.5, 400
    R = forearm_frames(
        _still([0, -0.3, 0], t_len), _still([0, 0, 0], t_len), _still([0.25, 0, 0], t_len)
    )
    gyr = angular_velocity(apply_roll(R, rate * np.arange(t_len) / fs), fs)
    assert np.allclose(gyr, [rate, 0.0, 0.0], atol=1e-9)


def test_shoulder_circling_the_forearm_axis_is_a_rotation_about_x():
    # Forearm fixed along world x; the upper arm sweeps a cone around it: the arm's plane turns
    # about the forearm, which the joint-defined frame sees as rotation about its x axis.
    fs, rate, t_len = 200.0, 1.7, 400
    t = np.arange(t_len) / fs
    shoulder = np.column_stack([-0.1 + 0 * t, 0.3 * np.cos(rate * t), 0.3 * np.sin(rate * t)])
    gyr = angular_velocity(
        forearm_frames(shoulder, np.zeros((t_len, 3)), _still([0.25, 0, 0], t_len)), fs
    )
    assert np.allclose(np.abs(gyr[:, 0]), rate, rtol=1e-6)
    assert np.allclose(gyr[:, 1:], 0.0, atol=1e-9)


def test_straight_arm_keeps_the_previous_normal_without_nan():
    t_len = 30
    elbow = np.zeros((t_len, 3))
    wrist = _still([0.0, 0.25, 0.0], t_len)  # forearm pointing down
    shoulder = _still([0.05, -0.3, 0.0], t_len)  # bent: plane defined
    shoulder[10:20] = [0.0, -0.3, 0.0]  # straight arm: plane undefined
    shoulder[:3] = [0.0, -0.3, 0.0]  # straight from the start: back-filled
    R = forearm_frames(shoulder, elbow, wrist)
    assert np.isfinite(R).all()
    assert np.allclose(R[10:20], R[9])
    assert np.allclose(R[:3], R[3])
    assert np.allclose(np.einsum("tji,tjk->tik", R, R), np.eye(3), atol=1e-12)


def test_frames_accept_extra_leading_axes():
    rng = np.random.default_rng(1)
    s, e, w = (rng.normal(size=(12, 4, 3)) for _ in range(3))
    batched = forearm_frames(s, e, w)
    assert batched.shape == (12, 4, 3, 3)
    assert np.allclose(batched[:, 2], forearm_frames(s[:, 2], e[:, 2], w[:, 2]))
    assert apply_roll(batched, np.linspace(0, 1, 12)).shape == (12, 4, 3, 3)
    assert angular_velocity(batched, 100.0).shape == (12, 4, 3)


def test_kinematic_acceleration_of_a_parabola_and_its_edges():
    fs = 50.0
    t = np.arange(40) / fs
    pos = np.column_stack([0.5 * 3.0 * t**2, t, 0 * t])
    for stencil in (1, 3):
        acc = kinematic_acceleration(pos, fs, stencil)
        assert np.allclose(acc, [3.0, 0.0, 0.0])
    assert np.all(kinematic_acceleration(pos[:2], fs) == 0.0)  # too short to estimate


def test_lowpass_attenuates_20hz_and_passes_1hz():
    fs = 100.0
    t = np.arange(1000) / fs
    slow, fast = np.sin(2 * np.pi * 1.0 * t), np.sin(2 * np.pi * 20.0 * t)
    filtered = lowpass(np.column_stack([slow, fast]), fs, cutoff_hz=5.0)
    inner = slice(100, -100)
    assert np.max(np.abs(filtered[inner, 0] - slow[inner])) < 0.01
    assert np.max(np.abs(filtered[inner, 1])) < 0.01
    # Short inputs do not raise; no-op cases return a copy.
    assert lowpass(np.ones((5, 3)), fs, 5.0).shape == (5, 3)
    assert lowpass(np.ones(1), fs, 5.0).shape == (1,)
    assert np.array_equal(lowpass(slow, fs, None), slow)

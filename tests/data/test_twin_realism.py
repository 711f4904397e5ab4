"""The twin's presets: every setting of ``realistic`` is documented and reaches the files, the camera
is tilted, the pose error is monocular-sized, the frame column is the logger's, the watch is a rigid
body (not har.physics), supination is random per rep, and participants differ widely."""

from __future__ import annotations

import dataclasses
import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from har import physics
from har.data.sources.mmfit.format import POSE_FPS, file_name
from har.data.twin import presets, watch
from har.data.twin.exercises import Style
from har.data.twin.mmfit import (
    generate_mmfit_twin,
    participant_style,
    quirk_workouts,
    simulate_workout,
)
from har.data.twin.presets import EASY, REALISTIC, TwinPreset
from har.data.twin.variation import WatchRoll, spread_style
from har.data.twin.workout_timeline import plan_workout

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("data.test_twin_realism")

SETTINGS = [f.name for f in dataclasses.fields(TwinPreset) if f.name != "name"]
# Which output each setting moves: the watch rows, the pose frames, or the frame column.
MOVES_POSE = {
    "asymmetry", "style_spread", "arm_gain", "camera_pitch_deg", "camera_roll_deg",
    "camera_distance_m", "camera_height_m", "pose_error_cm", "depth_factor", "bone_jitter",
    "swaps_per_min", "dropped_frames", "pose_error",
}  # fmt: skip


@pytest.fixture(scope="module")
def realistic(tmp_path_factory) -> Path:
    return generate_mmfit_twin(
        tmp_path_factory.mktemp("twin") / "r", workouts=2, minutes=1.0, seed=0, twin="realistic"
    )


def _arrays(preset: TwinPreset, workout: str = "w00"):
    return simulate_workout(workout, 0.5, 0, quirk_workouts(21), preset)


@pytest.fixture(scope="module")
def reference():
    return _arrays(REALISTIC)


def test_every_setting_is_documented_in_the_preset_table():
    doc = presets.__doc__
    for name in SETTINGS:
        assert f"| {name}" in doc or f", {name}" in doc, f"{name} is not in the presets table"


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_realistic_setting_reaches_the_files(setting, reference):
    """Setting it back to easy's value changes what is written (and only where it should)."""
    value = getattr(EASY, setting)
    if setting == "sensor_model":  # easy's chain needs none of the rigid body's settings
        value = "forearm_frame"
    changed = _arrays(dataclasses.replace(REALISTIC, **{setting: value}))
    imu_same = all(np.array_equal(changed.imu[k], reference.imu[k]) for k in reference.imu)
    pose_same = np.array_equal(changed.pose_3d, reference.pose_3d) and np.array_equal(
        changed.pose_2d, reference.pose_2d
    )
    assert not (imu_same and pose_same), f"{setting} changes nothing"
    if setting not in MOVES_POSE:
        assert pose_same, f"{setting} should move the watch rows only"


def test_manifest_records_the_preset_table_and_the_folder_is_reused_only_for_it(realistic):
    manifest = json.loads((realistic / "twin.json").read_text())
    assert manifest["twin"] == "realistic" and manifest["twin_settings"] == REALISTIC.table()
    assert manifest["generator"] == "har.data.twin.mmfit"
    from har.data.twin.store import matches

    assert not matches(
        manifest, {"twin": "realistic", "twin_settings": {**REALISTIC.table(), "grip_deg": 1}}
    )


def test_the_camera_is_tilted_so_gravity_is_not_plus_y(realistic, reference):
    truth = json.loads((realistic / "twin.json").read_text())["truth"]
    assert all(np.degrees(np.arccos(f["gravity_camera"][1])) > 0.5 for f in truth.values())
    # The same workout seen by a level camera (every draw the same): the rotation between the two
    # pose files (Kabsch, about the lens) takes +y to the recorded gravity direction.
    level = _arrays(dataclasses.replace(REALISTIC, camera_pitch_deg=0.0, camera_roll_deg=0.0))
    a, b = (x.pose_3d[:, :, 1:].reshape(3, -1) for x in (level, reference))
    u, _, vh = np.linalg.svd(b @ a.T)
    rotation = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vh)]) @ vh
    gravity = np.array(reference.truth["gravity_camera"])
    assert np.degrees(np.arccos(gravity[1])) > 0.5
    assert np.degrees(np.arccos(np.clip(rotation[:, 1] @ gravity, -1, 1))) < 1.0


def test_the_pose_error_is_that_of_a_monocular_estimator(realistic):
    truth = json.loads((realistic / "twin.json").read_text())["truth"]
    for facts in truth.values():
        assert 0.04 <= facts["pose_mpjpe_m"] <= 0.05


def test_frames_go_missing_and_limbs_swap(realistic):
    frames = np.load(realistic / "w00" / file_name("w00", "pose_3d"))[0, :, 0]
    steps = np.diff(frames)
    assert steps.min() == 1 and steps.max() >= 2  # dropped frames leave gaps in the frame column
    from har.data.twin.camera import monocular_pose

    still = np.tile(np.linspace(-0.5, 0.5, 17)[None, :, None], (1800, 1, 3)) + np.array([0, 0, 4.0])
    many_swaps = dataclasses.replace(
        REALISTIC, swaps_per_min=30.0, pose_error_cm=0.0, bone_jitter=0.0
    )
    estimate, _ = monocular_pose(still, many_swaps, np.random.default_rng(0))
    swapped = np.abs(estimate[:, 14] - still[:, 11]).max(axis=1) < 1e-9  # l_shoulder at r's place
    assert 0 < swapped.mean() < 0.3


def test_rows_carry_the_frame_shown_when_logged(realistic):
    """floor((t + delay + latency) * fps): the frame column lags the sample; the lag is recorded."""
    truth = json.loads((realistic / "twin.json").read_text())["truth"]
    logger = watch.Logger(delay_ms=40.0, latency_ms=8.0, offset_ms=0.0, drift_ppm=0.0)
    t = np.arange(0, 60, 0.0097)
    frames = logger.frames(t, POSE_FPS, 10**6, np.random.default_rng(0))
    assert np.all(frames >= np.floor((t + 0.040) * POSE_FPS))
    # The aligner places frame k at the mean time of its rows: early by delay + latency - half a frame.
    mean_t = np.array([t[frames == k].mean() for k in range(5, 1500)])
    early_ms = 1000 * (np.arange(5, 1500) / POSE_FPS - mean_t)
    assert early_ms.mean() == pytest.approx(logger.expected_pose_lag_ms(POSE_FPS), abs=1.0)
    assert all(10 < lag < 80 for facts in truth.values() for lag in facts["pose_lag_ms"].values())


def test_rigid_body_watch_feels_the_centripetal_term_of_its_offset():
    """A forearm spinning about the elbow at ω: a sensor r closer to the elbow reads ω² r less."""
    fs, omega, n = 500.0, 4.0, 1500
    t = np.arange(n) / fs
    elbow = np.zeros((n, 3))
    shoulder = np.tile([0.0, -0.3, 0.0], (n, 1))
    wrist = 0.26 * np.stack([np.cos(omega * t), np.zeros(n), np.sin(omega * t)], axis=1)
    roll = np.zeros(n)

    def reading(r_m):
        offset = np.column_stack([np.full(n, r_m), np.zeros(n)])
        return watch.rigid_body_imu(shoulder, elbow, wrist, fs, roll, offset, None)

    (at_wrist, gyr), (closer, _) = reading(0.0), reading(0.05)
    inner = slice(100, -100)
    assert np.allclose(at_wrist[inner, 0] - closer[inner, 0], -(omega**2) * 0.05, atol=1e-3)
    # (the arm-plane reference is blended with the depth axis, so the frame turns a little too)
    assert np.allclose(np.linalg.norm(gyr[inner], axis=1), omega, rtol=0.01)
    # With no offset it measures what har.physics does, computed another way and in another frame
    # about the forearm: the same along the forearm and the same magnitude.
    reference, _ = physics.virtual_imu(shoulder, elbow, wrist, fs, cutoff_hz=None)
    assert np.allclose(at_wrist[inner, 0], reference[inner, 0], atol=1e-3)
    norms = (np.linalg.norm(x[inner], axis=1) for x in (at_wrist, reference))
    assert np.allclose(*norms, atol=1e-3)


def test_supination_is_random_per_rep_not_a_function_of_phase():
    style = participant_style(0, 1)
    rng = np.random.default_rng(0)
    segments = plan_workout(style, 900.0, rng)
    t = np.arange(0, 900.0, 1 / 210)
    roll = WatchRoll(segments, t, REALISTIC, np.random.default_rng(1))
    scripted = np.full(len(t), 40.0)  # the same scripted supination everywhere
    values = roll.roll_deg(scripted, "r", 0.0, 1.0) - roll.strap_deg - roll.grip_deg
    seg = next(s for s in segments if len(s.periods) >= 3)
    bounds = seg.reps_start + np.concatenate([[0.0], np.cumsum(seg.periods)])
    mid_rep = [values[np.searchsorted(t, 0.5 * (a + b))] for a, b in pairwise(bounds)]
    assert np.std(mid_rep) > 5.0  # same phase, different reps: different roll


def test_participants_differ_more_on_realistic():
    rng = np.random.default_rng
    easy = [participant_style(0, p) for p in range(12)]
    wide = [spread_style(s, rng(p), REALISTIC.style_spread) for p, s in enumerate(easy)]

    def spread(styles: list[Style], get) -> float:
        return float(np.std([get(s) for s in styles]))

    for get in (lambda s: s.tempo, lambda s: s.amplitude["lunges"], lambda s: s.lean):
        assert spread(wide, get) > 1.3 * spread(easy, get)


def test_hard_is_realistic_with_every_nuisance_larger():
    """``hard`` keeps realistic's models and makes every nuisance larger: 1.2–3x, median 1.5x."""
    hard, real = presets.HARD.table(), REALISTIC.table()
    models = {"sensor_model", "pose_error", "frame_column", "supination_share", "depth_factor"}
    models |= {"camera_distance_m", "camera_height_m"}
    grown = []
    for name in SETTINGS:
        if name in models:
            assert hard[name] == real[name], name
        elif name == "arm_gain":  # a range: hard's is wider on both ends
            assert hard[name][0] < real[name][0] and hard[name][1] > real[name][1]
        elif name == "watch_delay_ms":  # the same earliest delivery, a later latest one
            assert hard[name][0] == real[name][0] and hard[name][1] > real[name][1]
        elif isinstance(real[name], list):
            grown += [h / r for h, r in zip(hard[name], real[name], strict=True)]
        else:
            grown.append(hard[name] / real[name])
    assert all(1.2 <= g <= 3.0 for g in grown), grown
    assert 1.4 <= float(np.median(grown)) <= 1.6


def test_a_hard_workout_is_further_from_its_truth_than_a_realistic_one(reference):
    """The larger nuisances reach the files: more pose error, more tilt, more lag to find."""
    hard = _arrays(presets.HARD)
    assert hard.truth["pose_mpjpe_m"] > 1.2 * reference.truth["pose_mpjpe_m"]
    assert not np.array_equal(hard.imu["sw_l_acc"], reference.imu["sw_l_acc"])

"""The synthetic MM-Fit twin: published layout, clocks, labels, physics sanity, determinism, storage."""

from __future__ import annotations

import csv
import json
import os
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from har.data.sources.mmfit.format import CLASS_NAMES, POSE_FPS, file_name
from har.data.twin.mmfit import (
    ensure_mmfit_twin,
    generate_mmfit_twin,
    main,
    participant_style,
    quirk_workouts,
)
from har.data.twin.workout_timeline import plan_workout
from har.errors import DataError

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("data.test_synthetic")

WORKOUTS = ("w00", "w01", "w02")
MINUTES = 1.0
IMU_STREAMS = ("sw_l_acc", "sw_l_gyr", "sw_r_acc", "sw_r_gyr")


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    return generate_mmfit_twin(
        tmp_path_factory.mktemp("twin") / "mmfit", workouts=3, minutes=MINUTES, seed=0
    )


def _load(root: Path, workout: str, stream: str) -> np.ndarray:
    return np.load(root / workout / file_name(workout, stream))


def _labels(root: Path, workout: str) -> list[list[str]]:
    with open(root / workout / file_name(workout, "labels", "csv"), newline="") as handle:
        return list(csv.reader(handle))


def test_files_shapes_and_dtypes(twin: Path):
    quirks = quirk_workouts(3)
    assert sorted(p.name for p in twin.iterdir()) == ["twin.json", *WORKOUTS]
    for workout in WORKOUTS:
        pose_3d, pose_2d = _load(twin, workout, "pose_3d"), _load(twin, workout, "pose_2d")
        n_frames = int(MINUTES * 60 * POSE_FPS)
        assert pose_3d.shape == (3, n_frames, 18) and pose_3d.dtype == np.float64
        assert pose_2d.shape == (2, n_frames, 19) and pose_2d.dtype == np.float64
        streams = IMU_STREAMS[:2] if workout == quirks["no_right_watch"] else IMU_STREAMS
        for stream in streams:
            rows = _load(twin, workout, stream)
            assert rows.ndim == 2 and rows.shape[1] == 5 and rows.dtype == np.float64
        acc, gyr = _load(twin, workout, "sw_l_acc"), _load(twin, workout, "sw_l_gyr")
        assert abs(len(acc) - len(gyr)) <= 1
        assert np.isfinite(pose_3d).all() and np.isfinite(acc).all()


def test_frames_are_absolute_and_clocks_plausible(twin: Path):
    for workout in WORKOUTS:
        pose_3d, pose_2d = _load(twin, workout, "pose_3d"), _load(twin, workout, "pose_2d")
        frames = pose_3d[0, :, 0]
        assert frames[0] >= 200  # absolute camera frame numbers, not row indices
        assert np.all(np.diff(frames) == 1) and np.all(frames == np.round(frames))
        assert np.array_equal(pose_3d[1, :, 0], frames) and np.array_equal(pose_2d[0, :, 0], frames)
        acc = _load(twin, workout, "sw_l_acc")
        assert np.all(np.diff(acc[:, 0]) >= 0) and np.all(np.diff(acc[:, 1]) > 0)
        assert frames[0] <= acc[0, 0] and acc[-1, 0] <= frames[-1]
        assert acc[0, 1] > 1.4e12  # epoch-like milliseconds
        span_s = (acc[-1, 1] - acc[0, 1]) / 1000.0
        if workout != quirk_workouts(3)["imu_gap"]:
            assert 100.0 <= (len(acc) - 1) / span_s <= 106.0
            assert 3.0 <= np.mean(np.bincount(acc[:, 0].astype(int) - int(frames[0]))) <= 3.8
        # Millimetres in a camera frame: the person stands a few metres in front of the camera.
        depth_mm = pose_3d[2, :, 1:]
        assert 1500 < np.median(depth_mm) < 6000
        inside = (
            (pose_2d[0, :, 1:] > 0)
            & (pose_2d[0, :, 1:] < 1920)
            & (pose_2d[1, :, 1:] > 0)
            & (pose_2d[1, :, 1:] < 1080)
        )
        assert inside.mean() > 0.95


def test_labels_name_thirty_sets_inside_the_recording(twin: Path):
    for workout in WORKOUTS:
        frames = _load(twin, workout, "pose_3d")[0, :, 0]
        rows = _labels(twin, workout)
        assert len(rows) == 30
        for start, end, reps, activity in rows:
            assert activity in CLASS_NAMES[:-1]
            assert frames[0] <= int(start) < int(end) <= frames[-1] and int(reps) >= 1
        names = [row[3] for row in rows]
        assert all(names.count(name) == 3 for name in CLASS_NAMES[:-1])
        starts = [int(row[0]) for row in rows]
        assert starts == sorted(starts)
    orders = {tuple(dict.fromkeys(row[3] for row in _labels(twin, w))) for w in WORKOUTS}
    assert len(orders) > 1  # exercise order varies per workout


def test_standing_still_reads_gravity_with_the_forearm_pointing_down(twin: Path):
    for workout in WORKOUTS:
        acc = _load(twin, workout, "sw_l_acc")
        first_set = int(_labels(twin, workout)[0][0])
        # The recording opens with >= 3 s of standing with the arms hanging (then a 1-2 s fade).
        still = acc[acc[:, 0] < acc[0, 0] + 1.5 * POSE_FPS]
        assert still[-1, 0] < first_set
        assert np.median(np.linalg.norm(still[:, 2:], axis=1)) == pytest.approx(9.81, abs=0.3)
        assert np.median(still[:, 2]) < -9.0  # x runs down the forearm to the hand


def test_quirks_exist(twin: Path):
    quirks = quirk_workouts(3)
    missing = quirks["no_right_watch"]
    assert not (twin / missing / file_name(missing, "sw_r_acc")).exists()
    assert not (twin / missing / file_name(missing, "sw_r_gyr")).exists()
    gap = quirks["imu_gap"]
    for workout in WORKOUTS:
        largest_step_ms = np.diff(_load(twin, workout, "sw_l_acc")[:, 1]).max()
        if workout == gap:
            assert 500 <= largest_step_ms <= 1100
        else:
            assert largest_step_ms < 20


@pytest.mark.parametrize("minutes", [0.5, 1.0, 4.0, 30.0])
def test_plan_keeps_fades_out_of_the_reps(minutes: float):
    """Segments tile the recording; cross-fades never overlap each other or a labelled rep."""
    duration = minutes * 60
    segments = plan_workout(participant_style(0, 1), duration, np.random.default_rng(0))
    assert segments[0].start == 0 and segments[-1].end == pytest.approx(duration)
    assert sum(seg.activity != "non_activity" for seg in segments) == 30
    for before, after in pairwise(segments):
        assert before.end == pytest.approx(after.start) and before.blend_out == after.blend_in
    for seg in segments:
        assert 0.5 * (seg.blend_in + seg.blend_out) < seg.end - seg.start
        if seg.activity != "non_activity":
            assert seg.lead >= 0.5 * max(seg.blend_in, seg.blend_out)
            assert seg.reps_end <= seg.end - 0.5 * seg.blend_out + 1e-9


def test_deterministic_for_a_seed(tmp_path: Path, twin: Path):
    again = generate_mmfit_twin(tmp_path / "again", workouts=3, minutes=MINUTES, seed=0)
    other = generate_mmfit_twin(tmp_path / "other", workouts=1, minutes=MINUTES, seed=1)
    for stream in ("pose_3d", "pose_2d", "sw_l_acc", "sw_l_gyr"):
        a, b = _load(twin, "w00", stream), _load(again, "w00", stream)
        assert np.array_equal(a, b)
        assert (twin / "w00" / file_name("w00", stream)).read_bytes() == (
            again / "w00" / file_name("w00", stream)
        ).read_bytes()
        c = _load(other, "w00", stream)
        assert a.shape != c.shape or not np.allclose(a, c)
    assert _labels(twin, "w00") == _labels(again, "w00") != _labels(other, "w00")


def test_ensure_is_idempotent_and_regenerates_on_other_settings(tmp_path: Path):
    out = tmp_path / "twin"
    ensure_mmfit_twin(out, workouts=1, minutes=0.5, seed=3)
    manifest = json.loads((out / "twin.json").read_text())
    assert manifest["workouts"] == 1 and manifest["minutes"] == 0.5 and manifest["seed"] == 3
    acc_path = out / "w00" / file_name("w00", "sw_l_acc")
    os.utime(acc_path, ns=(1_000_000_000, 1_000_000_000))
    assert ensure_mmfit_twin(out, workouts=1, minutes=0.5, seed=3) == out
    assert acc_path.stat().st_mtime_ns == 1_000_000_000  # untouched
    ensure_mmfit_twin(out, workouts=2, minutes=0.5, seed=3)
    assert (out / "w01").is_dir() and json.loads((out / "twin.json").read_text())["workouts"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["twin"]  # no temporary siblings left behind


def test_a_tree_generated_before_the_twin_package_moved_still_loads(tmp_path: Path):
    """Manifests record their generator's module; trees from before ``har.data.twin`` say
    ``har.data.synthetic`` and must still be reused, not regenerated."""
    out = tmp_path / "twin"
    ensure_mmfit_twin(out, workouts=1, minutes=0.5, seed=3)
    manifest = json.loads((out / "twin.json").read_text())
    assert manifest["generator"] == "har.data.twin.mmfit"
    (out / "twin.json").write_text(json.dumps({**manifest, "generator": "har.data.synthetic"}))
    acc_path = out / "w00" / file_name("w00", "sw_l_acc")
    os.utime(acc_path, ns=(1_000_000_000, 1_000_000_000))
    assert ensure_mmfit_twin(out, workouts=1, minutes=0.5, seed=3) == out
    assert acc_path.stat().st_mtime_ns == 1_000_000_000  # reused as it is


def test_refuses_a_directory_that_is_not_a_twin(tmp_path: Path):
    real = tmp_path / "mm-fit"
    (real / "w00").mkdir(parents=True)
    (real / "w00" / "w00_labels.csv").write_text("1,2,3,squats\n")
    for make in (ensure_mmfit_twin, generate_mmfit_twin):
        with pytest.raises(DataError, match="mm-fit"):
            make(real, workouts=1, minutes=0.5)
    assert (real / "w00" / "w00_labels.csv").read_text() == "1,2,3,squats\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (ensure_mmfit_twin(empty, workouts=1, minutes=0.5) / "twin.json").is_file()


def test_cli_prints_a_summary(tmp_path: Path, capsys):
    assert main([str(tmp_path / "cli"), "--workouts", "1", "--minutes", "0.5", "--seed", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert str(tmp_path / "cli") in line and "1 workouts" in line and "rows" in line
    # A real data set in the way: one line on stderr, exit code 2, nothing touched.
    real = tmp_path / "real"
    real.mkdir()
    (real / "notes.txt").write_text("mine")
    assert main([str(real), "--workouts", "1", "--minutes", "0.5"]) == 2
    assert "not a synthetic twin" in capsys.readouterr().err

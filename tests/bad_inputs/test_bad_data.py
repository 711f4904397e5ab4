"""Part 1 of issue 5: every kind of broken MM-Fit file, written here, and what the user sees.

An error must give exit code 2 and one line naming the file and the problem and saying what to do
(``user_error_of``: what the entrypoint makes of what the DataModule raised; test_entrypoint.py
runs the entrypoint itself on representative cases). Problems the pipeline repairs (gaps, a few
bad timestamps, a missing sensor file, a half-written cache entry) are checked on the DataModule,
where the repair and its report can be read.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from har.data.sources.mmfit.source import MMFitDataModule
from tests.bad_inputs.entrypoint import (
    assert_user_error,
    run_in_process,
    tiny_overrides,
    user_error_of,
)
from tests.data.mmfit_writer import tiny_datamodule_kwargs, write_labels, write_tiny_dataset


@pytest.fixture
def raw(tmp_path):
    return write_tiny_dataset(tmp_path / "raw")


@pytest.fixture
def trial(tmp_path):
    """Run the entrypoint on the tiny tree with extra overrides."""

    def run(*extra: str):
        args = tiny_overrides(tmp_path / "raw", tmp_path / "cache")
        return run_in_process([*args, *extra], tmp_path / "run")

    return run


def datamodule(tmp_path, root=None, **overrides) -> MMFitDataModule:
    kwargs = tiny_datamodule_kwargs(root or tmp_path / "raw", tmp_path / "cache", **overrides)
    module = MMFitDataModule(**kwargs)
    module.setup()
    return module


def broken(tmp_path, root=None, **overrides):
    """The user error that setting up the tiny DataModule gives."""
    return user_error_of(lambda: datamodule(tmp_path, root, **overrides))


def test_missing_data_root_is_named_with_the_key_to_set(tmp_path):
    line = assert_user_error(
        broken(tmp_path, tmp_path / "nowhere"), "does not exist", "env.data_dir"
    )
    assert str(tmp_path / "nowhere") in line


def test_missing_workout_folder(raw, tmp_path):
    shutil.rmtree(raw["w14"].folder)
    line = assert_user_error(broken(tmp_path), "does not exist", "remove w14 from the data split")
    assert str(raw["w14"].folder) in line


def test_workout_without_the_sensor_file_is_skipped_with_a_warning(raw, tmp_path, caplog):
    raw["w02"].imu_path.unlink()
    with caplog.at_level(logging.WARNING):
        module = datamodule(tmp_path)
    warnings = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(warnings) == 1 and "w02 (train)" in warnings[0] and "sw_l_acc" in warnings[0]
    assert [s.workout for s in module.sessions["train"]] == ["w01"]


def test_split_left_empty_by_a_missing_sensor_file_is_an_error(raw, tmp_path):
    raw["w14"].imu_path.unlink()  # w14 is the only validation workout
    assert_user_error(broken(tmp_path), "split 'val'", "w14", "data.val_workouts", "data.sensor")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_unreadable_npy(raw, tmp_path, damage):
    path = raw["w01"].imu_path
    content = path.read_bytes()
    path.write_bytes(
        {"truncated": content[: len(content) // 2], "garbage": b"\x00junk" * 50, "empty": b""}[
            damage
        ]
    )
    line = assert_user_error(
        broken(tmp_path), "is not a readable .npy", "re-download or regenerate"
    )
    assert str(path) in line


@pytest.mark.parametrize(
    ("stream", "shape", "expected"),
    [("imu", (100, 3), "expected (N, 5)"), ("pose", (3, 100, 10), "expected (3, N, 18)")],
)
def test_array_of_the_wrong_shape(raw, tmp_path, stream, shape, expected):
    path = getattr(raw["w09"], f"{stream}_path")
    np.save(path, np.zeros(shape))
    line = assert_user_error(broken(tmp_path), f"has shape {shape}", expected)
    assert str(path) in line


def test_nan_and_inf_rows_short_gaps_interpolated_long_gaps_cut_and_counted(raw, tmp_path, caplog):
    imu = raw["w01"].imu.copy()
    imu[100:103, 2:] = np.nan  # ~30 ms: bridged by interpolation
    imu[400:500, 3] = np.inf  # ~1 s: longer than MAX_GAP_S, cut out of the windows
    np.save(raw["w01"].imu_path, imu)
    with caplog.at_level(logging.WARNING, logger="har.data"):
        module = datamodule(tmp_path)
    session = module.sessions["train"][0]
    assert session.report["imu_rows_nonfinite"] == 103
    invalid = np.flatnonzero(~session.valid)
    seconds_lost = len(invalid) / session.rate_hz
    assert 0.9 < seconds_lost < 1.3  # only the long gap, not the short one
    assert np.all(np.diff(invalid) == 1)  # one contiguous hole
    gap_ms = raw["w01"].imu[[400, 499], 1] - session.t0_ms
    hole_ms = invalid[[0, -1]] * 1000.0 / session.rate_hz
    assert abs(hole_ms[0] - gap_ms[0]) < 20 and abs(hole_ms[1] - gap_ms[1]) < 20
    index = module.windows["train"]
    own = index.start[index.session == 0]
    assert not np.any((own <= invalid[-1]) & (own + index.window_length > invalid[0]))
    assert np.isfinite(session.acc[session.valid]).all()
    reports = [r.getMessage() for r in caplog.records if r.getMessage().startswith("w01:")]
    assert reports and "'imu_rows_nonfinite': 103" in reports[0]


@pytest.mark.slow  # a whole (tiny) training run through the entrypoint: ~7 s
def test_repaired_rows_are_counted_in_results_json(raw, trial, tmp_path):
    imu = raw["w01"].imu.copy()
    imu[400:500, 2] = np.nan
    np.save(raw["w01"].imu_path, imu)
    outcome = trial()
    assert outcome.exit_code == 0, outcome.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "completed"
    report = results["data"]["sessions"]["train/w01"]
    assert report["imu_rows_nonfinite"] == 100 and report["samples_invalid_imu_gap"] > 40


def test_stream_without_finite_values_is_an_error(raw, tmp_path):
    imu = raw["w09"].imu.copy()
    imu[:, 2:] = np.nan
    np.save(raw["w09"].imu_path, imu)
    line = assert_user_error(broken(tmp_path), "fewer than two finite rows", "replace the file")
    assert str(raw["w09"].imu_path) in line


def test_a_few_backward_or_repeated_timestamps_are_sorted_dropped_and_counted(raw, tmp_path):
    imu = raw["w01"].imu.copy()
    imu[[200, 201]] = imu[[201, 200]]  # one step backwards
    imu[300, 1] = imu[299, 1]  # same time, different content
    imu = np.insert(imu, 350, imu[350], axis=0)  # an exact duplicate row
    np.save(raw["w01"].imu_path, imu)
    report = datamodule(tmp_path).sessions["train"][0].report
    assert report["imu_rows_out_of_order"] == 1
    assert report["imu_rows_duplicate"] == 1
    assert report["imu_rows_conflicting_timestamp"] == 1


def test_scrambled_timestamps_are_an_error(raw, tmp_path):
    imu = raw["w01"].imu.copy()
    np.random.default_rng(0).shuffle(imu)
    np.save(raw["w01"].imu_path, imu)
    line = assert_user_error(broken(tmp_path), "timestamps go backwards", "replace it")
    assert str(raw["w01"].imu_path) in line


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ((1250, 1330, 8, "burpees"), "unknown activity 'burpees'"),
        ((1250, 1330, 8), "has 3 fields"),
        ((1250, "12x0", 8, "squats"), "must be integers"),
        ((1250, "inf", 8, "squats"), "must be integers"),
        ((1330, 1250, 8, "squats"), "end_frame 1250 is before start_frame 1330"),
        ((1250, 99999, 8, "squats"), "outside the recording's frames"),
    ],
    ids=[
        "unknown-activity",
        "malformed",
        "not-a-number",
        "infinite",
        "end-before-start",
        "outside",
    ],
)
def test_bad_label_row(raw, tmp_path, row, expected):
    write_labels(raw["w14"].labels_path, [(1360, 1420, 6, "bicep_curls"), row])
    line = assert_user_error(broken(tmp_path), expected, "row 2")
    assert str(raw["w14"].labels_path) in line


def test_labels_file_that_is_not_text(raw, tmp_path):
    raw["w14"].labels_path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    line = assert_user_error(broken(tmp_path), "not a text CSV", "replace it")
    assert str(raw["w14"].labels_path) in line


def test_same_workout_in_two_splits_is_an_error(raw, tmp_path):
    assert_user_error(
        broken(tmp_path, test_workouts=["w09", "w02"]),
        "w02",
        "both train and test",
        "data.train_workouts",
    )


def test_splits_sharing_a_participant_warn(raw, tmp_path, caplog):
    # w02 (train) and w09 (test) are both participant 1 in MM-Fit.
    with caplog.at_level(logging.WARNING):
        datamodule(tmp_path)
    assert any("train and test share participants [1]" in r.getMessage() for r in caplog.records)


def test_window_longer_than_every_session(raw, tmp_path):
    line = assert_user_error(
        broken(tmp_path, sensor_window_length=1000),
        "data.sensor_window_length=1000",
        "longer than every session",
        "lower data.sensor_window_length",
    )
    assert "'train'" in line


@pytest.mark.parametrize("killed_while", ["writing-arrays", "writing-manifest"])
def test_cache_entry_left_half_written_is_detected_and_rebuilt(raw, tmp_path, caplog, killed_while):
    first = datamodule(tmp_path)
    entry = next((tmp_path / "cache" / "mmfit").glob("w01-*"))
    acc = entry / "acc.npy"
    if killed_while == "writing-arrays":  # the manifest is retracted first, then arrays replaced
        (entry / "manifest.json").unlink()
        (entry / ".acc.npy.a1b2.tmp").write_bytes(acc.read_bytes()[:100])
    else:  # arrays on disk disagree with the manifest
        acc.write_bytes(acc.read_bytes()[:-64])
    with caplog.at_level(logging.WARNING, logger="har.data.cache"):
        second = datamodule(tmp_path)
    rebuilt = [r.getMessage() for r in caplog.records if "rebuilding" in r.getMessage()]
    assert len(rebuilt) == 1 and str(entry) in rebuilt[0]
    np.testing.assert_array_equal(second.sessions["train"][0].acc, first.sessions["train"][0].acc)
    assert (entry / "manifest.json").is_file()
    caplog.clear()
    datamodule(tmp_path)  # and the rebuilt entry is whole again
    assert not any("rebuilding" in r.getMessage() for r in caplog.records)

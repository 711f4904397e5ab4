from __future__ import annotations

import numpy as np
import pytest
from mmfit_writer import STANDING_MM, write_labels, write_workout

from har.data.sources.mmfit.format import CLASS_NAMES
from har.data.sources.mmfit.reader import read_workout
from har.errors import DataError


def test_reads_published_layout(tmp_path):
    written = write_workout(
        tmp_path, "w03", segments=[(1240, 1300, 10, "lunges"), (1310, 1400, 8, 7)]
    )
    rec = read_workout(tmp_path, "w03")
    assert rec.workout == "w03" and rec.participant == 0
    assert rec.pose_frames.dtype == np.int64 and rec.pose_frames[0] == 1234
    assert rec.pose_mm.shape == (len(rec.pose_frames), 17, 3) and rec.pose_mm.dtype == np.float64
    np.testing.assert_array_equal(rec.pose_mm[0], STANDING_MM)
    assert rec.imu.shape == (len(written.imu), 3) and rec.imu_time_ms.shape == rec.imu_frames.shape
    assert [tuple(s) for s in rec.segments] == [
        (1240, 1300, 10, CLASS_NAMES.index("lunges")),
        (1310, 1400, 8, 7),  # activity given as an integer class id
    ]
    assert rec.files == (written.pose_path, written.imu_path, written.labels_path)


def test_pose_frames_are_matched_by_value_not_row(tmp_path):
    written = write_workout(tmp_path, "w01")
    shuffled = written.pose[:, ::-1].copy()
    shuffled[:, 0, 1:] = 7.0  # the row holding frame 1234 + F - 1 now has distinctive joints
    np.save(written.pose_path, shuffled)
    rec = read_workout(tmp_path, "w01")
    assert rec.pose_frames[0] == written.pose[0, -1, 0]
    assert np.all(rec.pose_mm[0] == 7.0)


def test_rows_without_a_frame_number_or_timestamp_are_dropped_and_counted(tmp_path):
    written = write_workout(tmp_path, "w01")
    written.imu[5] = np.nan
    written.imu[9, 1] = np.inf
    np.save(written.imu_path, written.imu)
    rec = read_workout(tmp_path, "w01")
    assert len(rec.imu) == len(written.imu) - 2
    assert rec.dropped["imu_rows_without_frame_or_time"] == 2


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda root: None, "data=mmfit_synth"),
        (lambda root: (root / "w01").mkdir(parents=True), "w02 does not exist"),
        (lambda root: write_workout(root, "w02", sensor="sw_r_acc"), "w02_sw_l_acc.npy is missing"),
    ],
)
def test_missing_files_name_the_path_and_the_fix(tmp_path, damage, expected):
    root = tmp_path / "mm-fit"
    damage(root)
    with pytest.raises(DataError, match=expected):
        read_workout(root, "w02")


def test_wrong_shapes_name_file_got_and_expected(tmp_path):
    written = write_workout(tmp_path, "w01")
    np.save(written.pose_path, written.pose[:, :, :10])
    with pytest.raises(
        DataError, match=r"w01_pose_3d.npy has shape \(3, \d+, 10\), expected \(3, N, 18\)"
    ):
        read_workout(tmp_path, "w01")
    written = write_workout(tmp_path, "w01")
    np.save(written.imu_path, written.imu[:, :3])
    with pytest.raises(
        DataError, match=r"w01_sw_l_acc.npy has shape \(\d+, 3\), expected \(N, 5\)"
    ):
        read_workout(tmp_path, "w01")


def test_truncated_npy_is_a_data_error(tmp_path):
    written = write_workout(tmp_path, "w01")
    content = written.imu_path.read_bytes()
    written.imu_path.write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match=r"w01_sw_l_acc.npy is not a readable .npy"):
        read_workout(tmp_path, "w01")
    written.imu_path.write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable"):
        read_workout(tmp_path, "w01")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [(1240, 1300, 5, "squats"), (1300, 1310, 5, "cartwheels")],
            r"row 2: unknown activity 'cartwheels'",
        ),
        ([(1240, 1300, "squats")], r"row 1 has 3 fields"),
        ([(1240, "x", 5, "squats")], r"row 1: start_frame, end_frame and reps must be integers"),
        ([(1300, 1240, 5, "squats")], r"row 1: end_frame 1240 is before start_frame 1300"),
        ([(1240, 99999, 5, "squats")], r"row 1: frames 1240..99999 lie outside"),
        ([(1240, 1300, 5, 11)], r"row 1: unknown activity '11'"),
    ],
)
def test_bad_label_rows_name_file_and_row(tmp_path, rows, expected):
    written = write_workout(tmp_path, "w01")
    write_labels(written.labels_path, rows)
    with pytest.raises(DataError, match=r"w01_labels.csv " + expected):
        read_workout(tmp_path, "w01")


def test_blank_label_lines_and_spaces_are_tolerated(tmp_path):
    written = write_workout(tmp_path, "w01")
    written.labels_path.write_text("\n1240, 1300, 5, Squats\n\n")
    assert read_workout(tmp_path, "w01").segments[0].class_index == 0

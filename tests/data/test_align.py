from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mmfit_writer import STANDING_MM, write_workout

from har.data.sources.mmfit.align import align
from har.data.sources.mmfit.format import NON_ACTIVITY
from har.data.sources.mmfit.reader import Recording, read_workout
from har.errors import DataError

RATE = 100.0
F_ACC, F_POSE = 0.7, 0.5  # Hz
AMPLITUDE_MM = 200.0


def analytic_acc(t: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [np.sin(2 * np.pi * F_ACC * t), np.cos(2 * np.pi * F_ACC * t), 9.81 + 0 * t]
    )


def analytic_pose(t: np.ndarray) -> np.ndarray:
    pose = np.broadcast_to(STANDING_MM, (len(t), 17, 3)).copy()
    pose[:, :, 1] += AMPLITUDE_MM * np.sin(2 * np.pi * F_POSE * t)[:, None]  # the whole body bobs
    return pose


def true_time(session, written) -> np.ndarray:
    """True seconds of each aligned sample, from the IMU clock the session is expressed in."""
    return (
        session.t0_ms + np.arange(len(session)) * 1000.0 / RATE - written.clock_offset_ms
    ) / 1000.0


def test_acceptance_pose_and_imu_agree_with_the_analytic_signal_within_one_sample(tmp_path):
    # Own clocks: pose at 30 fps from absolute frame 1234; IMU jittered ~103 Hz (about 3.4 rows per
    # frame value) with an epoch-like clock offset; the IMU also runs before and after the video.
    written = write_workout(
        tmp_path, "w01", seconds=12.0, first_frame=1234, imu_hz=103.0, jitter_ms=2.0,
        clock_offset_ms=1.6e12 + 123.4, imu_lead_s=1.0, pose_fn=analytic_pose, acc_fn=analytic_acc,
    )  # fmt: skip
    session = align(read_workout(tmp_path, "w01"), RATE)
    t = true_time(session, written)
    # The uniform clock spans the overlap: the pose (0..12 s), not the longer IMU.
    assert t[0] == pytest.approx(0.0, abs=1 / RATE) and t[-1] == pytest.approx(12.0, abs=1 / RATE)
    assert (
        session.valid.all() and session.pose.dtype == np.float32 and session.acc.dtype == np.float32
    )

    # "Within one sample": the error is below what a one-sample (10 ms) time shift would cause.
    one_sample = 1.0 / RATE
    acc_bound = 2 * np.pi * F_ACC * one_sample  # max |d/dt sin| x dt
    acc_error = np.abs(session.acc - analytic_acc(t))
    assert acc_error.max() < acc_bound
    pose_expected_m = analytic_pose(t) / 1000.0
    pose_bound_m = AMPLITUDE_MM / 1000.0 * 2 * np.pi * F_POSE * one_sample
    assert np.abs(session.pose - pose_expected_m).max() < pose_bound_m
    # ...and no lag has crept in: the pose error is uncorrelated with the signal's velocity.
    velocity = np.gradient(pose_expected_m[:, 0, 1], t)
    error = session.pose[:, 0, 1] - pose_expected_m[:, 0, 1]
    lag_s = -np.dot(error, velocity) / np.dot(velocity, velocity)
    assert abs(lag_s) < 0.2 * one_sample


def test_frame_over_100_or_sample_and_hold_would_fail_the_acceptance_check(tmp_path):
    # Guard the guard: the tolerance above really rejects the classic wrong alignments.
    written = write_workout(tmp_path, "w01", seconds=6.0, pose_fn=analytic_pose)
    session = align(read_workout(tmp_path, "w01"), RATE)
    t = true_time(session, written)
    bound = AMPLITUDE_MM / 1000.0 * 2 * np.pi * F_POSE / RATE
    frame_over_100 = analytic_pose(t * 30.0 / 100.0)[:, 0, 1] / 1000.0
    held = analytic_pose(np.floor(t * 30.0) / 30.0)[:, 0, 1] / 1000.0
    truth = analytic_pose(t)[:, 0, 1] / 1000.0
    assert np.abs(frame_over_100 - truth).max() > bound
    assert np.abs(held - truth).max() > bound
    assert np.abs(session.pose[:, 0, 1] - truth).max() < bound


def test_labels_cover_the_set_time_span(tmp_path):
    written = write_workout(
        tmp_path,
        "w01",
        seconds=10.0,
        segments=[(1300, 1450, 10, "squats"), (1500, 1510, 2, "situps")],
    )
    session = align(read_workout(tmp_path, "w01"), RATE)
    clock = session.t0_ms + np.arange(len(session)) * 1000.0 / RATE
    inside = (clock >= written.frame_ms(1300)) & (clock <= written.frame_ms(1450))
    # The estimated frame clock may shift the edges by under a sample; judge away from them.
    margin = 1000.0 / RATE
    core = (clock >= written.frame_ms(1300) + margin) & (clock <= written.frame_ms(1450) - margin)
    assert np.all(session.labels[core] == 0)
    assert abs(int((session.labels == 0).sum()) - int(inside.sum())) <= 1
    assert np.all(session.labels[clock < written.frame_ms(1300) - margin] == NON_ACTIVITY)
    assert np.all(session.labels[clock > written.frame_ms(1510) + margin] == NON_ACTIVITY)
    assert 32 <= int((session.labels == 3).sum()) <= 35  # 10 frames = 333 ms


def test_a_few_repeated_or_backward_timestamps_are_sorted_and_dropped(tmp_path):
    written = write_workout(tmp_path, "w01", acc_fn=analytic_acc)
    imu = written.imu
    imu = np.insert(imu, 50, imu[49], axis=0)  # exact duplicate row
    conflicting = imu[100].copy()
    conflicting[2:] += 5.0
    imu = np.insert(imu, 101, conflicting, axis=0)  # same timestamp, other values
    imu[[200, 201]] = imu[[201, 200]]  # one backward step
    np.save(written.imu_path, imu)
    session = align(read_workout(tmp_path, "w01"), RATE)
    report = session.report
    assert report["imu_rows_duplicate"] == 1
    assert report["imu_rows_conflicting_timestamp"] == 1
    assert report["imu_rows_out_of_order"] == 1
    t = true_time(session, written)
    assert np.abs(session.acc - analytic_acc(t)).max() < 2 * np.pi * F_ACC / RATE


def test_many_backward_timestamps_are_a_data_error(tmp_path):
    written = write_workout(tmp_path, "w01")
    written.imu[::40] = written.imu[::40][::-1]
    np.save(written.imu_path, written.imu)
    with pytest.raises(DataError, match=r"w01_sw_l_acc.npy: \d+ timestamps go backwards"):
        align(read_workout(tmp_path, "w01"), RATE)


def test_nan_rows_short_holes_interpolated_long_holes_invalid(tmp_path):
    written = write_workout(tmp_path, "w01", seconds=8.0, acc_fn=analytic_acc)
    t_imu = (written.imu[:, 1] - written.clock_offset_ms) / 1000.0
    written.imu[(t_imu > 2.0) & (t_imu < 2.05), 2:] = np.nan  # 50 ms: interpolated
    written.imu[(t_imu > 4.0) & (t_imu < 4.6), 2] = np.inf  # 600 ms: too long to bridge
    np.save(written.imu_path, written.imu)
    session = align(read_workout(tmp_path, "w01"), RATE)
    t = true_time(session, written)
    assert session.report["imu_rows_nonfinite"] == int(
        ((t_imu > 2.0) & (t_imu < 2.05)).sum() + ((t_imu > 4.0) & (t_imu < 4.6)).sum()
    )
    assert session.valid[(t > 1.9) & (t < 2.2)].all()
    hole = (t > 4.02) & (t < 4.58)
    assert not session.valid[hole].any()
    assert session.valid[(t < 3.9) | (t > 4.7)].all()
    assert session.report["samples_invalid_imu_gap"] == int((~session.valid).sum())
    good = session.valid
    assert np.abs(session.acc[good] - analytic_acc(t[good])).max() < 2 * np.pi * F_ACC / RATE


def test_missing_or_nonfinite_pose_frames_make_long_holes_invalid(tmp_path):
    written = write_workout(tmp_path, "w01", seconds=8.0)
    pose = written.pose
    pose[:, 60:75, 1:] = np.nan  # 0.5 s of failed pose estimates
    pose = np.delete(pose, np.s_[150:165], axis=1)  # 0.5 s of frames missing from the file
    np.save(written.pose_path, pose)
    session = align(read_workout(tmp_path, "w01"), RATE)
    t = true_time(session, written)
    assert session.report["pose_frames_nonfinite"] == 15
    assert not session.valid[(t > 2.05) & (t < 2.45)].any()
    assert not session.valid[(t > 5.05) & (t < 5.45)].any()
    assert session.report["samples_invalid_pose_gap"] == int((~session.valid).sum())
    assert session.valid[(t < 1.9) | ((t > 2.6) & (t < 4.9)) | (t > 5.6)].all()


def test_streams_that_do_not_overlap_are_a_data_error(tmp_path):
    written = write_workout(tmp_path, "w01", seconds=4.0)
    written.imu[:, 0] += 10_000  # the IMU rows carry frames long after the video
    written.imu[:, 1] += 10_000 / 30 * 1000
    np.save(written.imu_path, written.imu)
    np.save(written.pose_path, written.pose)
    with pytest.raises(DataError, match="do not overlap in time"):
        align(read_workout(tmp_path, "w01"), RATE)


def test_paused_video_falls_back_to_interpolating_the_frame_clock():
    # The camera pauses for 1 s after frame 149 and keeps numbering: frame times are not one line.
    frames = np.arange(300)
    frame_t = frames / 30.0 + np.where(frames >= 150, 1.0, 0.0)
    t = np.arange(0.0, frame_t[-1], 1 / 103.0)
    nearest = np.abs(t[:, None] - frame_t[None, :]).argmin(axis=1)
    rec = Recording(
        workout="w01", participant=0, pose_frames=frames.astype(np.int64), pose_mm=analytic_pose(frame_t),
        imu_frames=frames[nearest].astype(np.int64), imu_time_ms=t * 1000.0, imu=analytic_acc(t),
        segments=[], files=(Path("pose"), Path("imu"), Path("labels")),
    )  # fmt: skip
    session = align(rec, RATE)
    assert session.report["frame_clock"] == "interp"
    clock = session.t0_ms / 1000.0 + np.arange(len(session)) / RATE
    assert not session.valid[(clock > 5.3) & (clock < 5.7)].any()  # no pose for a second
    away = (clock < 4.6) | (clock > 6.4)
    bound = AMPLITUDE_MM / 1000.0 * 2 * np.pi * F_POSE / RATE
    assert np.abs(session.pose[away] - analytic_pose(clock[away]) / 1000.0).max() < bound


def analytic_gyr(t: np.ndarray) -> np.ndarray:
    return np.column_stack([np.cos(2 * np.pi * F_POSE * t), 0 * t, 0.5 + 0 * t])


def test_further_streams_are_put_on_the_same_clock_from_their_own_timestamps(tmp_path):
    """data.sensors=[sw_l_acc, sw_l_gyr]: the gyro's rows (own rate, jitter, shorter span) land on
    the acc's clock; the common span is the one every stream covers."""
    written = write_workout(
        tmp_path, "w01", seconds=12.0, imu_hz=103.0, imu_lead_s=1.0, pose_fn=analytic_pose,
        acc_fn=analytic_acc, seed=0,
    )  # fmt: skip
    gyro = write_workout(
        tmp_path / "gyro", "w01", seconds=10.0, imu_hz=97.0, pose_fn=analytic_pose,
        acc_fn=analytic_gyr, sensor="sw_l_gyr", seed=1,
    )  # fmt: skip
    gyro.imu_path.rename(tmp_path / "w01" / gyro.imu_path.name)
    session = align(read_workout(tmp_path, "w01", ["sw_l_acc", "sw_l_gyr"]), RATE)
    t = true_time(session, written)
    assert session.acc.shape == (len(session), 6) and session.valid.all()
    assert t[-1] == pytest.approx(10.0, abs=2 / RATE)  # the gyro stops at 10 s
    bound = 2 * np.pi * F_ACC * (1.0 / RATE)
    assert np.abs(session.acc[:, :3] - analytic_acc(t)).max() < bound
    assert np.abs(session.acc[:, 3:] - analytic_gyr(t)).max() < bound
    with pytest.raises(DataError, match=r"w01_sw_r_gyr\.npy is missing"):
        read_workout(tmp_path, "w01", ["sw_l_acc", "sw_r_gyr"])


def test_a_corrupt_timestamp_far_from_the_others_is_a_one_line_error(tmp_path):
    """One flipped byte in the time column (found by the fuzz suite) must not ask for a clock of
    billions of samples: the file is named instead."""
    import numpy as np
    import pytest

    from har.data.sources.mmfit.align import _check_span
    from har.errors import DataError

    t = np.arange(1000) * 10.0  # 10 s of 100 Hz rows
    _check_span(t, "w00_sw_l_acc.npy")  # a healthy file passes
    t[-1] = 4e14
    with pytest.raises(
        DataError, match=r"w00_sw_l_acc\.npy: timestamps span .* a timestamp is corrupt"
    ):
        _check_span(t, "w00_sw_l_acc.npy")

from __future__ import annotations

import numpy as np
import pytest

from har.data.session import Session
from har.data.sources.mmfit.format import NON_ACTIVITY
from har.data.windows import build_index, stride_samples
from har.errors import DataError


def make_session(
    length: int, sets: dict[int, tuple[int, int]] | None = None, invalid: slice | None = None
) -> Session:
    labels = np.full(length, NON_ACTIVITY, dtype=np.int64)
    for cls, (start, end) in (sets or {}).items():
        labels[start : end + 1] = cls
    valid = np.ones(length, dtype=bool)
    if invalid is not None:
        valid[invalid] = False
    return Session(
        workout="w01", participant=0, pose=np.zeros((length, 17, 3), np.float32),
        acc=np.zeros((length, 3), np.float32), labels=labels, valid=valid, t0_ms=0.0, rate_hz=100.0,
    )  # fmt: skip


def test_window_takes_the_label_of_its_centre_sample():
    # A set covering samples 40..59; windows of 20 with stride 1: the centre is start + 10.
    index = build_index([make_session(100, {2: (40, 59)})], window_length=20, stride_samples=1)
    centre = index.start + 10
    expected = np.where((centre >= 40) & (centre <= 59), 2, NON_ACTIVITY)
    np.testing.assert_array_equal(index.label, expected)
    # Boundary cases by name: centre just inside vs. just outside the set.
    assert index.label[list(index.start).index(30)] == 2  # centre 40: first sample of the set
    assert index.label[list(index.start).index(29)] == NON_ACTIVITY  # centre 39
    assert index.label[list(index.start).index(49)] == 2  # centre 59: last sample of the set
    assert index.label[list(index.start).index(50)] == NON_ACTIVITY  # centre 60


def test_stride_offsets_and_session_seams():
    sessions = [make_session(100), make_session(55)]
    index = build_index(sessions, window_length=20, stride_samples=10)
    np.testing.assert_array_equal(index.session_offsets, [0, 100, 155])
    np.testing.assert_array_equal(index.start[index.session == 0], np.arange(0, 81, 10))
    np.testing.assert_array_equal(index.start[index.session == 1], 100 + np.arange(0, 36, 10))
    assert index.start.dtype == np.int64 and index.label.dtype == np.int64
    # No window crosses a seam between sessions.
    ends = index.start + 20
    assert np.all(ends <= index.session_offsets[index.session + 1])


def test_a_session_without_any_window_is_an_error_naming_it():
    short = make_session(10)
    short.workout = "w07"
    with pytest.raises(
        DataError, match=r"session w07 of split 'train' has no window: .*\(10 of 10"
    ):
        build_index([make_session(100), short], window_length=20, stride_samples=10, split="train")


def test_windows_touching_invalid_samples_are_excluded():
    index = build_index(
        [make_session(100, invalid=slice(50, 53))], window_length=20, stride_samples=1
    )
    starts = set(index.start.tolist())
    assert not any(start <= 52 and start + 20 > 50 for start in starts)
    assert {30, 53} <= starts  # the windows ending just before and starting just after the hole


def test_no_window_in_a_split_is_a_data_error_naming_the_key():
    with pytest.raises(
        DataError, match=r"data.sensor_window_length=256 .* longer than every session"
    ):
        build_index(
            [make_session(100), make_session(200)],
            window_length=256,
            stride_samples=20,
            split="val",
        )


def test_stride_in_samples():
    assert stride_samples(0.2, 100) == 20
    assert stride_samples(0.2, 50) == 10
    assert stride_samples(0.001, 50) == 1

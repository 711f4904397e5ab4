"""The watch file's one validator: every way the published dict can be wrong is one line naming
the file, the key, what was found and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from har.data.sources.seglearn_file import read_watch_file
from har.errors import DataError
from tests.data.watch_writer import save_watch_file, watch_content


def _set(key, value):
    return lambda content: content.__setitem__(key, value)


def _recording(i, value):
    return lambda content: content["X"].__setitem__(i, value)


def _drop(key):
    return lambda content: content.pop(key)


BREAKAGES = {
    "key missing": (_drop("y"), r"y missing \(found: X, y_labels, subject, side, X_labels\)"),
    "X not a list": (_set("X", 3.5), r"X is a float, expected a list of \(n, 6\) arrays"),
    "X empty": (_set("X", []), r"X is empty, expected at least one recording"),
    "recording shape": (_recording(2, np.zeros((50, 5))), r"X\[2\] has shape \(50, 5\), expected \(n, 6\)"),
    "recording dtype": (_recording(0, np.full((9, 6), "a")), r"X\[0\] is an array <U1 \(9, 6\), expected real numbers"),
    "recording of one row": (_recording(1, np.zeros((1, 6))), r"X\[1\] has shape \(1, 6\), expected \(n, 6\) with n >= 2"),
    "recording all NaN": (_recording(4, np.full((30, 6), np.nan)), r"X\[4\] has no sample with 6 finite values"),
    "y as floats": (_set("y", np.zeros(12)), r"y is an array float64 \(12,\), expected integers of shape \(n,\)"),
    "y too short": (_set("y", np.zeros(11, int)), r"y has 11 entries, X has 12 recordings"),
    "label out of range": (_set("y", np.full(12, 5)), r"y lies in 5..5, expected 0..1"),
    "negative subject": (_set("subject", -np.ones(12, int)), r"subject holds -1, expected participant ids >= 0"),
    "side not an arm": (_set("side", np.full(12, 0.5)), r"side holds \[0.5\], expected 1 \(right\) or 0 \(left\)"),
    "side 2-D": (_set("side", np.ones((12, 1))), r"side is an array float64 \(12, 1\), expected real numbers"),
    "class names repeated": (_set("y_labels", ["PEN", "PEN"]), r"y_labels repeats a name"),
    "class names a scalar": (_set("y_labels", np.array(0)), r"y_labels is an array int64 \(\), expected a list of names"),
    "class names empty": (_set("y_labels", []), r"y_labels is \[\], expected a non-empty list"),
    "columns reordered": (_set("X_labels", ["wx", "wy", "wz", "ax", "ay", "az"]), r"X_labels is \['wx'.*expected \['ax'"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_each_violation_names_the_file_and_key(tmp_path, name):
    breakage, message = BREAKAGES[name]
    content = watch_content(samples=40)
    breakage(content)
    path = save_watch_file(tmp_path / "watch_dataset.npy", content)
    with pytest.raises(DataError, match=message) as caught:
        read_watch_file(path)
    line = str(caught.value)
    assert "\n" not in line and line.startswith(str(path)) and "reinstall seglearn" in line


def test_all_violations_in_one_line_and_a_valid_file_reads(tmp_path):
    content = watch_content(samples=40)
    names, recordings = read_watch_file(save_watch_file(tmp_path / "ok.npy", content))
    assert names == ("PEN", "ABD") and len(recordings) == 12
    assert {r.side for r in recordings} == {"left", "right"}
    content["X"][3][5:9] = np.nan  # a few non-finite samples are allowed: holes, counted later
    content.pop("side")
    content["y"] = content["y"][:-1]
    with pytest.raises(DataError, match=r"side missing .*; y has 11 entries, X has 12"):
        read_watch_file(save_watch_file(tmp_path / "bad.npy", content))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", r"is not a readable .npy file"),
        (b"\x93NUMPY\x01\x00v\x00{'descr'", r"is not a readable .npy file"),
        (None, r"holds an array float64 \(3,\), expected a pickled dict"),
    ],
)
def test_unreadable_or_not_a_dict(tmp_path, payload, message):
    path = tmp_path / "watch_dataset.npy"
    if payload is None:
        np.save(path, np.zeros(3))
    else:
        path.write_bytes(payload)
    with pytest.raises(DataError, match=message):
        read_watch_file(path)

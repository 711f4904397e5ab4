"""The watch data set's one file (seglearn's ``watch_dataset.npy``): opening and validating it.

``read_watch_file`` is the one validator of this format (``har.data.sources.watch`` documents the
file). The file is a pickled dict; a file that does not unpickle, or is not a dict, is a
``DataError`` naming it. Its content is then checked in full, once, and every violation (a key
missing, a wrong type, a recording that is not ``(n, 6)`` real numbers, lengths that disagree,
labels, participants or arms out of range) is reported in one line naming the file, the key, what
was found and what was expected. Non-finite samples are allowed (``session.mask_nonfinite`` makes
them holes and counts them); a recording without one finite sample is an error naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from har.errors import DataError

REQUIRED = ("X", "y", "subject", "side", "y_labels")
COLUMNS = ("ax", "ay", "az", "wx", "wy", "wz")  # X's columns, in this order (X_labels, optional)
MIN_SAMPLES = 2
FIX = "reinstall seglearn, or point data.data_dir at the published watch_dataset.npy"
# np.load of damaged bytes fails in many ways (header parser, zip, pickle, short reads, a folder
# in the file's place): each of them means "this file is unreadable", never a bug to show.
UNREADABLE = Exception


@dataclass(frozen=True)
class Recording:
    subject: int
    exercise: int
    side: str  # "right" or "left"
    samples: np.ndarray  # (n, 6) float64 as stored: g and rad/s, non-finite values kept


def read_watch_file(path: Path) -> tuple[tuple[str, ...], list[Recording]]:
    """The file's class names and recordings; one DataError listing every violation otherwise."""
    content = _unpickled(path)
    problems: list[str] = []
    missing = [key for key in REQUIRED if key not in content]
    if missing:
        found = ", ".join(map(str, content)) or "nothing"
        problems.append(f"{', '.join(missing)} missing (found: {found})")
    X = _recordings(content.get("X"), problems) if "X" in content else None
    class_names = _names(content, "y_labels", problems)
    _check_columns(content, problems)
    n = None if X is None else len(X)
    y = _integers(content, "y", n, problems)
    subject = _integers(content, "subject", n, problems)
    side = _numbers(content, "side", n, problems)
    if y is not None and class_names is not None and len(y):
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= len(class_names):
            problems.append(f"y lies in {low}..{high}, expected 0..{len(class_names) - 1}")
    if subject is not None and len(subject) and int(subject.min()) < 0:
        problems.append(f"subject holds {int(subject.min())}, expected participant ids >= 0")
    if side is not None and not np.isin(side, (0.0, 1.0)).all():
        shown = sorted({float(v) for v in side[~np.isin(side, (0.0, 1.0))]})[:3]
        problems.append(f"side holds {shown}, expected 1 (right) or 0 (left)")
    if problems:
        raise DataError(f"{path}: {'; '.join(problems)}: {FIX}")
    assert X is not None and y is not None and subject is not None and side is not None
    assert class_names is not None
    recordings = [
        Recording(int(s), int(label), "right" if arm == 1.0 else "left", x)
        for x, label, s, arm in zip(X, y, subject, side, strict=True)
    ]
    return class_names, recordings


def _unpickled(path: Path) -> dict[Any, Any]:
    try:
        loaded = np.load(path, allow_pickle=True)
        content = loaded.item() if isinstance(loaded, np.ndarray) and loaded.size == 1 else loaded
    except UNREADABLE as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path} is not a readable .npy file ({reason[:200]}): {FIX}") from None
    if not isinstance(content, dict):
        found = _kind(content)
        raise DataError(f"{path} holds {found}, expected a pickled dict of {', '.join(REQUIRED)}")
    return content


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array {value.dtype} {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _recordings(value: Any, problems: list[str]) -> list[np.ndarray] | None:
    """X: a non-empty sequence of (n_i, 6) real arrays, n_i >= 2, each with a finite sample."""
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (Sequence, np.ndarray)):
        problems.append(f"X is {_kind(value)}, expected a list of (n, 6) arrays")
        return None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        problems.append(f"X is {_kind(value)}, expected a list of (n, 6) arrays")
        return None
    if len(value) == 0:
        problems.append("X is empty, expected at least one recording")
        return None
    arrays, bad = [], []
    for i, x in enumerate(value):
        array = x if isinstance(x, np.ndarray) else None
        if array is None or array.dtype.kind not in "iuf":
            bad.append(f"X[{i}] is {_kind(x)}, expected real numbers")
        elif array.ndim != 2 or array.shape[1] != len(COLUMNS) or len(array) < MIN_SAMPLES:
            bad.append(f"X[{i}] has shape {tuple(array.shape)}, expected (n, 6) with n >= 2")
        elif not np.isfinite(array).all(axis=1).any():
            bad.append(f"X[{i}] has no sample with 6 finite values")
        else:
            arrays.append(array.astype(np.float64, copy=False))
    problems.extend(bad[:3] + ([f"and {len(bad) - 3} more recordings"] if len(bad) > 3 else []))
    return None if bad else arrays


def _vector(content: dict, key: str, n: int | None, kinds: str, problems: list[str]):
    """``content[key]`` as a 1-D array of ``kinds`` with ``n`` entries (None when it is not)."""
    if key not in content:
        return None
    value = content[key]
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # ragged nested lists
        array = None
    if array is None or array.dtype.kind not in kinds or array.ndim != 1:
        expected = "integers" if kinds == "iu" else "real numbers"
        found = _kind(array if array is not None else value)
        problems.append(f"{key} is {found}, expected {expected} of shape (n,)")
        return None
    if n is not None and len(array) != n:
        problems.append(f"{key} has {len(array)} entries, X has {n} recordings")
        return None
    return array


def _integers(content: dict, key: str, n: int | None, problems: list[str]):
    return _vector(content, key, n, "iu", problems)


def _numbers(content: dict, key: str, n: int | None, problems: list[str]):
    return _vector(content, key, n, "iuf", problems)


def _names(content: dict, key: str, problems: list[str]) -> tuple[str, ...] | None:
    value = content.get(key)
    if value is None:
        return None
    scalar = isinstance(value, np.ndarray) and value.ndim != 1
    if scalar or isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        problems.append(f"{key} is {_kind(value)}, expected a list of names")
        return None
    if len(value) == 0 or not all(isinstance(v, (str, np.str_)) and v for v in value):
        shown = [str(v)[:20] for v in list(value)[:8]]
        problems.append(f"{key} is {shown}, expected a non-empty list of non-empty names")
        return None
    names = tuple(str(v) for v in value)
    if len(set(names)) < len(names):
        problems.append(f"{key} repeats a name: {list(names)}")
        return None
    return names


def _check_columns(content: dict, problems: list[str]) -> None:
    """X_labels is optional; when present it must name X's columns in the order the reader uses."""
    value = content.get("X_labels")
    if value is None:
        return
    try:
        names = tuple(str(v) for v in value) if not isinstance(value, (str, bytes)) else None
    except TypeError:
        names = None
    if names != COLUMNS:
        shown = list(names)[:8] if names is not None else _kind(value)
        problems.append(f"X_labels is {shown}, expected {list(COLUMNS)}")

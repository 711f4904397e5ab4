"""The folder layout's one file per session (``<subject>/<session>.npz``): opening and validating it.

Every ``.npz`` the folder reader touches is opened by ``open_session_file`` (a truncated, empty or
non-zip file, or an array that needs pickling, is a ``DataError`` naming the file, never a zip or
pickle traceback) and checked once, when its arrays are read, by ``check_session_arrays``: the
one validator of this format. Each violation names the file, the array, what was found and what
was expected; all of a file's violations are reported in one line.

Streams: ``pose`` and ``imu`` are each optional (pose-only and IMU-only data), at least one must
be present, and one that is present is checked in full; the reader says which it needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from har.errors import DataError

LAYOUT = "layout: har.data.sources.folder"
REQUIRED = ("labels", "rate_hz", "class_names")
# np.load and reading a member fail on damaged bytes in many ways (zip, deflate, the header's
# tokenizer and literal parser, the pickle refusal): each of them means "this file is unreadable".
UNREADABLE = Exception


@contextlib.contextmanager
def open_session_file(path: Path) -> Iterator[np.lib.npyio.NpzFile]:
    """``np.load(path)`` as a context, with every way a damaged file fails as a one-line DataError."""
    try:
        content = np.load(path, allow_pickle=False)
    except UNREADABLE as error:
        raise unreadable(path, error) from None
    if not isinstance(content, np.lib.npyio.NpzFile):
        raise DataError(
            f"{path} holds a single array, not an .npz archive of named arrays ({LAYOUT})"
        )
    with content:
        yield content


def array_names(path: Path) -> list[str]:
    """The names of the arrays in the file (nothing is read)."""
    with open_session_file(path) as content:
        return list(content.files)


def read_session_arrays(path: Path, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The named arrays of the file (all when ``names`` is None), each read in full."""
    with open_session_file(path) as content:
        wanted = content.files if names is None else [n for n in names if n in content.files]
        try:
            return {name: content[name] for name in wanted}
        except UNREADABLE as error:  # a member cut short or corrupted inside the archive
            raise unreadable(path, error) from None


def layout_names(path: Path) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """``class_names`` and ``joint_names`` (None if absent): what every file must list alike."""
    arrays = read_session_arrays(path, ("class_names", "joint_names"))
    problems: list[str] = []
    if "class_names" not in arrays:
        problems.append("class_names missing")
    classes = _check_names(arrays, "class_names", problems)
    joints = _check_names(arrays, "joint_names", problems)
    if problems or classes is None:
        raise DataError(f"{path}: {'; '.join(problems)} ({LAYOUT})")
    return classes, joints


def unreadable(path: Path, error: BaseException) -> DataError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DataError(f"{path} is not a readable .npz file ({reason}): re-export it ({LAYOUT})")


def check_session_arrays(
    arrays: Mapping[str, np.ndarray],
    where: str | Path,
    needs: Iterable[str] = (),
    streams: Sequence[str] = ("imu",),
) -> None:
    """Raise one DataError listing every way ``arrays`` break the layout (``needs``: the arrays
    the reader cannot do without; ``streams``: the IMU arrays it reads, ``imu`` or named ones)."""
    problems: list[str] = []
    missing = [n for n in (*REQUIRED, *needs) if n not in arrays]
    if missing:
        problems.append(f"{', '.join(missing)} missing (found: {', '.join(arrays) or 'nothing'})")
    if "pose" not in arrays and not any(s in arrays for s in streams):
        problems.append(
            f"neither pose nor an IMU stream ({', '.join(streams)}) is present, expected at least one"
        )
    n = _check_labels(arrays, problems)
    _check_rate(arrays, problems)
    if "pose" in arrays:
        _check_signal(arrays["pose"], "pose", 3, n, problems, "(T, J, 3)")
    for stream in streams:
        if stream in arrays:
            _check_signal(arrays[stream], stream, 2, n, problems, "(T, C)")
    names = _check_names(arrays, "class_names", problems)
    joint_names = _check_names(arrays, "joint_names", problems)
    pose = arrays.get("pose")
    if (
        joint_names is not None
        and pose is not None
        and pose.ndim == 3
        and len(joint_names) != pose.shape[1]
    ):
        problems.append(f"joint_names lists {len(joint_names)} joints, pose has {pose.shape[1]}")
    labels = arrays.get("labels")
    if names is not None and n is not None and labels is not None and n:
        low, high = int(labels.min()), int(labels.max())
        if low < -1 or high >= len(names):
            problems.append(f"labels lie in {low}..{high}, expected -1..{len(names) - 1}")
    if "valid" in arrays:
        valid = arrays["valid"]
        if valid.dtype != bool or (n is not None and valid.shape != (n,)):
            problems.append(f"valid is {_describe(valid)}, expected bool ({n},)")
    if problems:
        raise DataError(f"{where}: {'; '.join(problems)} ({LAYOUT})")


def _describe(array: np.ndarray) -> str:
    return f"{array.dtype} {tuple(array.shape)}"


def _check_labels(arrays: Mapping[str, np.ndarray], problems: list[str]) -> int | None:
    """The session's length T from ``labels`` (None when labels are unusable)."""
    labels = arrays.get("labels")
    if labels is None:
        return None
    if labels.dtype.kind not in "iu" or labels.ndim != 1 or len(labels) < 2:
        problems.append(f"labels is {_describe(labels)}, expected integers of shape (T,), T >= 2")
        return None
    return len(labels)


def _check_rate(arrays: Mapping[str, np.ndarray], problems: list[str]) -> None:
    rate = arrays.get("rate_hz")
    if rate is None:
        return
    if rate.ndim != 0 or rate.dtype.kind not in "iuf" or not 0 < float(rate) < np.inf:
        shown = rate.item() if rate.ndim == 0 and rate.dtype.kind in "iufb" else _describe(rate)
        problems.append(f"rate_hz is {shown}, expected one positive finite number (a scalar)")


def _check_signal(
    array: np.ndarray, name: str, ndim: int, n: int | None, problems: list[str], expected: str
) -> None:
    if array.dtype.kind not in "iuf":
        problems.append(f"{name} has dtype {array.dtype}, expected real numbers")
    shape_ok = array.ndim == ndim and all(array.shape[1:]) and (ndim != 3 or array.shape[2] == 3)
    if not shape_ok or (n is not None and len(array) != n):
        problems.append(f"{name} has shape {tuple(array.shape)}, expected {expected} with T={n}")


def _check_names(
    arrays: Mapping[str, np.ndarray], key: str, problems: list[str]
) -> tuple[str, ...] | None:
    values = arrays.get(key)
    if values is None:
        return None
    if values.dtype.kind not in "US" or values.ndim != 1 or len(values) == 0:
        problems.append(f"{key} is {_describe(values)}, expected a non-empty list of strings")
        return None
    names = tuple(str(v) for v in values)
    if len(set(names)) < len(names):
        problems.append(f"{key} repeats a name: {list(names)}")
        return None
    return names

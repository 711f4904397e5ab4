"""Ways to break a file, drawn by Hypothesis: bytes (truncate, corrupt, empty, delete, unreadable),
arrays (drop or rename one, change dtype or shape, NaN/Inf, empty, out-of-range values, shuffled
or repeated rows, a bad scalar), a pickled dict's lists (an item broken, dropped or repeated, the
list emptied or made one array, a recording twice) and text (lines and fields). ``mutate`` picks
by the file's kind.

Each mutation returns the paths it touched; an error must name one of their sessions.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io
from hypothesis import strategies as st

Draw = Callable[[st.SearchStrategy], object]
BAD_SCALARS = (0, -1, -0.5, np.nan, np.inf, -np.inf, 1e308, 10**12, "abc")
BAD_TOKENS = ("nan", "inf", "-inf", "-1", "0", "1e309", "x", "", "99999999", "3.5", "\x00")


# ---- bytes: any file --------------------------------------------------------------------------
def mutate_bytes(draw: Draw, path: Path) -> list[Path]:
    op = draw(st.sampled_from(["truncate", "corrupt", "empty", "delete", "unreadable", "append"]))
    content = path.read_bytes()
    if op == "truncate":
        path.write_bytes(content[: draw(st.integers(0, max(len(content) - 1, 0)))])
    elif op == "corrupt":
        data = bytearray(content)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, max(len(data) - 1, 0)))
            if data:
                data[at] = draw(st.integers(0, 255))
        path.write_bytes(bytes(data))
    elif op == "empty":
        path.write_bytes(b"")
    elif op == "delete":
        path.unlink()
    elif op == "unreadable":  # tests run as root, so chmod would not stop a read: a folder does
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes(content + draw(st.binary(min_size=1, max_size=64)))
    return [path]


# ---- arrays: .npy, .npz, .mat -----------------------------------------------------------------
def mutate_array(draw: Draw, array: np.ndarray) -> np.ndarray:
    op = draw(
        st.sampled_from(
            ["nonfinite", "dtype", "shape", "empty", "values", "shuffle", "repeat", "scalar"]
        )
    )
    a = np.array(array)
    if op == "nonfinite":
        if a.dtype.kind not in "f":  # integers become floats; names become NaN
            a = a.astype(np.float64) if a.dtype.kind in "iub" else np.full(a.shape, np.nan)
        if a.size:
            flat = a.reshape(-1)
            for _ in range(draw(st.integers(1, 3))):
                start = draw(st.integers(0, flat.size - 1))
                stop = start + draw(st.sampled_from([1, 3, flat.size]))
                flat[start:stop] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return a
    if op == "dtype":
        dtype = draw(st.sampled_from(["float32", "int8", "uint8", "bool", "complex64", "U3"]))
        try:
            return a.astype(dtype)
        except ValueError:  # names that no number spells: an array of that dtype, same shape
            return np.zeros(a.shape, dtype)
    if op == "shape":
        shape_op = draw(
            st.sampled_from(["ravel", "newaxis", "transpose", "drop_col", "add_col", "one_row"])
        )
        if shape_op == "ravel":
            return a.reshape(-1)
        if shape_op == "newaxis":
            return a[None]
        if shape_op == "transpose":
            return a.T
        if shape_op == "drop_col" and a.ndim >= 2 and a.shape[-1] > 1:
            return a[..., :-1]
        if shape_op == "add_col" and a.ndim >= 2:
            return np.concatenate([a, a[..., :1]], axis=-1)
        return a[:1] if a.ndim else a[None]
    if op == "empty":
        return a[:0] if a.ndim else a[None][:0]
    if op == "values":
        if a.dtype.kind not in "iuf" or not a.size:
            return a
        return a * draw(st.sampled_from([-1, 0, 1000])) + draw(st.sampled_from([0, 7, -3, 10**6]))
    if op == "shuffle" and a.ndim and len(a) > 1:
        return a[np.random.default_rng(draw(st.integers(0, 2**16))).permutation(len(a))]
    if op == "repeat" and a.ndim and len(a):
        at = draw(st.integers(0, len(a) - 1))
        return np.insert(a, at, a[at], axis=0)
    return np.array(draw(st.sampled_from(BAD_SCALARS)))


def mutate_list(draw: Draw, items: list) -> object:
    """A list value of a pickled dict (arrays, or names): one item broken, or the list itself."""
    op = draw(st.sampled_from(["item", "item", "drop", "repeat", "empty", "array", "scalar"]))
    items = list(items)
    if op == "item" and items:
        at = draw(st.integers(0, len(items) - 1))
        items[at] = mutate_array(draw, np.asarray(items[at]))
    elif op == "drop" and items:
        del items[draw(st.integers(0, len(items) - 1))]
    elif op == "repeat" and items:
        items.append(items[draw(st.integers(0, len(items) - 1))])
    elif op == "empty":
        items = []
    elif op == "array":  # the whole list as one array (ragged lists become an object array)
        try:
            return mutate_array(draw, np.array(items))
        except ValueError:
            return np.array(items, dtype=object)
    else:
        return draw(st.sampled_from(BAD_SCALARS))
    return items


def mutate_mapping(draw: Draw, arrays: dict[str, object]) -> dict[str, object]:
    key = draw(st.sampled_from(sorted(arrays)))
    op = draw(st.sampled_from(["array", "array", "drop", "rename"]))
    arrays = dict(arrays)
    if op == "drop":
        del arrays[key]
    elif op == "rename":
        arrays[key + "_x"] = arrays.pop(key)
    elif isinstance(arrays[key], list):
        arrays[key] = mutate_list(draw, arrays[key])
    else:
        arrays[key] = mutate_array(draw, arrays[key])
    return arrays


def duplicate_entry(draw: Draw, content: dict) -> dict:
    """A pickled dict of per-recording lists and arrays with one recording in it twice."""
    n = len(content["X"])
    at = draw(st.integers(0, n - 1))
    return {
        k: ([*v, v[at]] if isinstance(v, list) else np.append(v, v[at]))
        if isinstance(v, (list, np.ndarray)) and len(v) == n and k != "y_labels"
        else v
        for k, v in content.items()
    }


def mutate_pickled(draw: Draw, path: Path) -> None:
    """A pickled dict in an .npy (the watch data set): a key, a value, or a recording twice."""
    content = np.load(path, allow_pickle=True).item()
    if draw(st.integers(0, 5)) == 0:
        content = duplicate_entry(draw, content)
    else:
        content = mutate_mapping(draw, content)
    with open(path, "wb") as handle:
        np.save(handle, np.array(content, dtype=object), allow_pickle=True)


def mutate_arrays_in(draw: Draw, path: Path) -> list[Path]:
    if path.suffix == ".npy" and np.load(path, allow_pickle=True).dtype == object:
        mutate_pickled(draw, path)
    elif path.suffix == ".npy":
        np.save(path, mutate_array(draw, np.load(path)))
    elif path.suffix == ".npz":
        with np.load(path) as content:
            arrays = {k: content[k] for k in content.files}
        np.savez(path, **mutate_mapping(draw, arrays))
    else:  # .mat
        arrays = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
        scipy.io.savemat(path, mutate_mapping(draw, arrays))
    return [path]


# ---- text: .csv, .skeleton, .json -------------------------------------------------------------
def mutate_text(draw: Draw, path: Path) -> list[Path]:
    lines = path.read_text().split("\n")
    op = draw(st.sampled_from(["token", "token", "delete", "duplicate", "junk", "swap"]))
    at = draw(st.integers(0, max(len(lines) - 1, 0)))
    if op == "token":
        fields = lines[at].replace(",", " , ").split(" ")
        if fields:
            k = draw(st.integers(0, len(fields) - 1))
            fields[k] = draw(st.sampled_from(BAD_TOKENS))
        lines[at] = " ".join(fields).replace(" , ", ",")
    elif op == "delete":
        del lines[at]
    elif op == "duplicate":
        lines.insert(at, lines[at])
    elif op == "junk":
        lines.insert(at, draw(st.text(max_size=20)))
    else:
        other = draw(st.integers(0, max(len(lines) - 1, 0)))
        lines[at], lines[other] = lines[other], lines[at]
    path.write_text("\n".join(lines), errors="surrogateescape")
    return [path]


# ---- the tree: a session twice -------------------------------------------------------------------
def duplicate(draw: Draw, path: Path, rename: Callable[[Path], Path]) -> list[Path]:
    copy = rename(path)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, copy)
    return [path, copy]


def mutate(draw: Draw, path: Path, rename: Callable[[Path], Path] | None = None) -> list[Path]:
    """One mutation of ``path``, of a kind that fits the file."""
    structured = path.suffix in (".npy", ".npz", ".mat")
    kinds = ["bytes", "content", "content", "content"] + (["duplicate"] if rename else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "bytes":
        return mutate_bytes(draw, path)
    if kind == "duplicate":
        assert rename is not None
        return duplicate(draw, path, rename)
    return mutate_arrays_in(draw, path) if structured else mutate_text(draw, path)

"""On-disk cache of each split's finished arrays (what ``WindowDataset`` indexes), so that a warm
start maps a few files instead of recomputing body scaling, joint selection and IMU
standardisation from the aligned sessions (about 1.5 CPU seconds at the real data set's scale:
benchmarks/README.md, "Preprocessing").

The key is a hash of everything the arrays are computed from: the split's session cache keys
(raw files' identity and every alignment setting), the caller's parameters (joints, root joint,
torso, IMU statistics by value, IMU mask) and the source code of the functions that compute them,
so editing that code retires the old entries without a version number to remember. Layout:
``<root>/<split>-<hash>/<name>.npy`` plus ``manifest.json``, written last and atomically (several
trials may fill the same cache at once); an entry without a manifest, or whose files disagree with
it (shape, dtype or SHA-256 checksum: truncated or edited by hand), is rebuilt with a one-line
warning. Arrays are mapped copy-on-write (``mmap_mode="c"``): nothing is read until a batch
needs it, and tensors made from them are writable without touching the file.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from har.data.cache import (
    DAMAGED,
    atomic_write,
    discard,
    file_sha256,
    seal,
    unseal,
    verify_checksum,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
Arrays = dict[str, np.ndarray | None]


def split_key(split: str, params: Mapping[str, Any], code: Iterable[Callable]) -> str:
    """``<split>-<hash>`` of ``params`` (JSON-able) and the source of the functions in ``code``."""
    payload = json.dumps(
        {"params": params, "code": [_source(f) for f in code]},
        sort_keys=True,
        default=_jsonable,
    )
    return f"{split}-{hashlib.sha256(payload.encode()).hexdigest()[:32]}"


@functools.cache
def _source(function: Callable) -> str:
    # Parsed once per process: a module's code cannot change under a running process, and
    # getsource re-tokenises the whole file on every call.
    return inspect.getsource(function)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not part of a cache key: {type(value).__name__}")


class SplitArrayCache:
    """``root=None`` disables the cache (every call builds); ``names``: the arrays an entry holds."""

    def __init__(self, root: Path | None, names: Iterable[str] | None = None) -> None:
        self.root = None if root is None else Path(root)
        self.names = None if names is None else tuple(names)

    def get_or_build(self, key: str, build: Callable[[], Arrays]) -> Arrays:
        arrays = self.load(key)
        if arrays is None:
            arrays = build()
            self.save(key, arrays)
        return arrays

    def load(self, key: str) -> Arrays | None:
        if self.root is None:
            return None
        folder = self.root / key
        if not (folder / MANIFEST).is_file():
            if folder.exists():
                log.warning(
                    "split cache entry %s is incomplete (no manifest); rebuilding it", folder
                )
            return None
        try:
            manifest = unseal((folder / MANIFEST).read_text())
            if self.names is not None and set(manifest["arrays"]) != set(self.names):
                raise ValueError(f"it holds {sorted(manifest['arrays'])}, expected {self.names}")
            arrays: Arrays = {}
            for name, spec in manifest["arrays"].items():
                if spec is None:
                    arrays[name] = None
                    continue
                verify_checksum(folder / f"{name}.npy", spec)
                array = np.load(folder / f"{name}.npy", mmap_mode="c", allow_pickle=False)
                if list(array.shape) != spec["shape"] or str(array.dtype) != spec["dtype"]:
                    raise ValueError(f"{name}.npy holds {array.dtype}{array.shape}, not {spec}")
                arrays[name] = array
            return arrays
        except DAMAGED as error:
            log.warning("split cache entry %s is damaged (%s); rebuilding it", folder, error)
            discard(folder)
            return None

    def save(self, key: str, arrays: Arrays) -> None:
        if self.root is None:
            return
        folder = self.root / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).unlink(missing_ok=True)  # nobody trusts the entry while it changes
        specs: dict[str, dict[str, Any] | None] = {}
        for name, array in arrays.items():
            if array is None:
                specs[name] = None
                continue
            data = np.ascontiguousarray(array)
            path = folder / f"{name}.npy"
            atomic_write(path, lambda out, a=data: np.save(out, a))
            specs[name] = {
                "shape": list(data.shape),
                "dtype": str(data.dtype),
                "sha256": file_sha256(path),
            }
        atomic_write(folder / MANIFEST, lambda out: out.write(seal({"arrays": specs})))

"""On-disk cache of aligned sessions, keyed by the raw files' identity and every setting.

Layout: ``<root>/<key>/{pose,acc,labels,valid}.npy`` plus ``manifest.json``, where ``<root>`` is the
caller's namespace under ``data.cache_dir`` (never beside the raw files) and ``<key>`` is
``<workout>-<hash>``. Each file is written to a temporary name and ``os.replace``d, and the manifest
(array shapes, dtypes, byte sizes and SHA-256 checksums) is written last, so an entry without a
manifest, or whose files disagree with it (truncated, edited by hand, swapped), is a half-written or
damaged entry: it is rebuilt with a one-line warning, never read as valid. Arrays are loaded with
``mmap_mode="r"`` after their checksum is verified (about 1 GB/s: a cache hit stays cheap).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from har.data.session import Session

log = logging.getLogger(__name__)

# Bump whenever reading, alignment or the stored layout changes meaning: old entries then miss.
CACHE_FORMAT_VERSION = 2  # 2: checksums in the manifest; non-finite samples marked invalid
ARRAYS = ("pose", "acc", "labels", "valid")
MANIFEST = "manifest.json"


def file_identity(paths: Sequence[Path]) -> list[list]:
    """(absolute path, size, mtime_ns) of each file: editing, replacing or touching one changes it."""
    identity = []
    for path in paths:
        stat = Path(path).stat()
        identity.append([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns])
    return identity


def reader_code_paths(source: object) -> list[Path]:
    """The files whose code turns a source's raw files into Sessions: the module defining its
    class (with its package's siblings when the reader is a package, as MM-Fit's is, or the
    sibling modules it imports from, such as its file validator, when it is one module) and the
    shared resampling core. A cached session is reused only while they are unchanged."""
    module = Path(inspect.getfile(type(source)))
    own_package = module.parent.name != "sources"  # data/sources/mmfit/source.py, not .../utd.py
    if own_package:
        reader = sorted(module.parent.glob("*.py"))
    else:
        names = vars(sys.modules[type(source).__module__]).values()
        used = {inspect.getmodule(v) for v in names if inspect.isclass(v) or inspect.isfunction(v)}
        siblings = {
            Path(m.__file__)
            for m in used
            if m and m.__file__ and Path(m.__file__).parent == module.parent
        }
        reader = sorted(siblings | {module})
    return [*reader, Path(inspect.getfile(Session))]


def reader_code_digest(source: object) -> str:
    digest = hashlib.sha256()
    for path in reader_code_paths(source):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def session_key(name: str, files: Sequence[Path], settings: Mapping[str, object]) -> str:
    """``<name>-<hash>`` of the raw files' identity, every preprocessing setting and the format."""
    payload = json.dumps(
        {"format": CACHE_FORMAT_VERSION, "files": file_identity(files), "settings": dict(settings)},
        sort_keys=True,
    )
    return f"{name}-{hashlib.sha256(payload.encode()).hexdigest()[:32]}"


class SessionCache:
    """Aligned sessions under one root folder; ``root=None`` disables the disk cache."""

    def __init__(self, root: Path | None) -> None:
        self.root = None if root is None else Path(root)

    def load(self, key: str) -> Session | None:
        if self.root is None:
            return None
        folder = self.root / key
        if not (folder / MANIFEST).is_file():
            if folder.exists():
                log.warning("cache entry %s is incomplete (no manifest); rebuilding it", folder)
                if (folder / MANIFEST).exists():  # something else in its place: clear it away
                    discard(folder)
            return None
        try:
            manifest = unseal((folder / MANIFEST).read_text())
            arrays = {
                name: _load_checked(folder / f"{name}.npy", manifest["arrays"][name])
                for name in ARRAYS
            }
            return Session(**arrays, **manifest["session"])
        except DAMAGED as error:
            log.warning("cache entry %s is damaged (%s); rebuilding it", folder, error)
            discard(folder)
            return None

    def save(self, key: str, session: Session) -> None:
        if self.root is None:
            return
        folder = self.root / key
        folder.mkdir(parents=True, exist_ok=True)
        # Retract the old manifest first so nobody trusts the entry while its arrays are replaced.
        (folder / MANIFEST).unlink(missing_ok=True)
        specs = {}
        for name in ARRAYS:
            array = np.ascontiguousarray(getattr(session, name))
            path = folder / f"{name}.npy"
            size = atomic_write(path, lambda out, a=array: np.save(out, a))
            specs[name] = {
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "bytes": size,
                "sha256": file_sha256(path),
            }
        manifest = {
            "format": CACHE_FORMAT_VERSION,
            "session": {
                "workout": session.workout,
                "participant": session.participant,
                "t0_ms": session.t0_ms,
                "rate_hz": session.rate_hz,
                "report": session.report,
            },
            "arrays": specs,
        }
        atomic_write(folder / MANIFEST, lambda out: out.write(seal(manifest)))


def _load_checked(path: Path, spec: dict) -> np.ndarray:
    if path.stat().st_size != spec["bytes"]:
        raise ValueError(
            f"{path.name} has {path.stat().st_size} bytes, manifest says {spec['bytes']}"
        )
    verify_checksum(path, spec)
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    if list(array.shape) != spec["shape"] or str(array.dtype) != spec["dtype"]:
        raise ValueError(f"{path.name} holds {array.dtype}{array.shape}, manifest says {spec}")
    return array


# What reading a damaged entry (its manifest or arrays edited, cut short or swapped) raises.
DAMAGED = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError)


def discard(folder: Path) -> None:
    """Remove a damaged entry, whatever it holds now (a file may have become a folder)."""
    shutil.rmtree(folder, ignore_errors=True)


def seal(manifest: dict) -> bytes:
    """The manifest as JSON with a checksum of its own content, so a hand edit is detected too."""
    body = json.dumps(manifest, indent=2, sort_keys=True)
    digest = hashlib.sha256(body.encode()).hexdigest()
    return json.dumps({"sha256": digest, "manifest": manifest}, indent=2, sort_keys=True).encode()


def unseal(text: str) -> dict:
    """The manifest ``seal`` wrote; ValueError if it was edited or is not one."""
    sealed = json.loads(text)
    if not isinstance(sealed, dict) or not isinstance(sealed.get("manifest"), dict):
        raise ValueError("the manifest is not a sealed har manifest")
    body = json.dumps(sealed["manifest"], indent=2, sort_keys=True)
    if hashlib.sha256(body.encode()).hexdigest() != sealed.get("sha256"):
        raise ValueError("the manifest does not match its checksum (edited by hand?)")
    return sealed["manifest"]


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verify_checksum(path: Path, spec: dict) -> None:
    """Raise ValueError when the file's content is not what its manifest entry recorded."""
    if file_sha256(path) != spec["sha256"]:
        raise ValueError(f"{path.name} does not match its checksum (edited or damaged)")


def atomic_write(path: Path, write: Callable) -> int:
    """Write through ``write(binary_file)`` to a temporary sibling, then rename; returns the size."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            size = out.tell()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size

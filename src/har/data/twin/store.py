"""Where the synthetic twin lives on disk: generated once, atomically, recognised by its manifest.

A twin directory is complete exactly when it holds ``twin.json`` (written last, inside a temporary
sibling directory that is then renamed into place), so an interrupted generation never leaves a
tree that looks complete. A directory without the manifest is never touched: it may be real data.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from har.errors import DataError, reports_user_errors

MANIFEST = "twin.json"
FORMAT_VERSION = 2  # bump whenever the generator's output changes for the same settings

Generator = Callable[[Path, dict[str, Any]], dict[str, Any]]


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest's content; ``{}`` if it exists but cannot be parsed; None if there is none."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def matches(manifest: dict[str, Any] | None, settings: dict[str, Any]) -> bool:
    return (
        manifest is not None
        and manifest.get("format_version") == FORMAT_VERSION
        and all(manifest.get(key) == value for key, value in settings.items())
    )


def ensure_twin(out: Path, settings: dict[str, Any], generate: Generator) -> Path:
    """Return ``out`` if it already holds a twin made with ``settings``; (re)generate it otherwise."""
    if matches(read_manifest(out), settings):
        return out
    return write_twin(out, settings, generate)


def write_twin(out: Path, settings: dict[str, Any], generate: Generator) -> Path:
    """Generate into a temporary sibling of ``out`` and swap it into place."""
    _refuse_foreign(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    try:
        extra = generate(partial, settings)
        manifest = {
            "format_version": FORMAT_VERSION,
            "generator": generate.__module__,  # older trees say "har.data.synthetic"; not compared
            **settings,
            **extra,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _swap_in(partial, out, settings)
    finally:
        shutil.rmtree(partial, ignore_errors=True)  # gone already after a successful swap
    return out


def _refuse_foreign(out: Path) -> None:
    if out.is_dir() and read_manifest(out) is None and any(out.iterdir()):
        raise DataError(
            f"{out} exists and is not a synthetic twin (no {MANIFEST}): refusing to overwrite it; "
            "point the twin at a new or empty directory"
        )
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a directory: point the twin somewhere else")


def _swap_in(partial: Path, out: Path, settings: dict[str, Any]) -> None:
    old = None
    if matches(read_manifest(out), settings):
        return  # another process (a DDP rank, an HPO worker) finished the same twin first
    if out.exists():
        _refuse_foreign(out)  # re-checked: something may have appeared while we generated
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        try:
            out.rename(old)
        except FileNotFoundError:  # another process moved it first
            old = None
    try:
        partial.rename(out)
    except OSError:
        # Another process put a twin in place between our two renames: use it if it is the same.
        if not matches(read_manifest(out), settings):
            raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@reports_user_errors
def twin_cli(argv: list[str] | None, ensure: Callable[..., Path]) -> int:
    """``python -m <ensure's module> OUT_DIR [--SIZE N ...]``: ``ensure(OUT_DIR, ...)``, then print
    the folder. The options are ``ensure``'s keyword arguments, with its defaults."""
    module = sys.modules[ensure.__module__]
    name = module.__spec__.name if module.__spec__ else module.__name__  # not "__main__" under -m
    parser = argparse.ArgumentParser(
        prog=f"python -m {name}", description=(module.__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("out_dir", type=Path)
    for name, parameter in list(inspect.signature(ensure).parameters.items())[1:]:
        parser.add_argument(f"--{name}", type=int, default=parameter.default)
    chosen = vars(parser.parse_args(argv))
    try:
        print(ensure(chosen.pop("out_dir"), **chosen))
    except ValueError as exc:  # a size out of range
        parser.error(str(exc))
    return 0

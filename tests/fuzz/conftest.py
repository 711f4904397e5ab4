"""One small valid tree per format, written once per session (every fuzz module shares it); each
example breaks a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fuzz.formats import FORMATS, Format


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> dict[str, Path]:
    written: dict[str, Path] = {}
    for name, fmt in FORMATS.items():
        written[name] = tmp_path_factory.mktemp(f"template-{name}") / "raw"
        fmt.write(written[name])
    return written


def fresh_copy(template: Path, where: Path) -> Path:
    root = where / "raw"
    shutil.copytree(template, root)
    return root


def sessions_of(fmt: Format, touched: list[Path]) -> list[str]:
    return [fmt.session_of(path) for path in touched]

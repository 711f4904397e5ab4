"""The house rules of DESIGN.md §3, checked on the source: imports run one way, files stay small.

Layers, top to bottom: entrypoints → ``cli``/``hpo``/``launch`` → ``training`` → ``models``,
``classical``, ``data``, ``reporting`` → ``physics``, ``window_features``, ``errors``, ``config``.
A package may import only the packages listed for it here (itself always); an import anywhere in
the file counts, deferred ones included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "har"
ALLOWED = {
    "__init__": set(),  # har/__init__.py
    "errors": set(),
    "config": {"errors"},
    "physics": {"errors"},
    "window_features": {"errors"},  # the statistics features_gbm and F's branch share
    "models": {"physics", "window_features", "errors"},
    # reference classifiers: windows in, predictions out (beside models)
    "classical": {"window_features", "errors"},
    "data": {"physics", "errors", "config"},
    "reporting": {"errors"},
    "training": {"models", "classical", "data", "reporting", "physics", "errors", "config"},
    "launch": {"reporting", "errors", "config"},
    "hpo": {"launch", "reporting", "errors", "config"},
    "cli": {"training", "hpo", "errors", "config"},
}
MAX_LINES = 400
MAX_MODULES_PER_FOLDER = 12  # not counting __init__.py


def layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def har_imports(path: Path) -> set[str]:
    """The top-level har subpackages a module imports (``import har`` alone names no layer)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "har":
                names = [f"har.{alias.name}" for alias in node.names]
        found |= {name.split(".")[1] for name in names if name.startswith("har.")}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path: Path) -> None:
    own = layer(path)
    forbidden = har_imports(path) - ALLOWED[own] - {own}
    assert not forbidden, f"har.{own} must not import {sorted(forbidden)} ({path})"


def test_every_package_has_a_rule() -> None:
    assert {layer(p) for p in MODULES} == set(ALLOWED)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from har.training.trial import run_trial\nimport har.cli\n")
    assert har_imports(bad) == {"training", "cli"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_readable_in_one_sitting(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path} is over {MAX_LINES} lines"


def test_no_folder_hides_its_parts() -> None:
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= MAX_MODULES_PER_FOLDER, f"{folder} has {len(modules)} modules"


def test_no_two_modules_differ_by_a_suffix_only() -> None:
    for folder in {p.parent for p in MODULES}:
        stems = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
        for a in stems:
            for b in stems:
                assert a == b or not b.startswith(a), f"{folder}: {a}.py beside {b}.py"

"""Fixtures for the HPO tests: a fake project for orchestration, the CLI run as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hpo.fake_project import make_fake_project

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def fake_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_fake_project(tmp_path / "project")
    monkeypatch.setenv("HAR_PROJECT_ROOT", str(root))
    monkeypatch.chdir(root)
    return root


def hpo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "har.hpo.cli", *args]


def hpo_env(project_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HAR_PROJECT_ROOT"] = str(project_root)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    return env


def run_hpo(
    project_root: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        hpo_command(*args),
        cwd=project_root,
        env=hpo_env(project_root),
        capture_output=True,
        text=True,
        timeout=timeout,
    )

"""``python -m har.data.twin.{utd,ntu}``: one CLI built from each generator's signature."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # generates two small trees in fresh interpreters: ~17 s


def twin_cli(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", f"har.data.twin.{module}", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("module", "sizes", "out_of_range", "expected"),
    [
        ("utd", ["--subjects", "1", "--trials", "1"], ["--subjects", "9"], "subjects must be 1..8"),
        ("ntu", ["--performers", "1", "--setups", "1"], ["--setups", "18"], "setups 1..17"),
    ],
)  # fmt: skip
def test_the_twin_cli_generates_refuses_bad_sizes_and_foreign_folders(
    tmp_path: Path, module: str, sizes: list[str], out_of_range: list[str], expected: str
) -> None:
    made = twin_cli(module, str(tmp_path / "twin"), *sizes, "--seed", "3")
    assert made.returncode == 0, made.stderr[-2000:]
    assert made.stdout.strip() == str(tmp_path / "twin")
    assert (tmp_path / "twin" / "twin.json").is_file()

    bad = twin_cli(module, str(tmp_path / "other"), *out_of_range)
    assert bad.returncode == 2 and expected in bad.stderr
    assert (
        f"python -m har.data.twin.{module}" in bad.stderr
    )  # the usage line names the real command

    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "data.mat").write_bytes(b"")
    foreign = twin_cli(module, str(tmp_path / "real"), *sizes)
    assert foreign.returncode == 2
    assert foreign.stderr.startswith("error: ") and "not a synthetic twin" in foreign.stderr
    assert (tmp_path / "real" / "data.mat").exists()

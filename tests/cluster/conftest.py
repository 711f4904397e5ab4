"""A real single-node SLURM cluster and a real PostgreSQL server for the launcher tests.

Both are started once per test session by the project's own scripts (slurm_up.sh, pg_up.sh) under a
private temporary folder, on free ports, and stopped at the end. Tests that need them are skipped,
with the reason, where the binaries are missing (CI installs slurm-wlm and postgresql: .ci/run).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra.utils import instantiate

from tests.conftest import REPO, TEST_CACHE_DIR, TEST_DATA_DIR, compose_config

HERE = Path(__file__).resolve().parent
SLURM_DAEMONS = ("sbatch", "squeue", "scontrol", "scancel", "slurmctld", "slurmd", "munged")
# Small debug trials: the launchers' tests are about orchestration, not about learning.
TRIAL_GROUPS = ["env=remote", "data=mmfit_debug", "scenario=debug"]
TRIAL_SETTINGS = [
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "env.num_workers=0",
    f"env.data_dir={TEST_DATA_DIR}",
    f"env.cache_dir={TEST_CACHE_DIR}",
]
TINY_TRIAL = [*TRIAL_GROUPS, *TRIAL_SETTINGS]


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def cluster_root() -> Iterator[Path]:
    """A private folder (not under pytest's tmp root, which parallel sessions prune), readable by
    the munge and postgres users."""
    root = Path(tempfile.mkdtemp(prefix="har-cluster-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def tmp_path(cluster_root: Path, request: pytest.FixtureRequest) -> Path:
    """Per-test folders in the private root too: the jobs outlive pytest's own tmp_path, which
    other pytest sessions on a shared machine may prune while a job still writes there."""
    path = cluster_root / "tests" / re.sub(r"\W", "_", request.node.name)
    path.mkdir(parents=True)
    return path


@dataclass
class Slurm:
    conf: Path
    env: dict[str, str]  # the test process's environment plus SLURM_CONF

    def run(self, *command: str) -> str:
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed: {done.stderr}")
        return done.stdout

    def active(self, job_id: str) -> list[str]:
        """States of the job's (or array's) tasks still known to squeue."""
        return self.run("squeue", "-h", "-j", job_id, "-o", "%T").split()

    def wait_until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.2)

    def wait_for_end(self, job_id: str, timeout: float = 300) -> None:
        self.wait_until(lambda: not self.active(job_id), timeout, f"job {job_id} to end")


@pytest.fixture(scope="session")
def slurm(cluster_root: Path) -> Iterator[Slurm]:
    missing = [name for name in SLURM_DAEMONS if _which(name) is None]
    if missing:
        pytest.skip(
            f"SLURM is not installed ({', '.join(missing)} not found): apt-get install slurm-wlm"
        )
    if os.geteuid() != 0:
        pytest.skip("starting a test SLURM cluster needs root (slurmd runs jobs as their users)")
    root = cluster_root / "slurm"
    env = {**os.environ, "SLURMCTLD_PORT": str(_free_port()), "SLURMD_PORT": str(_free_port())}
    env["PATH"] = f"{env.get('PATH', '')}:/usr/sbin:/sbin"
    up = subprocess.run(
        [str(HERE / "slurm_up.sh"), str(root)], env=env, capture_output=True, text=True, timeout=120
    )
    cluster = Slurm(root / "slurm.conf", {**env, "SLURM_CONF": str(root / "slurm.conf")})
    try:
        assert up.returncode == 0, f"slurm_up.sh failed:\n{up.stdout}\n{up.stderr}"
        yield cluster
    finally:
        for job_id in subprocess.run(
            ["squeue", "-h", "-o", "%A"], env=cluster.env, capture_output=True, text=True
        ).stdout.split():
            subprocess.run(["scancel", job_id], env=cluster.env, capture_output=True)
        subprocess.run([str(HERE / "slurm_down.sh"), str(root)], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def postgres_url(cluster_root: Path) -> Iterator[str]:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.skip(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin): apt-get install postgresql"
        )
    pytest.importorskip("psycopg2", reason="pip install 'har[postgres]' (psycopg2-binary)")
    root = cluster_root / "postgres"
    up = subprocess.run(
        [str(HERE / "pg_up.sh"), str(root), str(_free_port()), "har_test"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    try:
        assert up.returncode == 0, f"pg_up.sh failed:\n{up.stdout}\n{up.stderr}"
        yield up.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(HERE / "pg_down.sh"), str(root)], capture_output=True, timeout=60)


@pytest.fixture
def fresh_database(postgres_url: str, request: pytest.FixtureRequest) -> str:
    """An empty database of its own on the session's server (Optuna's tables not yet created)."""
    import psycopg2

    # PostgreSQL keeps 63 bytes of a name: a digest of the whole test id keeps parametrised
    # tests (same long prefix) apart.
    digest = hashlib.sha1(request.node.name.encode()).hexdigest()[:10]
    name = (re.sub(r"\W", "_", request.node.name)[:40] + "_" + digest).lower()
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
    return f"{postgres_url.rsplit('/', 1)[0]}/{name}"


@pytest.fixture(scope="session")
def twin_ready() -> None:
    """Generate the suite's twin and its cache once, before jobs start, instead of letting two
    array tasks both generate it."""
    cfg = compose_config(TINY_TRIAL)
    instantiate(cfg.data, _recursive_=False).prepare_data()


def launcher_env(slurm: Slurm, **variables: str) -> dict[str, str]:
    """What a user would export before running a launcher, sized for this small test cluster."""
    base = {
        "PROJECT_ROOT": str(REPO),
        "PYTHON": sys.executable,
        "GPUS": "0",
        "CPUS": "1",
        "MEM": "",
        "ENV_NAME": "remote",
    }
    return {**slurm.env, **base, **variables}


def submit(slurm: Slurm, launcher: str, **variables: str) -> str:
    """Run `bash experiments/<launcher>` in submit mode; returns the job id it printed."""
    done = subprocess.run(
        ["bash", str(REPO / "experiments" / launcher)],
        env=launcher_env(slurm, **variables), cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"{launcher} failed:\n{done.stdout}\n{done.stderr}"
    match = re.search(r"submitted job (?:array )?(\d+)", done.stdout)
    assert match, done.stdout
    return match.group(1)

"""The launchers' submit mode and refusals, without a cluster: `sbatch` is a stand-in that records
its arguments and the variables the job would inherit (fast; the real runs are in test_slurm.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

# One xdist worker runs these (make test): one SLURM / PostgreSQL per run, not per worker.
pytestmark = pytest.mark.xdist_group("cluster")

FAKE_SBATCH = """#!/bin/bash
printf '%s\\n' "$@" > "$FAKE_SBATCH_DIR/args"
for name in STORAGE RUN_DIR HAR_RUN_STAMP OUTPUT_ROOT N_TRIALS PROJECT_ROOT; do
  echo "$name=${!name:-}"
done > "$FAKE_SBATCH_DIR/env"
echo 4242
"""


def launch(tmp_path: Path, launcher: str, **variables: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    env |= {"PATH": f"{bin_dir}:{env['PATH']}", "FAKE_SBATCH_DIR": str(tmp_path)}
    env |= {"PROJECT_ROOT": str(REPO), **variables}
    return subprocess.run(
        ["bash", str(REPO / "experiments" / launcher)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def submitted(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    args = (tmp_path / "args").read_text().splitlines()
    env = dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines())
    return args, env


def test_hpo_submits_an_array_of_workers_on_a_journal_by_default(tmp_path: Path) -> None:
    root = tmp_path / "out"
    done = launch(
        tmp_path, "slurm_hpo.sh", HPO="debug", OUTPUT_ROOT=str(root), WORKERS="3",
        MAX_PARALLEL="2", N_TRIALS="12", GPUS="0", PARTITION="gpu", ACCOUNT="proj42",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "submitted job array 4242" in done.stdout
    args, env = submitted(tmp_path)
    assert "--array=0-2%2" in args
    assert f"--output={root}/logs/worker_%a.log" in args
    assert {"--signal=B:USR1@300", "--requeue", "--open-mode=append"} <= set(args)
    assert {"--partition=gpu", "--account=proj42", "--ntasks-per-node=1"} <= set(args)
    assert not any(a.startswith("--gres") for a in args)  # GPUS=0
    assert args[-1] == str(REPO / "experiments" / "slurm_hpo.sh")
    assert env["STORAGE"] == f"{root}/debug.journal"  # several workers: a journal file
    assert env["N_TRIALS"] == "12" and env["PROJECT_ROOT"] == str(REPO)


def test_hpo_single_worker_defaults_to_sqlite_and_resources_have_defaults(tmp_path: Path) -> None:
    root = tmp_path / "out"
    done = launch(tmp_path, "slurm_hpo.sh", HPO="debug", OUTPUT_ROOT=str(root), WORKERS="1")
    assert done.returncode == 0, done.stderr
    args, env = submitted(tmp_path)
    assert env["STORAGE"] == f"{root}/debug.db"
    assert {
        "--array=0-0%1",
        "--gres=gpu:1",
        "--cpus-per-task=8",
        "--mem=32G",
        "--time=24:00:00",
    } <= set(args)


@pytest.mark.parametrize("storage", ["study.db", "sqlite:///x/study.db"])
@pytest.mark.parametrize("mode", ["submit", "job"])
def test_sqlite_is_refused_for_several_workers_with_the_reason(
    tmp_path: Path, storage: str, mode: str
) -> None:
    variables = {"HPO": "debug", "OUTPUT_ROOT": str(tmp_path / "out"), "STORAGE": storage}
    if mode == "submit":
        variables["WORKERS"] = "2"
    else:  # an array task that was submitted by hand: `sbatch --array=0-1 slurm_hpo.sh`
        variables |= {
            "SLURM_JOB_ID": "7",
            "SLURM_ARRAY_TASK_ID": "1",
            "SLURM_ARRAY_TASK_COUNT": "2",
        }
    done = launch(tmp_path, "slurm_hpo.sh", **variables)
    assert done.returncode == 2
    assert "SQLite" in done.stderr and "database is locked" in done.stderr
    assert "postgresql://" in done.stderr and ".journal" in done.stderr
    assert not (tmp_path / "args").exists()  # nothing was submitted or run


def test_hpo_refuses_an_unknown_search_space(tmp_path: Path) -> None:
    done = launch(tmp_path, "slurm_hpo.sh", HPO="no_such_space", OUTPUT_ROOT=str(tmp_path / "o"))
    assert done.returncode == 2 and "conf/hpo/no_such_space.yaml" in done.stderr


def test_trial_asks_for_one_process_per_gpu_on_every_node(tmp_path: Path) -> None:
    done = launch(tmp_path, "slurm_trial.sh", GPUS="4", NODES="2", OUTPUT_DIR=str(tmp_path / "o"),
                  TIME_LIMIT="02:00:00", EXTRA_SBATCH_ARGS="--constraint=a100 --exclusive")  # fmt: skip
    assert done.returncode == 0, done.stderr
    args, _ = submitted(tmp_path)
    assert {"--nodes=2", "--ntasks-per-node=4", "--gres=gpu:4", "--time=02:00:00"} <= set(args)
    assert {"--constraint=a100", "--exclusive"} <= set(args)
    assert f"--output={tmp_path}/o/job_%j.log" in args
    assert "run dir " + f"{tmp_path}/o/job_4242" in done.stdout


def test_best_submits_one_task_per_seed_into_a_timestamped_dir(tmp_path: Path) -> None:
    done = launch(tmp_path, "slurm_best.sh", SEEDS="0 1 2", RUN_LABEL="apex",
                  BEST_RUN_ROOT=str(tmp_path / "best"), SCENARIO_NAME="scenario2", DATA_NAME="mmfit")  # fmt: skip
    assert done.returncode == 0, done.stderr
    args, env = submitted(tmp_path)
    run_dir = Path(env["RUN_DIR"])
    assert run_dir.parent == tmp_path / "best" / "scenario2" / "mmfit"
    assert run_dir.name == env["HAR_RUN_STAMP"]  # fixed at submission: requeues find it again
    assert "--array=0-2" in args and "--time=48:00:00" in args
    assert f"--output={run_dir}/logs/apex_%A_%a.log" in args
    assert (run_dir / "logs").is_dir()


def test_best_refuses_a_missing_best_json(tmp_path: Path) -> None:
    done = launch(tmp_path, "slurm_best.sh", BEST_JSON=str(tmp_path / "nope.json"))
    assert done.returncode == 2 and "nope.json" in done.stderr

"""Issue 8's acceptance on a real SLURM cluster and a real PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from har.hpo.storage import open_storage
from har.training.callbacks import VAL_PREDICTIONS_FILE
from tests.cluster.conftest import TINY_TRIAL, TRIAL_SETTINGS, Slurm, submit

# One xdist worker runs these (make test): one SLURM / PostgreSQL per run, not per worker.
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.xdist_group("cluster")]


def load_study(name: str, storage: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(storage, heartbeat=False))


def hpo_variables(tmp_path: Path, study: str, storage: str, n_trials: int) -> dict[str, str]:
    return {
        "HPO": "debug",
        "STUDY_NAME": study,
        "OUTPUT_ROOT": str(tmp_path / study),
        "STORAGE": storage,
        "WORKERS": "2",
        "N_TRIALS": str(n_trials),
        "HPO_ARGS": "--no-plots",
        "OVERRIDES": " ".join(
            [
                *TINY_TRIAL,
                "trainer.epochs=2",
                "trainer.limit_train_batches=3",
                "trainer.plots=false",
            ]
        ),
    }


def test_hpo_array_of_two_workers_on_postgres_runs_exactly_the_total(
    slurm: Slurm, fresh_database: str, twin_ready: None, tmp_path: Path
) -> None:
    # A new database: the two workers also race to create Optuna's tables.
    job = submit(slurm, "slurm_hpo.sh", **hpo_variables(tmp_path, "array", fresh_database, 4))
    slurm.wait_for_end(job, timeout=600)

    output_root = tmp_path / "array"
    trials = load_study("array", fresh_database).get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4, _logs(output_root)
    # Both array tasks took part, with decorrelated samplers (no point proposed twice).
    assert len({t.user_attrs["har.worker"]["pid"] for t in trials}) == 2
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 4
    rows = (output_root / "trials.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and all(",COMPLETE," in row for row in rows[1:])
    best = json.loads((output_root / "best.json").read_text())
    assert best["trial_counts"]["complete"] == 4
    assert best["storage"] == fresh_database
    for n in range(4):
        assert (
            json.loads((output_root / "trials" / f"trial_{n}" / "results.json").read_text())[
                "status"
            ]
            == "completed"
        )
    assert {p.name for p in (output_root / "logs").iterdir()} == {"worker_0.log", "worker_1.log"}


def test_a_killed_worker_trial_is_failed_by_heartbeat_retried_and_the_total_reached(
    slurm: Slurm, fresh_database: str, twin_ready: None, tmp_path: Path
) -> None:
    variables = hpo_variables(tmp_path, "killed", fresh_database, 2)
    # Beats every second, stale after 3 s: the test cannot wait the production minutes.
    variables |= {"HAR_HEARTBEAT_INTERVAL_S": "1", "HAR_HEARTBEAT_GRACE_S": "3"}
    job = submit(slurm, "slurm_hpo.sh", **variables)
    output_root = tmp_path / "killed"

    def training_trial() -> optuna.trial.FrozenTrial | None:
        """A RUNNING trial whose process has started (its results.json says 'running')."""
        try:
            study = load_study("killed", fresh_database)
        except KeyError:  # the workers have not created the study yet
            return None
        for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            results = output_root / "trials" / f"trial_{trial.number}" / "results.json"
            if results.exists() and "har.worker" in trial.user_attrs:
                return trial
        return None

    slurm.wait_until(lambda: training_trial() is not None, 300, "a trial to start training")
    victim = training_trial()
    assert victim is not None
    os.kill(victim.user_attrs["har.worker"]["pid"], signal.SIGKILL)  # its orchestrator, mid-trial
    slurm.wait_for_end(job, timeout=600)

    trials = load_study("killed", fresh_database).get_trials()
    states = {t.number: t.state.name for t in trials}
    assert states[victim.number] == "FAIL", _logs(output_root)
    assert sorted(states.values()) == ["COMPLETE"] * 2 + ["FAIL"], _logs(output_root)
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert retry.state.name == "COMPLETE" and retry.params == victim.params
    assert json.loads((output_root / "best.json").read_text())["trial_counts"]["complete"] == 2


def test_an_hpo_worker_sent_usr1_closes_its_trial_and_requeues_itself(
    slurm: Slurm, twin_ready: None, tmp_path: Path
) -> None:
    journal = tmp_path / "requeue" / "requeue.journal"
    variables = hpo_variables(tmp_path, "requeue", str(journal), 2) | {"WORKERS": "1"}
    job = submit(slurm, "slurm_hpo.sh", **variables)
    task = f"{job}_0"
    first_trial = tmp_path / "requeue" / "trials" / "trial_0" / "results.json"
    slurm.wait_until(first_trial.exists, 300, "the first trial to start")
    slurm.run("scancel", "--batch", "--signal=USR1", task)
    slurm.wait_until(lambda: slurm.active(task) == ["PENDING"], 120, "the worker to be requeued")
    slurm.run("scontrol", "update", f"JobId={task}", "StartTime=now+2")
    slurm.wait_for_end(job, timeout=300)

    trials = load_study("requeue", f"journal:{journal}").get_trials()
    log = (tmp_path / "requeue" / "logs" / "worker_0.log").read_text()
    # The stopped worker closed its trial itself (not left RUNNING for someone to find), as lost:
    # it gives its place back, so the requeued worker still brings the study to N_TRIALS=2 results.
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE"], log
    assert trials[0].user_attrs["lost"] is True
    # scancel signals every process of the step: the trial may see SIGTERM before its orchestrator
    # stops it; either way the worker itself recorded why (a dead worker's trial would say "died").
    assert trials[0].user_attrs["fail_reason"] in (
        "interrupted: the orchestrator was stopped",
        "run_trial exited with code -15 (killed by signal SIGTERM)",
    )
    assert "requeueing job" in log and "restart 1" in log


def test_a_trial_job_sent_usr1_in_its_second_epoch_is_requeued_and_resumes(
    slurm: Slurm, twin_ready: None, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    # Epochs of ~5 s (150 batches of windows every 0.1 s): the requeue's SIGTERM must land in
    # epoch 1, before its end writes a last.ckpt newer than the requeue checkpoint.
    overrides = [
        *TINY_TRIAL, "data.stride_seconds=0.1", "trainer.epochs=3", "trainer.limit_train_batches=150",
    ]  # fmt: skip
    job = submit(slurm, "slurm_trial.sh", RUN_DIR=str(run_dir), OVERRIDES=" ".join(overrides))
    log = run_dir / f"slurm_{job}.log"

    first_epoch = epoch_line(0)
    slurm.wait_until(lambda: log.exists() and first_epoch in log.read_text(), 300, "epoch 0")
    time.sleep(0.3)  # into epoch 1
    slurm.run("scancel", "--batch", "--signal=USR1", job)  # what --signal=B:USR1@N does
    # Lightning requeues the job; SLURM holds a requeued job back for ~2 minutes (BeginTime).
    slurm.wait_until(lambda: slurm.active(job) == ["PENDING"], 120, "the job to be requeued")
    slurm.run("scontrol", "update", f"JobId={job}", "StartTime=now+2")
    slurm.wait_for_end(job, timeout=300)

    text = log.read_text()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "completed", text[-3000:]
    assert results["distributed"]["slurm"]["restart_count"] == "1"
    requeue_checkpoint = run_dir / "hpc_ckpt_1.ckpt"
    assert results["checkpoint"]["resumed_from"] == str(requeue_checkpoint)
    # Saved by Lightning in the second epoch (index 1), when the signal came.
    assert torch.load(requeue_checkpoint, weights_only=True)["epoch"] == 1
    # The history continues: epoch 0 ran once, in the first attempt, and its values were kept.
    assert results["history"]["epoch"] == [0, 1, 2]
    assert text.count(first_epoch) == 1 and "resuming from" in text
    first_val_f1 = float(text.split(first_epoch)[1].split("val_f1 ")[1].split()[0])
    assert results["history"]["val_f1"][0] == pytest.approx(first_val_f1, abs=1e-4)


def epoch_line(epoch: int) -> str:
    return f"epoch {epoch:>3} |"  # EpochHistory's summary line


def test_a_trial_job_of_two_tasks_trains_with_ddp_and_one_writer(
    slurm: Slurm, twin_ready: None, tmp_path: Path
) -> None:
    run_dir = tmp_path / "ddp"
    overrides = [*TINY_TRIAL, "trainer.epochs=1", "trainer.limit_train_batches=4"]
    job = submit(
        slurm, "slurm_trial.sh", RUN_DIR=str(run_dir), OVERRIDES=" ".join(overrides),
        EXTRA_SBATCH_ARGS="--ntasks-per-node=2",  # CPU DDP: two srun tasks on the one node
    )  # fmt: skip
    slurm.wait_for_end(job, timeout=300)

    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "completed", _logs(run_dir)
    assert results["distributed"]["world_size"] == 2
    assert results["distributed"]["strategy"] == "DDPStrategy"
    # Lightning took the ranks from SLURM (srun), not from its own launcher.
    log = (run_dir / f"slurm_{job}.log").read_text()
    assert "MEMBER: 1/2" in log and "MEMBER: 2/2" in log
    assert log.count("epoch   0 |") == 1  # the summary line comes from rank 0 only
    predictions = np.load(run_dir / VAL_PREDICTIONS_FILE)
    assert len(predictions["pred"]) == 2 * 2 * results["config"]["data"]["batch_size"]


def test_best_run_of_two_seeds_writes_every_artifact(
    slurm: Slurm, twin_ready: None, tmp_path: Path
) -> None:
    best_json = tmp_path / "best.json"
    best_json.write_text(json.dumps({"override_list": ["optim.lr=0.002", "scenario.alpha=1.5"]}))
    job = submit(
        slurm,
        "slurm_best.sh",
        BEST_JSON=str(best_json),
        BEST_OVERRIDES="optim.weight_decay=0.0002",
        SEEDS="0 1",
        EPOCHS="1",
        DATA_NAME="mmfit_debug",
        SCENARIO_NAME="debug",
        RUN_LABEL="apex",
        BEST_RUN_ROOT=str(tmp_path / "best_run"),
        OVERRIDES=" ".join([*TRIAL_SETTINGS, "trainer.limit_train_batches=2"]),
    )
    slurm.wait_for_end(job, timeout=300)

    (stamp_dir,) = (tmp_path / "best_run" / "debug" / "mmfit_debug").iterdir()
    assert {p.name for p in (stamp_dir / "logs").iterdir()} == {
        f"apex_{job}_0.log",
        f"apex_{job}_1.log",
    }
    for seed in (0, 1):
        run_dir = stamp_dir / f"seed_{seed}"
        results = json.loads((run_dir / "results.json").read_text())
        assert results["status"] == "completed", _logs(stamp_dir)
        config = results["config"]
        assert (config["seed"], config["optim"]["lr"], config["optim"]["weight_decay"]) == (
            seed, 0.002, 0.0002,
        )  # fmt: skip
        assert (config["scenario"]["alpha"], config["trainer"]["epochs"]) == (1.5, 1)
        for artifact in ("csv/metrics.csv", ".hydra/config.yaml", "checkpoints/last.ckpt"):
            assert (run_dir / artifact).is_file(), artifact


def _logs(folder: Path) -> str:
    """Every log under `folder`, for the assertion message of a failed cluster test."""
    return "\n".join(
        f"==> {path}\n{path.read_text(errors='replace')[-2000:]}"
        for path in sorted(folder.rglob("*.log"))
    )

"""Multi-process training: DDP on CPU (gloo), metrics reduced over processes, one writer of files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.plugins.environments import SLURMEnvironment

from har.reporting.results import ResultsFile
from har.training.callbacks import VAL_PREDICTIONS_FILE
from har.training.resume import latest_checkpoint
from har.training.trainer import cluster_plugins
from har.training.trial import is_rank_zero_process, run_trial
from tests.conftest import compose_config, run_trial_cli

TINY = [
    "data=mmfit_debug",
    "scenario=debug",
    "trainer.epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=3",
    "trainer.limit_test_batches=2",
    "trainer.progress_bar=false",
]


def macro_f1(pred: np.ndarray, label: np.ndarray, n_classes: int) -> float:
    """Macro F1 written out, over the classes that occur in labels or predictions (torchmetrics'
    rule: a class absent from both does not count)."""
    scores = []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (label == c))
        fp = np.sum((pred == c) & (label != c))
        fn = np.sum((pred != c) & (label == c))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


@pytest.mark.slow
def test_ddp_on_cpu_completes_and_val_f1_is_the_f1_of_every_process_predictions(
    tmp_path: Path,
) -> None:
    run = run_trial_cli([*TINY, "trainer.devices=2", "trainer.strategy=ddp"], tmp_path / "run")
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    results = run.results
    assert results["status"] == "completed"
    assert results["distributed"]["world_size"] == 2
    assert results["distributed"]["strategy"] == "DDPStrategy"
    assert results["history"]["epoch"] == [0]

    saved = np.load(run.run_dir / VAL_PREDICTIONS_FILE)
    pred, label = saved["pred"], saved["label"]
    assert int(saved["epoch"]) == 0
    # Both processes' windows: 2 ranks x 3 validation batches of data.batch_size windows each.
    batch_size = results["config"]["data"]["batch_size"]
    assert len(pred) == len(label) == 2 * 3 * batch_size
    n_classes = len(results["data"]["class_names"])
    recomputed = macro_f1(pred, label, n_classes)
    assert results["history"]["val_f1"][-1] == pytest.approx(recomputed, abs=1e-6)
    assert results["final_metrics"]["val_f1_last"] == pytest.approx(recomputed, abs=1e-6)


def test_macro_f1_matches_torchmetrics() -> None:
    from torchmetrics.functional.classification import multiclass_f1_score

    rng = np.random.default_rng(0)
    pred, label = rng.integers(0, 5, 200), rng.integers(0, 4, 200)  # class 5 never occurs
    expected = multiclass_f1_score(torch.tensor(pred), torch.tensor(label), 6, average="macro")
    assert macro_f1(pred, label, 6) == pytest.approx(float(expected), abs=1e-6)


def test_only_rank_zero_writes_results_json(tmp_path: Path) -> None:
    silent = ResultsFile(tmp_path / "rank1", {"seed": 0}, writes=False)
    silent.start()
    silent.finish("completed", final_metrics={"val_f1_last": 0.5})
    assert not (tmp_path / "rank1").exists()
    assert silent.payload["final_metrics"] == {"val_f1_last": 0.5}

    writer = ResultsFile(tmp_path / "rank0", {"seed": 0})
    writer.start()
    assert (tmp_path / "rank0" / "results.json").is_file()


def test_rank_of_the_process_before_the_trainer_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rank_zero_only, "rank", 0, raising=False)
    monkeypatch.delenv("NODE_RANK", raising=False)
    assert is_rank_zero_process()
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert not is_rank_zero_process()  # a second process of Lightning's launcher (LOCAL_RANK=1)
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    monkeypatch.setenv("NODE_RANK", "1")
    assert not is_rank_zero_process()  # local rank 0 of the second node


def test_lightning_owns_requeue_in_a_slurm_step_but_not_in_an_hpo_trial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(key)
    assert cluster_plugins(compose_config()) == []  # not on SLURM
    monkeypatch.setenv("SLURM_NTASKS", "1")  # what srun sets in a job step
    monkeypatch.setenv("SLURM_JOB_NAME", "har-trial")
    (training,) = cluster_plugins(compose_config())
    assert isinstance(training, SLURMEnvironment) and training.auto_requeue
    (hpo_trial,) = cluster_plugins(compose_config(["optuna.storage=sqlite:///x.db"]))
    assert not hpo_trial.auto_requeue


def test_resume_takes_the_newest_of_last_and_the_requeue_checkpoint(tmp_path: Path) -> None:
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert latest_checkpoint(tmp_path, "checkpoints") == last  # nothing yet: the default path
    last.parent.mkdir()
    last.write_bytes(b"epoch end")
    requeue = tmp_path / "hpc_ckpt_1.ckpt"
    requeue.write_bytes(b"signal")
    os.utime(last, ns=(time.time_ns() - 10**9,) * 2)
    assert latest_checkpoint(tmp_path, "checkpoints") == requeue
    os.utime(last, ns=(time.time_ns() + 10**9,) * 2)  # a later epoch finished after the resume
    assert latest_checkpoint(tmp_path, "checkpoints") == last


def test_val_predictions_knob(tmp_path: Path, twin_overrides: list[str]) -> None:
    for enabled in (True, False):
        run_dir = tmp_path / str(enabled)
        cfg = compose_config(
            [*TINY, *twin_overrides, "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
             "trainer.limit_test_batches=1", f"trainer.val_predictions={enabled}"]
        )  # fmt: skip
        assert run_trial(cfg, run_dir)["status"] == "completed"
        assert (run_dir / VAL_PREDICTIONS_FILE).exists() == enabled

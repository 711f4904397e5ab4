"""The seed README's run_trial commands, run for real on the synthetic twin."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_trial_cli

SEED_KEYS = ("train_loss_last", "val_loss_last", "val_f1_last", "best_val_f1", "best_val_loss")
DEBUG = ["data=mmfit_debug", "scenario=debug"]
TINY = [
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
]


def assert_complete(run, epochs: int) -> dict:
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    res = run.results
    assert res["status"] == "completed" and res["error"] is None
    fm = res["final_metrics"]
    for key in (*SEED_KEYS, "test_f1", "test_acc"):
        assert isinstance(fm[key], float), key
    assert 0.0 <= fm["test_f1"] <= 1.0 and 0.0 <= fm["best_val_f1"] <= 1.0
    assert fm["best_val_f1"] == max(res["history"]["val_f1"])
    assert fm["best_val_loss"] == min(res["history"]["val_loss"])
    h = res["history"]
    assert h["epoch"] == list(range(epochs))
    for series in ("train_loss", "val_loss", "val_f1", "val_acc", "val_mse", "lr"):
        assert len(h[series]) == epochs, series
    assert res["git"]["revision"] is None or re.fullmatch(r"[0-9a-f]{40}", res["git"]["revision"])
    assert res["timing"]["process_to_first_step_s"] > 0
    assert res["config"]["seed"] == res["config"]["seed"]  # resolved config is stored
    assert (run.run_dir / ".hydra" / "config.yaml").exists()
    assert (run.run_dir / "csv" / "metrics.csv").exists()
    return res


def test_fast_debug_run(tmp_path):
    run = run_trial_cli([*DEBUG, "trainer.epochs=2"], tmp_path / "run")
    res = assert_complete(run, epochs=2)
    assert res["checkpoint"]["tested"] == "best"
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
    assert res["config"]["data"]["train_workouts"] == ["w01"]
    assert "epoch   1 |" in run.proc.stderr + run.proc.stdout  # one summary line per epoch


def test_ultra_fast_plumbing_smoke_without_checkpoints(tmp_path):
    args = [*DEBUG, "trainer.epochs=1", "trainer.enable_checkpointing=false",
            "trainer.early_stopping.enabled=false", *TINY]  # fmt: skip
    run = run_trial_cli(args, tmp_path / "run", script=True)
    res = assert_complete(run, epochs=1)
    assert res["checkpoint"]["tested"] == "final-weights"
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_fraction_of_batches_on_default_data(tmp_path):
    args = ["trainer.epochs=2", "trainer.limit_train_batches=0.05", "trainer.limit_val_batches=0.1"]
    res = assert_complete(run_trial_cli(args, tmp_path / "run"), epochs=2)
    assert res["config"]["data"]["dataset_name"].startswith("mmfit_synth")
    assert len(res["config"]["data"]["train_workouts"] or []) == 0  # the default split


@pytest.mark.slow
def test_same_seed_same_metrics_other_seed_differs(tmp_path):
    args = [*DEBUG, "trainer.epochs=1", *TINY]
    a = run_trial_cli([*args, "seed=42"], tmp_path / "a").results["final_metrics"]
    b = run_trial_cli([*args, "seed=42"], tmp_path / "b").results["final_metrics"]
    c = run_trial_cli([*args, "seed=7"], tmp_path / "c").results["final_metrics"]
    assert a == b
    assert a["train_loss_last"] != c["train_loss_last"]


def test_config_anatomy_overrides_reach_the_run(tmp_path):
    args = [*DEBUG, "trainer.epochs=1", *TINY, "optim.lr=3e-4", "model.regressor.fc_hidden=128",
            "model.regressor.sequence_length=128", "scenario.alpha=1.5"]  # fmt: skip
    res = assert_complete(run_trial_cli(args, tmp_path / "run"), epochs=1)
    cfg = res["config"]
    assert cfg["optim"]["lr"] == 3e-4 and cfg["scenario"]["alpha"] == 1.5
    assert cfg["model"]["regressor"]["fc_hidden"] == 128
    assert cfg["model"]["regressor"]["sequence_length"] == 128
    assert res["history"]["lr"] == [3e-4]


def test_seed_checkpoint_filename_pattern(tmp_path):
    args = [*DEBUG, "trainer.epochs=1", *TINY, "trainer.checkpoint.monitor=val_loss",
            "trainer.checkpoint.mode=min", "trainer.checkpoint.filename='epoch{epoch}-val{val_loss:.4f}'"]  # fmt: skip
    res = assert_complete(run_trial_cli(args, tmp_path / "run"), epochs=1)
    names = [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()]
    assert any(re.fullmatch(r"epoch0-val\d+\.\d{4}\.ckpt", n) for n in names), names
    assert res["checkpoint"]["best"].endswith(".ckpt")


def test_missing_data_directory_is_one_clear_line(tmp_path):
    run = run_trial_cli(["data=mmfit", f"env.data_dir={tmp_path / 'nowhere'}"], tmp_path / "run")
    assert run.proc.returncode == 2
    err = run.proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), run.proc.stderr
    assert str(tmp_path / "nowhere") in err[0] and "data=mmfit_synth" in err[0]
    assert "Traceback" not in run.proc.stderr
    res = run.results
    assert res["status"] == "failed" and "nowhere" in res["error"]


@pytest.mark.slow
def test_scenario2_learns_on_the_twin(tmp_path):
    """The acceptance figure: default scenario2 on the twin, a few CPU minutes, test macro-F1 >= 0.8."""
    run = run_trial_cli(["scenario=scenario2", "trainer.epochs=3"], tmp_path / "run")
    res = assert_complete(run, epochs=3)
    assert res["final_metrics"]["test_f1"] >= 0.8
    assert res["final_metrics"]["test_pearson_x"] > 0.5  # the regressor learned the signal too

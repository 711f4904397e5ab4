"""A real trial on the twin's debug split: plots, TensorBoard, W&B offline, W&B missing, HPO grouping."""

from __future__ import annotations

import os
import re
import textwrap

import matplotlib.image
import pytest
from lightning.pytorch.loggers import CSVLogger

from har.reporting.trial_plots import PLOT_FILES
from har.training.trainer import build_loggers
from har.training.trial import run_trial
from tests.conftest import compose_config, run_trial_cli
from tests.hpo.conftest import (
    fake_project,  # noqa: F401  (fixture)
    run_hpo,
)

TINY = [
    "data=mmfit_debug",
    "scenario=debug",
    "trainer.epochs=2",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.progress_bar=false",
]
SETTINGS = {"alpha", "beta", "lr", "weight_decay", "epochs", "dataset"}


@pytest.mark.slow
def test_trial_writes_plots_and_tensorboard_logs(tmp_path, twin_overrides):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = compose_config(
        [*twin_overrides, *TINY, "trainer.plots=true", "trainer.logger=tensorboard"]
    )

    payload = run_trial(cfg, tmp_path / "run")
    assert payload["status"] == "completed"

    plots = tmp_path / "run" / "plots"
    assert sorted(p.name for p in plots.iterdir()) == sorted(PLOT_FILES.values())
    assert payload["plots"] == {k: str(plots / name) for k, name in PLOT_FILES.items()}
    for name in PLOT_FILES.values():
        assert (plots / name).read_bytes()[:4] == b"\x89PNG"
    height, width = matplotlib.image.imread(plots / "confusion_matrix.png").shape[:2]
    assert width >= 800 and height >= 700  # 11 named classes stay legible

    events = sorted((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    scalars = {}
    for path in events:
        accumulator = EventAccumulator(str(path))
        accumulator.Reload()
        scalars |= {tag: accumulator.Scalars(tag) for tag in accumulator.Tags()["scalars"]}
    for tag in ("train_loss_epoch", "val_loss", "val_f1", "best_val_f1", "lr", "test_f1"):
        assert tag in scalars, tag
    assert [e.value for e in scalars["val_f1"]] == pytest.approx(payload["history"]["val_f1"])
    assert scalars["best_val_f1"][-1].value == pytest.approx(
        payload["final_metrics"]["best_val_f1"]
    )
    assert scalars["test_f1"][-1].value == pytest.approx(payload["final_metrics"]["test_f1"])
    assert (tmp_path / "run" / "csv" / "metrics.csv").exists()  # the CSV log stays on


def test_every_logger_gets_the_headline_settings(tmp_path):
    cfg = compose_config([*TINY, "trainer.logger=tensorboard", "optim.lr=0.003"])
    loggers = build_loggers(cfg, tmp_path)
    for logger in loggers:
        logger.save()
    hparams = (tmp_path / "csv" / "hparams.yaml").read_text()
    assert "lr: 0.003" in hparams
    assert {line.split(":")[0] for line in hparams.splitlines()} >= SETTINGS
    assert [type(lg).__name__ for lg in loggers] == ["ContinuedCSVLogger", "TensorBoardLogger"]
    assert isinstance(loggers[0], CSVLogger)


@pytest.mark.slow
def test_wandb_offline_run_holds_the_logged_metrics(tmp_path):
    from tests.reporting.wandb_records import read_offline_run

    env = {
        "WANDB_MODE": "offline",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
    }
    run = run_trial_cli(
        [*TINY, "trainer.logger=wandb", "trainer.wandb.group=g1", "trainer.wandb.tags=[a,b]"],
        tmp_path / "run",
        env=env,
    )
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    results = run.results
    files = list((tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    wb = read_offline_run(files[0])

    # Unnamed runs are named after the run dir's last two parts.
    assert (wb.group, wb.name, wb.tags) == ("g1", f"{tmp_path.name}/run", ["a", "b"])
    assert set(wb.config) >= SETTINGS and wb.config["lr"] == results["config"]["optim"]["lr"]
    assert wb.config["dataset"] == results["config"]["data"]["dataset_name"]
    history = results["history"]
    assert wb.series("val_f1") == pytest.approx(history["val_f1"])
    assert wb.series("val_loss") == pytest.approx(history["val_loss"])
    assert wb.series("train_loss_epoch") == pytest.approx(history["train_loss"])
    assert wb.series("best_val_f1") == pytest.approx(
        [max(history["val_f1"][: i + 1]) for i in range(2)]
    )
    assert wb.series("lr") == pytest.approx(history["lr"])
    for key, value in results["final_metrics"].items():
        assert wb.summary[key] == pytest.approx(value), key
    assert wb.summary["status"] == "completed" and wb.exit_code == 0


def test_a_resumed_run_continues_its_wandb_run(tmp_path):
    def wandb_run_id(*overrides: str) -> str:
        cfg = compose_config(["trainer.logger=wandb", "trainer.wandb.mode=offline", *overrides])
        (logger,) = [
            lg for lg in build_loggers(cfg, tmp_path) if type(lg).__name__ == "WandbLogger"
        ]
        assert logger._wandb_init["resume"] == "allow"
        return logger._wandb_init["id"]

    first = wandb_run_id()
    assert wandb_run_id("resume=true") == first  # a resume (or a SLURM requeue) continues it
    assert wandb_run_id() != first  # a fresh start in the same dir is a new W&B run


@pytest.mark.slow
def test_without_wandb_the_trial_completes_with_one_warning(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        textwrap.dedent(
            """\
            import sys
            sys.modules["wandb"] = None  # `import wandb` now raises ModuleNotFoundError
            """
        )
    )
    pythonpath = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH")) if p)
    run = run_trial_cli(
        [*TINY, "trainer.wandb.enabled=true"], tmp_path / "run", env={"PYTHONPATH": pythonpath}
    )
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    assert run.results["status"] == "completed"
    output = (run.proc.stdout + run.proc.stderr).replace(str(tmp_path), "<tmp>")
    warnings = [line for line in output.splitlines() if "wandb" in line.lower() or "W&B" in line]
    assert len(warnings) == 1 and "continuing without W&B" in warnings[0], warnings
    assert not (tmp_path / "run" / "wandb").exists()
    assert not (tmp_path / "run" / "plots").exists()  # scenario=debug sets trainer.plots=false
    # Console: the run dir first and last, one summary line per epoch.
    lines = [line for line in output.splitlines() if "[har]" in line]
    assert lines[0].endswith("run dir: <tmp>/run") and "<tmp>/run/results.json" in lines[-1]
    epochs = [line for line in lines if re.search(r"- epoch +\d+ \|", line)]
    assert len(epochs) == 2
    assert re.search(
        r"train_loss [\d.]+ \| val_loss [\d.]+ \| val_f1 [\d.]+ .*best val_f1 [\d.]+ \| [\d.]+s$",
        epochs[-1],
    )


def test_hpo_groups_trials_by_study_and_forwards_wandb_settings(fake_project):  # noqa: F811
    args = ["--n-trials", "1", "--space-config", "space.yaml", "--no-plots"]
    assert run_hpo(fake_project, *args, "--study-name", "s1", "--output-root", "o1",
                   "+trainer.wandb.enabled=true", "+trainer.wandb.mode=offline").returncode == 0  # fmt: skip
    log = (fake_project / "o1" / "trials" / "trial_0" / "trial.log").read_text()
    # The fake project's config has no trainer.wandb, hence `+`; the orchestrator sees the key.
    for token in ("+trainer.wandb.enabled=true", "+trainer.wandb.mode=offline",
                  "trainer.wandb.group=s1", "trainer.wandb.name=s1/trial_0"):  # fmt: skip
        assert token in log.split(), token

    assert run_hpo(fake_project, *args, "--study-name", "s2", "--output-root", "o2",
                   "+trainer.wandb.group=mine").returncode == 0  # fmt: skip
    log = (fake_project / "o2" / "trials" / "trial_0" / "trial.log").read_text().split()
    assert "+trainer.wandb.group=mine" in log and "trainer.wandb.group=s2" not in log
    assert "trainer.wandb.name=s2/trial_0" in log

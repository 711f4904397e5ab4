"""run_eval: the multi-seed protocol (seeds, validation-only selection, resume) and its summary."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from har.launch import evaluate
from har.launch.evaluate import main
from har.launch.trial_process import ProcessResult
from tests.conftest import REPO

DEBUG = ["data=mmfit_debug", "scenario=debug"]
CHILD_DEFAULTS = ["trainer.progress_bar=false"]


def group_for(name: str) -> list[str]:
    return [f"trainer.wandb.group=eval-{name}"]


def prepare_seed(root: Path, seed: int, overrides: list[str], status: str = "completed", **metrics):
    run_dir = root / f"seed_{seed}"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([*overrides, f"seed={seed}"]))
    payload = {"status": status, "final_metrics": metrics, "checkpoint": {"tested": "best"}}
    (run_dir / "results.json").write_text(json.dumps(payload))
    return run_dir


@pytest.fixture
def launches(monkeypatch):
    """Replace the trial process: record each command, write a completed results.json."""
    commands: list[list[str]] = []

    def fake_run(command, run_dir, **_):
        commands.append(list(command))
        seed = int(next(t for t in command if t.startswith("seed=")).split("=")[1])
        metrics = {"test_f1": 0.1 * seed, "best_val_f1": 0.5}
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "results.json").write_text(
            json.dumps({"status": "completed", "final_metrics": metrics})
        )
        return ProcessResult(exit_code=0, wall_s=0.0)

    monkeypatch.setattr(evaluate, "run_trial_process", fake_run)
    return commands


def test_finished_seeds_are_skipped_and_the_summary_mean_is_the_mean_of_the_seeds(
    tmp_path, launches
):
    overrides = [*DEBUG, *CHILD_DEFAULTS, *group_for("e")]
    root = tmp_path / "e"
    prepare_seed(root, 1, overrides, test_f1=0.60, test_acc=0.7, test_mse=0.30)
    prepare_seed(root, 2, overrides, test_f1=0.80, test_acc=0.9, test_mse=0.20)
    code = main(["--name", "e", "--seeds", "1,2", "--output-root", str(tmp_path), *DEBUG])
    assert code == 0 and launches == []

    summary = json.loads((root / "eval_summary.json").read_text())
    per_seed = [summary["runs"][s]["final_metrics"]["test_f1"] for s in ("1", "2")]
    assert summary["summary"]["test_f1"]["mean"] == pytest.approx(statistics.fmean(per_seed))
    assert summary["summary"]["test_f1"]["std"] == pytest.approx(statistics.stdev(per_seed))
    assert summary["summary"]["test_mse"]["mean"] == pytest.approx(0.25)
    assert summary["seeds"] == [1, 2] and summary["completed_seeds"] == [1, 2]
    assert summary["protocol"]["checkpoint_monitor"] == "val_f1"
    assert summary["overrides"] == overrides
    rows = list(csv.DictReader((root / "eval_table.csv").open()))
    assert float(rows[0]["test_f1_mean"]) == pytest.approx(0.70)
    assert "| e | 2 | 0.700 ± 0.141 |" in (root / "eval_table.md").read_text()
    assert r"e & 2 & 0.700 $\pm$ 0.141" in (root / "eval_table.tex").read_text()


def test_an_interrupted_seed_resumes_from_its_last_checkpoint(tmp_path, launches):
    overrides = [*DEBUG, *CHILD_DEFAULTS, *group_for("e")]
    run_dir = prepare_seed(tmp_path / "e", 3, overrides, status="failed")
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert main(["--name", "e", "--seeds", "3,4", "--output-root", str(tmp_path), *DEBUG]) == 0
    assert len(launches) == 2
    assert "resume=true" in launches[0] and "seed=3" in launches[0]
    assert "resume=true" not in launches[1] and "seed=4" in launches[1]
    assert f"hydra.run.dir={tmp_path / 'e' / 'seed_4'}" in launches[1]


def test_best_json_supplies_the_configuration_and_its_search_seed_is_refused(tmp_path, launches):
    best = tmp_path / "best.json"
    best.write_text(json.dumps({
        "study_name": "st", "seed": 0, "best_trial_number": 4,
        "forwarded_overrides": ["data=mmfit_debug", "trainer.epochs=3"],
        "override_list": ["scenario=debug", "optim.lr=0.01"],
    }))  # fmt: skip
    args = ["--best", str(best), "--output-root", str(tmp_path)]
    assert main([*args, "--seeds", "0,1"]) == 2  # 0 is the search seed
    assert launches == []
    assert main([*args, "--seeds", "1", "optim.lr=0.02"]) == 0  # the command line wins
    summary = json.loads((tmp_path / "st" / "eval_summary.json").read_text())
    assert summary["overrides"] == [
        "data=mmfit_debug", "trainer.epochs=3", "scenario=debug", "optim.lr=0.02",
        *CHILD_DEFAULTS, *group_for("st"),
    ]  # fmt: skip
    assert summary["search_seed"] == 0 and summary["source"]["best_trial_number"] == 4


@pytest.mark.parametrize(
    "bad",
    [
        ["trainer.checkpoint.monitor=test_f1"],
        ["trainer.early_stopping.monitor=test_loss"],
        ["trainer.checkpoint.enabled=false"],
        ["seed=3"],
        ["hydra.run.dir=/tmp/x"],
        ["optim.lrr=0.1"],
        ["--seeds", "1,1"],
        ["--seeds", "a"],
    ],
)
def test_choices_that_would_break_the_protocol_are_refused(bad, tmp_path, launches, capsys):
    assert main(["--name", "e", "--output-root", str(tmp_path), *DEBUG, *bad]) == 2
    assert launches == [] and "run_eval: error:" in capsys.readouterr().err


def test_a_seed_dir_trained_with_other_overrides_is_refused(tmp_path, launches, capsys):
    prepare_seed(tmp_path / "e", 1, ["scenario=debug", "optim.lr=0.5"], test_f1=0.5)
    assert main(["--name", "e", "--seeds", "1", "--output-root", str(tmp_path), *DEBUG]) == 2
    assert "optim.lr=0.5" in capsys.readouterr().err and launches == []


@pytest.mark.slow
def test_two_real_seeds_then_a_resume_that_trains_nothing(tmp_path, twin_overrides):
    command = [
        sys.executable, "-m", "experiments.run_eval", "--name", "tiny", "--seeds", "1,2",
        "--output-root", str(tmp_path), *twin_overrides, *DEBUG, "trainer.epochs=1",
        "trainer.limit_train_batches=5", "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
    ]  # fmt: skip
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    root = tmp_path / "tiny"
    summary = json.loads((root / "eval_summary.json").read_text())
    for seed in (1, 2):
        results = json.loads((root / f"seed_{seed}" / "results.json").read_text())
        assert results["config"]["seed"] == seed and results["checkpoint"]["tested"] == "best"
        assert summary["runs"][str(seed)]["final_metrics"] == results["final_metrics"]
    for key in (
        "test_f1",
        "test_acc",
        "test_kappa",
        "test_f1_class0",
        "test_mse",
        "test_pearson_x",
    ):
        values = [summary["runs"][s]["final_metrics"][key] for s in ("1", "2")]
        assert summary["summary"][key]["mean"] == pytest.approx(statistics.fmean(values)), key
        assert summary["summary"][key]["n"] == 2
    assert all((root / f"eval_table.{ext}").is_file() for ext in ("md", "csv", "tex"))
    assert "squats" in (root / "eval_table.md").read_text()  # per-class rows are named

    written = (root / "seed_1" / "results.json").stat().st_mtime_ns
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("already completed, skipped") == 2
    assert (root / "seed_1" / "results.json").stat().st_mtime_ns == written

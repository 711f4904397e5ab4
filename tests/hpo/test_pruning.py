"""OptunaPruning: per-epoch reports from a trial process to its study, and the prune decision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch

from har.hpo.pruner_choice import PRUNER_ATTR, PrunerSettings, build_pruner
from har.hpo.pruning_callback import OptunaPruning
from har.hpo.storage import open_storage


class FakeTrainer(SimpleNamespace):
    """The few Trainer attributes the callback reads."""

    def __init__(self, **values) -> None:
        defaults = {
            "sanity_checking": False,
            "is_global_zero": True,
            "should_stop": False,
            "current_epoch": 0,
            "callback_metrics": {},
            "strategy": SimpleNamespace(broadcast=lambda obj, src=0: obj),
        }
        super().__init__(**{**defaults, **values})


def make_study(tmp_path: Path, settings: PrunerSettings) -> tuple[str, optuna.Study]:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(
        study_name="s",
        storage=open_storage(storage, heartbeat=False),
        direction="maximize",
        pruner=build_pruner(settings),
    )
    study.set_user_attr(PRUNER_ATTR, settings.to_attr())
    return storage, study


def run_epochs(callback: OptunaPruning, values: list[float]) -> FakeTrainer:
    trainer = FakeTrainer()
    for epoch, value in enumerate(values):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {"val_f1": torch.tensor(value)}
        callback.on_validation_end(trainer, None)
        if trainer.should_stop:
            break
    return trainer


def test_reports_each_epoch_to_its_own_trial(tmp_path: Path) -> None:
    storage, study = make_study(tmp_path, PrunerSettings(name="none"))
    study.ask()
    trial = study.ask()
    callback = OptunaPruning(storage, "s", trial.number, pruner="none")
    sanity = FakeTrainer(sanity_checking=True, callback_metrics={"val_f1": torch.tensor(0.0)})
    callback.on_validation_end(sanity, None)  # sanity check: not an epoch
    run_epochs(callback, [0.2, 0.4, 0.5])
    assert study.get_trials()[1].intermediate_values == pytest.approx({0: 0.2, 1: 0.4, 2: 0.5})
    assert study.get_trials()[0].intermediate_values == {}
    assert not callback.pruned


def test_median_pruner_stops_a_hopeless_trial(tmp_path: Path) -> None:
    settings = PrunerSettings(name="median", startup_trials=2, warmup_epochs=1)
    storage, study = make_study(tmp_path, settings)
    for _ in range(2):
        good = study.ask()
        for epoch, value in enumerate([0.5, 0.7, 0.8, 0.85]):
            good.report(value, epoch)
        study.tell(good, 0.85)
    hopeless = study.ask()
    callback = OptunaPruning(storage, "s", hopeless.number, pruner="median")
    trainer = run_epochs(callback, [0.1, 0.1, 0.1, 0.1])
    assert callback.pruned and trainer.should_stop
    assert callback.pruned_at_epoch == 1  # epoch 0 is the warm-up
    assert study.get_trials()[-1].intermediate_values == pytest.approx({0: 0.1, 1: 0.1})


def test_a_trial_closed_by_the_orchestrator_stops_without_being_pruned(tmp_path: Path) -> None:
    storage, study = make_study(tmp_path, PrunerSettings(name="median"))
    trial = study.ask()
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    callback = OptunaPruning(storage, "s", trial.number)
    trainer = run_epochs(callback, [0.5])
    assert trainer.should_stop and not callback.pruned


def test_a_missing_metric_warns_and_never_prunes(tmp_path: Path, caplog) -> None:
    storage, study = make_study(tmp_path, PrunerSettings(name="median", startup_trials=0))
    trial = study.ask()
    callback = OptunaPruning(storage, "s", trial.number, monitor="val_acc")
    trainer = run_epochs(callback, [0.1, 0.1])
    assert not trainer.should_stop and "val_acc" in caplog.text


def test_non_zero_ranks_follow_rank_zeros_decision(tmp_path: Path) -> None:
    callback = OptunaPruning("sqlite:////nonexistent/x.db", "s", 0)
    trainer = FakeTrainer(
        is_global_zero=False,
        callback_metrics={"val_f1": torch.tensor(0.0)},
        strategy=SimpleNamespace(broadcast=lambda obj, src=0: "prune"),
    )
    callback.on_validation_end(trainer, None)  # never touches the storage on rank > 0
    assert callback.pruned and trainer.should_stop


def test_importing_the_callback_does_not_import_optuna() -> None:
    code = "import sys, har.hpo.pruning_callback; assert 'optuna' not in sys.modules, 'optuna imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", ["none", "median", "hyperband"])
def test_every_pruner_name_builds(name: str) -> None:
    assert build_pruner(PrunerSettings(name=name)) is not None

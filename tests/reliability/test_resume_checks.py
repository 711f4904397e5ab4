"""What makes a resume faithful and safe, checked piece by piece (the whole story, with a real
SIGKILL, is test_kill_and_resume.py): RNG states, the shuffling generator, weights-only loading,
and refusing a checkpoint of another configuration."""

from __future__ import annotations

import logging
import random
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn

from har.data.sources.mmfit.source import MMFitDataModule
from har.training.resume import (
    ResumePoint,
    RNGStateCheckpoint,
    RunSettingsRecord,
    capture_rng_states,
    find_resume_point,
    load_checkpoint,
    restore_rng_states,
    run_settings,
)
from tests.bad_inputs.entrypoint import assert_user_error, user_error_of
from tests.conftest import compose_config, run_trial_cli
from tests.data.mmfit_writer import tiny_datamodule_kwargs, write_tiny_dataset


def draws() -> tuple:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def weights_only_round_trip(content, tmp_path):
    torch.save(content, tmp_path / "state.pt")
    return torch.load(tmp_path / "state.pt", weights_only=True)


def test_rng_states_load_weights_only_and_replay_the_same_draws(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    draws()  # move away from the seeded states
    saved = weights_only_round_trip(capture_rng_states(), tmp_path)
    first = draws()
    assert draws() != first  # the streams moved on
    restore_rng_states(saved)
    assert draws() == first


@pytest.mark.parametrize(
    ("stage", "restored"), [(TrainerFn.FITTING, True), (TrainerFn.TESTING, False)]
)
def test_callback_restores_the_streams_only_when_training_resumes(stage, restored):
    callback = RNGStateCheckpoint()
    callback.setup(SimpleNamespace(state=SimpleNamespace(fn=stage)), None, "fit")
    saved = callback.state_dict()
    first = draws()
    callback.load_state_dict(saved)  # what Lightning does when it loads a checkpoint
    assert (draws() == first) is restored


def test_shuffling_continues_from_the_checkpointed_generator(tmp_path):
    write_tiny_dataset(tmp_path / "raw")

    def module() -> MMFitDataModule:
        dm = MMFitDataModule(**tiny_datamodule_kwargs(tmp_path / "raw", tmp_path / "cache"))
        dm.setup()
        torch.manual_seed(0)  # seed_everything: the generator is seeded from torch's seed
        return dm

    def epoch(loader) -> torch.Tensor:
        return torch.cat([batch["acc"][:, 0, 0] for batch in loader])

    original = module()
    loader = original.train_dataloader()
    first = epoch(loader)
    saved = weights_only_round_trip(original.state_dict(), tmp_path)
    second = epoch(loader)
    assert not torch.equal(first, second)

    resumed = module()
    resumed.load_state_dict(saved)  # Lightning hands it back before building the loaders
    assert torch.equal(epoch(resumed.train_dataloader()), second)
    assert torch.equal(epoch(module().train_dataloader()), first)  # a fresh run is unchanged


def write_checkpoint(path, settings=None, state_dict=None, **extra) -> None:
    content = {"state_dict": state_dict or {}, "epoch": 0, **extra}
    if settings is not None:
        content["callbacks"] = {RunSettingsRecord.__qualname__: {"settings": settings}}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(content, path)


def test_checkpoint_from_another_configuration_names_the_mismatched_keys(tmp_path):
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    write_checkpoint(last, run_settings(compose_config(["scenario=debug"])))

    same = compose_config(["scenario=debug", "resume=true", "data.cache_dir=/elsewhere"])
    assert find_resume_point(same, tmp_path / "run").path == last  # paths may differ

    other = compose_config(
        ["scenario=debug", "resume=true", "model.feature_extractor.n_filters=4", "optim.lr=0.01"]
    )
    line = assert_user_error(
        user_error_of(lambda: find_resume_point(other, tmp_path / "run")),
        str(last),
        "model.feature_extractor.n_filters (checkpoint 8, now 4)",
        "optim.lr (checkpoint 0.003, now 0.01)",
        "start a new run dir",
    )
    assert "cache_dir" not in line


def test_weights_that_do_not_fit_the_model_name_the_parameters(tmp_path):
    saved = {"weight": torch.zeros(2, 4), "bias": torch.zeros(2), "extra.bias": torch.zeros(1)}
    point = ResumePoint.from_checkpoint(tmp_path / "last.ckpt", {"state_dict": saved})
    assert_user_error(
        user_error_of(lambda: point.check_weights_fit(nn.Linear(3, 2))),
        "weight (checkpoint (2, 4), model (2, 3))",
        "extra.bias (checkpoint (1,), model <absent>)",
    )
    fitting = ResumePoint.from_checkpoint(
        tmp_path / "last.ckpt", {"state_dict": nn.Linear(3, 2).state_dict()}
    )
    fitting.check_weights_fit(nn.Linear(3, 2))  # same shapes: no error


@pytest.mark.parametrize(
    ("write", "words"),
    [
        (lambda p: p.write_bytes(b"PK\x03\x04 cut short"), ["is unreadable", "delete it"]),
        (
            lambda p: torch.save({"state_dict": {}, "x": Fraction(1, 3)}, p),
            ["weights-only", "refuses"],
        ),
        (lambda p: torch.save([1, 2], p), ["not a Lightning checkpoint"]),
    ],
    ids=["truncated", "pickled-object", "not-a-checkpoint"],
)
def test_damaged_or_foreign_checkpoint_is_refused(tmp_path, write, words):
    path = tmp_path / "last.ckpt"
    write(path)
    line = assert_user_error(user_error_of(lambda: load_checkpoint(path)), *words)
    assert str(path) in line


def test_resume_without_a_checkpoint_starts_from_scratch(tmp_path, caplog):
    cfg = compose_config(["resume=true"])
    with caplog.at_level(logging.WARNING, logger="har"):
        assert find_resume_point(cfg, tmp_path) is None
    assert "starting from scratch" in caplog.text
    write_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert find_resume_point(compose_config([]), tmp_path) is None  # resume=false ignores it


def test_last_checkpoint_follows_every_epoch_even_on_a_plateau(tmp_path):
    # lr 1e-9 learns nothing: val_f1 never improves after epoch 0, so the best checkpoint stays
    # epoch 0's. Lightning's own save_last would leave last.ckpt there too, and a resume would
    # redo every epoch since. BatchNorm's running statistics still move at lr 1e-9; the plain F
    # without augmentation keeps its (constant) predictions through them, the residual one not.
    run = run_trial_cli(
        ["data=mmfit_debug", "scenario=debug", "trainer.epochs=3", "optim.lr=1e-9",
         "trainer.limit_train_batches=2", "trainer.limit_val_batches=2",
         "trainer.limit_test_batches=1", "trainer.early_stopping.enabled=false",
         "model.feature_extractor.residual=false", "scenario.augment.real=false"],
        tmp_path / "run",
    )  # fmt: skip
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    history = run.results["history"]["val_f1"]
    assert max(history[1:]) <= history[0], f"no plateau, the test needs a new setting: {history}"
    checkpoints = run.run_dir / "checkpoints"
    assert [p.name for p in checkpoints.glob("epoch*.ckpt")] == [
        f"epoch0-f1{run.results['history']['val_f1'][0]:.4f}.ckpt"
    ]
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] == 2

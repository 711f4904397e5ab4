"""Every trainer knob reaches the Lightning Trainer it builds."""

from __future__ import annotations

import pytest
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from har.errors import ConfigError
from har.training.trainer import LastCheckpoint, build_trainer
from tests.conftest import compose_config


def build(tmp_path, *overrides):
    cfg = compose_config(["trainer.progress_bar=false", *overrides])
    return build_trainer(cfg, tmp_path, [])


def only(trainer, kind):
    found = [c for c in trainer.callbacks if isinstance(c, kind)]
    return found[0] if found else None


def test_loop_knobs(tmp_path):
    t = build(tmp_path, "trainer.epochs=7", "trainer.limit_train_batches=0.1",
              "trainer.limit_val_batches=3", "trainer.limit_test_batches=0.5",
              "trainer.gradient_clip_val=1.5", "trainer.log_every_n_steps=3")  # fmt: skip
    assert t.max_epochs == 7
    assert (t.limit_train_batches, t.limit_val_batches, t.limit_test_batches) == (0.1, 3, 0.5)
    assert t.gradient_clip_val == 1.5 and t.log_every_n_steps == 3


def test_early_stopping_knobs(tmp_path):
    es = only(build(tmp_path, "trainer.early_stopping.monitor=val_loss",
                    "trainer.early_stopping.mode=min", "trainer.early_stopping.patience=3"), EarlyStopping)  # fmt: skip
    assert (es.monitor, es.mode, es.patience) == ("val_loss", "min", 3)
    assert only(build(tmp_path, "trainer.early_stopping.enabled=false"), EarlyStopping) is None


def test_checkpoint_knobs(tmp_path):
    ck = only(build(tmp_path, "trainer.checkpoint.monitor=val_loss", "trainer.checkpoint.mode=min",
                    "trainer.checkpoint.save_top_k=2", "trainer.checkpoint.dirpath=ckpts",
                    "trainer.checkpoint.filename='f{epoch}'"), ModelCheckpoint)  # fmt: skip
    assert (ck.monitor, ck.mode, ck.save_top_k, ck.filename) == ("val_loss", "min", 2, "f{epoch}")
    assert ck.dirpath == str(tmp_path / "ckpts")
    trainer = build(tmp_path, "trainer.checkpoint.dirpath=ckpts")
    assert trainer.checkpoint_callback is only(trainer, ModelCheckpoint)  # the test split's
    last = only(trainer, LastCheckpoint)
    assert (last.dirpath, last.filename, last.monitor) == (str(tmp_path / "ckpts"), "last", None)
    for off in ("trainer.checkpoint.enabled=false", "trainer.enable_checkpointing=false"):
        assert only(build(tmp_path, off), ModelCheckpoint) is None  # neither best nor last


def test_device_precision_and_determinism(tmp_path):
    t = build(tmp_path, "device=cpu", "trainer.precision=bf16-mixed", "trainer.deterministic=false")
    assert type(t.accelerator).__name__ == "CPUAccelerator"
    assert t.precision == "bf16-mixed"
    assert build(tmp_path).precision == "32-true"
    with pytest.raises(ConfigError, match="device"):
        build(tmp_path, "device=tpu9")


def test_csv_logger_always_on(tmp_path):
    names = [type(lg).__name__ for lg in build(tmp_path).loggers]
    assert names[0] == "ContinuedCSVLogger"  # Lightning's CSVLogger, continued on resume


@pytest.mark.parametrize(("name", "kind"), [("adamw", "AdamW"), ("adam", "Adam"), ("sgd", "SGD")])
def test_optim_name_builds_that_optimiser(name, kind):
    from tests.training.scenario_helpers import make_module

    module = make_module("scenario2", f"optim.name={name}")
    optimizer = module.configure_optimizers()
    assert type(optimizer).__name__ == kind
    assert optimizer.param_groups[0]["lr"] == module.hparams.optim["lr"]


def test_an_unknown_optimiser_is_a_config_error():
    from har.errors import ConfigError
    from tests.training.scenario_helpers import make_module

    with pytest.raises(ConfigError, match=r"optim\.name"):
        make_module("scenario2", "optim.name=lbfgs").configure_optimizers()

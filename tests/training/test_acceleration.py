"""trainer.threads, trainer.compile and trainer.data_on_device (har.training.acceleration)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import ClassVar

import lightning.pytorch as pl
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from har.data.sources.mmfit.format import CLASS_NAMES
from har.errors import ConfigError
from har.training import acceleration
from har.training.acceleration import (
    DataOnDevice,
    apply_threads,
    compile_networks,
    configure_torch,
)
from har.training.trainer import build_trainer
from har.training.trial import build_module, run_trial
from tests.conftest import compose_config

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("training.test_acceleration")

TINY_RUN = [
    "data=mmfit_debug", "scenario=debug", "trainer.epochs=1", "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "trainer.plots=false",
    "trainer.progress_bar=false",
]  # fmt: skip


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads(), torch.utils.deterministic.fill_uninitialized_memory
    yield
    torch.set_num_threads(before[0])
    torch.utils.deterministic.fill_uninitialized_memory = before[1]


def test_configure_torch_sets_threads_and_skips_the_nan_fill(restore_threads):
    torch.utils.deterministic.fill_uninitialized_memory = True
    configure_torch(1)
    assert torch.get_num_threads() == 1
    assert torch.utils.deterministic.fill_uninitialized_memory is False


def test_threads_knob_sets_torch_threads(restore_threads):
    apply_threads(1)
    assert torch.get_num_threads() == 1
    apply_threads(None)  # null: left as it is
    assert torch.get_num_threads() == 1
    for bad in (0, -2, 1.5, "two", True):
        with pytest.raises(ConfigError, match=r"trainer\.threads"):
            apply_threads(bad)


def test_compile_picks_the_networks_and_leaves_the_critic_and_metrics_eager(monkeypatch):
    compiled = []
    monkeypatch.setattr(nn.Module, "compile", lambda self, *a, **k: compiled.append(self))
    cfg = compose_config(["scenario=debug", "scenario.adversary.kind=signal"])
    module = build_module(cfg, list(CLASS_NAMES))
    names = compile_networks(module)
    assert names == ["feature_extractor", "classifier", "regressor"]
    assert compiled == [module.feature_extractor, module.classifier, module.regressor]
    assert module.adversary is not None  # built, but its gradient penalty needs double backward


def test_data_on_device_flag_reaches_the_trainer(tmp_path):
    def flag(*overrides):
        trainer = build_trainer(
            compose_config(["trainer.progress_bar=false", *overrides]), tmp_path, []
        )
        return next(c for c in trainer.callbacks if isinstance(c, DataOnDevice)).enabled

    assert flag() is True and flag("trainer.data_on_device=false") is False
    with pytest.raises(ConfigError, match="data_on_device"):
        flag("trainer.data_on_device=maybe")


@pytest.fixture(scope="module")
def debug_datamodule():
    from tests.conftest import TEST_CACHE_DIR, TEST_DATA_DIR

    cfg = compose_config(
        [f"env.data_dir={TEST_DATA_DIR}", f"env.cache_dir={TEST_CACHE_DIR}", "data=mmfit_debug"]
    )
    dm = instantiate(cfg.data, _recursive_=False)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _fake_trainer(datamodule, device: str):
    return SimpleNamespace(
        strategy=SimpleNamespace(root_device=torch.device(device)), datamodule=datamodule
    )


def test_windows_move_to_the_device_once_and_batches_are_gathered_there(
    debug_datamodule, monkeypatch
):
    # The "meta" device stands in for an accelerator: tensors there have shapes but no data, so a
    # batch that comes out on "meta" was gathered there, not on the host and copied over.
    dm = debug_datamodule
    host = {split: d.nbytes for split, d in dm.datasets.items()}
    sizes = []
    monkeypatch.setattr(
        acceleration, "free_memory_bytes", lambda device: sizes.append(device) or None
    )
    try:
        DataOnDevice(True).setup(_fake_trainer(dm, "meta"), None, "fit")
        assert {d.device.type for d in dm.datasets.values()} == {"meta"}
        assert {split: d.nbytes for split, d in dm.datasets.items()} == host
        loader = dm.train_dataloader()
        assert (loader.num_workers, loader.pin_memory) == (0, False)
        batch = next(iter(loader))
        assert {k: v.device.type for k, v in batch.items()} == dict.fromkeys(batch, "meta")
        assert batch["acc"].shape == (dm.batch_size, 3, dm.sensor_window_length)
        assert batch["pose"].shape == (dm.batch_size, 3, 3, dm.sensor_window_length)
        # A later stage (test) finds the windows there already: nothing is sized or moved again.
        DataOnDevice(True).setup(_fake_trainer(dm, "meta"), None, "test")
        assert len(sizes) == 1
    finally:
        dm.datasets.clear()  # rebuild on host for the other tests (setup is idempotent otherwise)
        dm.setup("fit")


def test_windows_stay_on_host_when_they_do_not_fit_or_when_off(debug_datamodule, monkeypatch):
    dm = debug_datamodule
    need = sum(d.nbytes for d in dm.datasets.values())
    monkeypatch.setattr(acceleration, "free_memory_bytes", lambda device: 2 * need - 1)
    DataOnDevice(True).setup(_fake_trainer(dm, "meta"), None, "fit")
    monkeypatch.setattr(acceleration, "free_memory_bytes", lambda device: None)
    DataOnDevice(False).setup(_fake_trainer(dm, "meta"), None, "fit")
    DataOnDevice(True).setup(_fake_trainer(dm, "cpu"), None, "fit")
    assert {d.device.type for d in dm.datasets.values()} == {"cpu"}
    assert dm.train_dataloader().pin_memory == torch.cuda.is_available()


@pytest.mark.slow
def test_compiled_trial_writes_eager_checkpoints_that_match(tmp_path, twin_overrides, monkeypatch):
    compiled = []
    eager_compile = nn.Module.compile

    def spy(self, *args, **kwargs):
        compiled.append(type(self).__name__)
        return eager_compile(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "compile", spy)
    cfg = compose_config([*twin_overrides, *TINY_RUN, "trainer.compile=true"])
    payload = run_trial(cfg, tmp_path)
    assert payload["status"] == "completed", payload["error"]
    assert sorted(compiled) == ["ActivityClassifier", "FeatureExtractor", "Regressor"]

    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    eager = build_module(cfg, list(CLASS_NAMES))
    eager.load_state_dict(state)  # strict: the keys of an uncompiled model, no "_orig_mod."
    again = build_module(cfg, list(CLASS_NAMES))
    again.load_state_dict(state)
    compile_networks(again)
    acc = torch.randn(8, 3, cfg.data.sensor_window_length)
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(acc), eager.eval()(acc), atol=1e-4, rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_batches_are_gathered_on_it(tmp_path, twin_overrides, debug_datamodule):
    class BatchDevices(pl.Callback):
        seen: ClassVar[list[tuple[str, ...]]] = []

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            datasets = trainer.datamodule.datasets.values()
            self.seen.append((*{d.device.type for d in datasets}, batch["acc"].device.type))

    cfg = compose_config(
        [*twin_overrides, *TINY_RUN, "device=cuda", "trainer.precision=bf16-mixed"]
    )
    trainer = build_trainer(cfg, tmp_path, [BatchDevices()])
    trainer.fit(build_module(cfg, list(CLASS_NAMES)), datamodule=debug_datamodule)
    assert BatchDevices.seen and set(BatchDevices.seen) == {("cuda", "cuda")}
    debug_datamodule.datasets.clear()  # back on the host for the other tests
    debug_datamodule.setup("fit")

from __future__ import annotations

import inspect
import logging
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch import seed_everything
from mmfit_writer import (
    STANDING_MM,
    TINY_SPLIT,
    tiny_datamodule_kwargs,
    write_tiny_dataset,
    write_workout,
)
from omegaconf import OmegaConf

from har.data.sources.mmfit import reader as mmfit
from har.data.sources.mmfit.format import CLASS_NAMES, PARTICIPANT_OF, WORKOUTS
from har.data.sources.mmfit.source import MMFitDataModule, resolve_splits
from har.data.window_dataset import WindowDataset
from har.data.windows import WindowIndex
from har.errors import ConfigError, DataError

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("data.test_datamodule")

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("mmfit") / "raw"
    write_tiny_dataset(root)
    return root


@pytest.fixture(scope="module")
def module(raw, tmp_path_factory):
    dm = MMFitDataModule(**tiny_datamodule_kwargs(raw, tmp_path_factory.mktemp("cache")))
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_constructor_takes_exactly_the_config_keys():
    keys = set(OmegaConf.load(CONF / "mmfit.yaml")) - {"_target_"}
    assert set(inspect.signature(MMFitDataModule).parameters) == keys


def test_hydra_instantiate_with_list_and_dict_configs(raw, tmp_path):
    cfg = OmegaConf.create(
        {
            "_target_": "har.data.sources.mmfit.source.MMFitDataModule",
            **tiny_datamodule_kwargs(str(raw), str(tmp_path / "c")),
        }
    )
    dm = instantiate(cfg)
    dm.setup()
    assert dm.joints == [14, 15, 16] and dm.workouts["train"] == ("w01", "w02")
    assert len(dm.train_dataloader()) > 0


def test_batch_contract_and_public_attributes(module):
    batch = next(iter(module.train_dataloader()))
    assert set(batch) == {"pose", "acc", "label"}
    assert batch["pose"].shape == (8, 3, 3, 32) and batch["pose"].dtype == torch.float32
    assert batch["acc"].shape == (8, 3, 32) and batch["acc"].dtype == torch.float32
    assert batch["label"].shape == (8,) and batch["label"].dtype == torch.int64
    assert module.num_classes == 11 and module.class_names == CLASS_NAMES
    assert module.num_joints == 3 and module.imu_channels == 3
    assert module.acc_stats.workouts == ("w01", "w02")
    assert set(module.window_counts) == {"train", "val", "test"}
    counts = module.window_counts["train"]
    assert len(counts) == 11 and sum(counts) == len(module.datasets["train"])
    assert counts[CLASS_NAMES.index("squats")] > 0 and counts[CLASS_NAMES.index("bicep_curls")] > 0
    assert [s.workout for s in module.sessions["train"]] == ["w01", "w02"]


def test_train_acc_is_standardised_with_train_statistics(module):
    acc = module.datasets["train"].acc.numpy()
    np.testing.assert_allclose(acc.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(acc.std(axis=0), 1.0, atol=1e-3)


def test_batch_matches_the_sessions_sample_by_sample(module):
    dataset, index = module.datasets["val"], module.windows["val"]
    session = module.sessions["val"][0]
    batch = dataset.__getitems__([3])
    start, T = int(index.start[3]), 32
    scale = 0.5  # torso of the writer's skeleton, metres
    expected = session.pose[start : start + T, [14, 15, 16]] - session.pose[start + T // 2, 0]
    np.testing.assert_allclose(
        batch["pose"][0].numpy(), (expected / scale).transpose(1, 2, 0), atol=1e-5
    )
    acc = module.acc_stats.apply(session.acc[start : start + T])
    np.testing.assert_allclose(batch["acc"][0].numpy(), acc.T, atol=1e-5)
    assert batch["label"][0] == session.labels[start + T // 2]


def _dataset_from_pose(pose: np.ndarray, window: int) -> WindowDataset:
    n = len(pose)
    index = WindowIndex(
        start=np.arange(0, n - window + 1, 4, dtype=np.int64), label=np.zeros((n - window) // 4 + 1, np.int64),
        session=np.zeros((n - window) // 4 + 1, np.int64), session_offsets=np.array([0, n]), window_length=window,
    )  # fmt: skip
    tensor = torch.from_numpy(pose.astype(np.float32))
    return WindowDataset(
        acc=torch.zeros(n, 3), pose=tensor[:, [14, 15, 16]], root=tensor[:, 0], index=index
    )


def test_whole_body_translation_stays_in_the_regressor_input():
    n, window = 200, 32
    still = np.broadcast_to(STANDING_MM / 1000.0, (n, 17, 3)).copy()
    squat = still.copy()
    squat[:, :, 1] -= np.linspace(0.0, 1.0, n)[:, None]  # every joint, root included, moves down
    shifted = still + np.array([5.0, 1.0, -2.0])  # a constant offset: removed by the centring
    batches = [
        _dataset_from_pose(p, window).__getitems__(list(range(10))) for p in (still, squat, shifted)
    ]
    moving = batches[1]["pose"]
    assert not torch.allclose(batches[0]["pose"], moving, atol=1e-3)
    # Within each window the input follows the ramp (not re-centred per frame)...
    drop = moving[:, :, 1, -1] - moving[:, :, 1, 0]
    torch.testing.assert_close(
        drop, torch.full_like(drop, -(window - 1) / (n - 1)), atol=1e-5, rtol=0
    )
    # ...around a reference that is fixed for the window: the root at the centre sample.
    torch.testing.assert_close(batches[2]["pose"], batches[0]["pose"], atol=1e-5, rtol=0)


def test_one_gather_per_batch(module, monkeypatch):
    calls = {"items": 0, "item": 0}
    real_items = WindowDataset.__getitems__

    def counting_items(self, indices):
        calls["items"] += 1
        return real_items(self, indices)

    def no_single(self, i):
        calls["item"] += 1
        raise AssertionError("per-window __getitem__ used in the batch path")

    monkeypatch.setattr(WindowDataset, "__getitems__", counting_items)
    monkeypatch.setattr(WindowDataset, "__getitem__", no_single)
    loader = module.val_dataloader()
    batches = list(loader)
    assert calls == {"items": len(batches), "item": 0}
    # And inside __getitems__, one tensor index per stream: the acc gather is called once.
    gathers = []
    acc = module.datasets["val"].acc

    class CountingTensor(torch.Tensor):
        def __getitem__(self, index):
            gathers.append(index.shape if isinstance(index, torch.Tensor) else index)
            return super().__getitem__(index)

    monkeypatch.setattr(module.datasets["val"], "acc", acc.as_subclass(CountingTensor))
    next(iter(loader))
    assert len(gathers) == 1 and tuple(gathers[0]) == (8, 32)


def test_shuffling_follows_seed_everything_and_eval_is_ordered(module):
    def first_labels_and_acc(seed):
        seed_everything(seed, verbose=False)
        return next(iter(module.train_dataloader()))["acc"]

    torch.testing.assert_close(first_labels_and_acc(1), first_labels_and_acc(1))
    assert not torch.equal(first_labels_and_acc(1), first_labels_and_acc(2))
    val = torch.cat([b["acc"] for b in module.val_dataloader()])
    expected = module.datasets["val"].__getitems__(list(range(len(module.datasets["val"]))))["acc"]
    torch.testing.assert_close(val, expected)


def test_setup_twice_does_no_work_again(raw, tmp_path, monkeypatch):
    dm = MMFitDataModule(**tiny_datamodule_kwargs(raw, tmp_path / "c"))
    dm.prepare_data()
    dm.setup("fit")
    datasets = dict(dm.datasets)
    monkeypatch.setattr(mmfit, "read_workout", lambda *a, **k: pytest.fail("read again"))
    monkeypatch.setattr(mmfit, "workout_files", lambda *a, **k: pytest.fail("looked again"))
    dm.setup("test")
    dm.setup("fit")
    assert dm.datasets == datasets


def test_workers_are_passed_through(raw, tmp_path):
    dm = MMFitDataModule(**tiny_datamodule_kwargs(raw, tmp_path / "c", num_workers=1))
    loader = dm.val_dataloader()
    assert loader.num_workers == 1 and loader.persistent_workers
    assert next(iter(loader))["pose"].shape == (8, 3, 3, 32)


def test_split_checks(raw, tmp_path, caplog):
    kwargs = tiny_datamodule_kwargs(raw, tmp_path / "c")
    with pytest.raises(DataError, match="w02 are in both train and test"):
        MMFitDataModule(**{**kwargs, "test_workouts": ["w09", "w02"]})
    with caplog.at_level(logging.WARNING, logger="har.data.datamodule"):
        MMFitDataModule(**kwargs)  # train w02 and test w09 are both participant 1
    assert any("train and test share participants [1]" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="har.data.datamodule"):
        dm = MMFitDataModule(
            **{
                **kwargs,
                "split": "official_unseen",
                "train_workouts": None,
                "val_workouts": None,
                "test_workouts": None,
            }
        )
    assert not any("share participants" in r.getMessage() for r in caplog.records)
    assert dm.workouts["test"] == ("w00", "w05", "w12", "w13", "w20")
    with pytest.raises(ConfigError, match=r"data.split"):
        MMFitDataModule(**{**kwargs, "split": "nope"})


def test_the_unseen_split_gives_every_part_its_own_people():
    workouts = resolve_splits("unseen", None, None, None)
    people = {part: {PARTICIPANT_OF[w] for w in ws} for part, ws in workouts.items()}
    assert people == {"train": {0, 1, 5, 6}, "val": {7, 8}, "test": {2, 3, 4, 9}}
    assert workouts["test"] == resolve_splits("official_unseen", None, None, None)["test"]
    assert sorted(w for ws in workouts.values() for w in ws) == list(WORKOUTS)  # nothing left out


@pytest.mark.parametrize(
    ("override", "key"),
    [({"joints": [14, 17]}, "data.joints"), ({"joints": []}, "data.joints"), ({"root_joint": -1}, "data.root_joint"),
     ({"sensor_window_length": 0}, "data.sensor_window_length"), ({"synthetic": {"seed": 1}}, "data.synthetic")],
    ids=["joint-out-of-range", "no-joints", "root-joint", "window-length", "twin-settings"],
)  # fmt: skip
def test_bad_config_values_name_their_key(raw, tmp_path, override, key):
    with pytest.raises(ConfigError, match=key):
        MMFitDataModule(**tiny_datamodule_kwargs(raw, tmp_path / "c", **override))


def test_workouts_without_the_sensor_are_skipped_with_one_warning(tmp_path, caplog):
    raw = tmp_path / "raw"
    write_tiny_dataset(raw)
    write_workout(raw, "w03", sensor="sw_r_acc")
    write_workout(raw, "w15", sensor="sw_r_acc")
    kwargs = tiny_datamodule_kwargs(
        raw, tmp_path / "c", train_workouts=["w01", "w03", "w02"], val_workouts=["w14", "w15"]
    )
    with caplog.at_level(logging.WARNING, logger="har.data.datamodule"):
        dm = MMFitDataModule(**kwargs)
        dm.setup()
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and "w03 (train)" in skipped[0] and "w15 (val)" in skipped[0]
    assert [s.workout for s in dm.sessions["train"]] == ["w01", "w02"]
    with pytest.raises(DataError, match="split 'val' has no usable workout"):
        MMFitDataModule(**{**kwargs, "val_workouts": ["w15"]}).setup()


def test_missing_root_and_too_long_window_are_data_errors(raw, tmp_path):
    with pytest.raises(DataError, match=r"nowhere.*data=mmfit_synth"):
        MMFitDataModule(**tiny_datamodule_kwargs(tmp_path / "nowhere", tmp_path / "c")).setup()
    with pytest.raises(DataError, match=r"data.sensor_window_length=1000"):
        MMFitDataModule(
            **tiny_datamodule_kwargs(raw, tmp_path / "c", sensor_window_length=1000)
        ).setup()


def test_twin_generator_is_called_before_reading(tmp_path, monkeypatch):
    calls = []

    def ensure_mmfit_twin(out_dir, workouts=21, minutes=4.0, seed=0, twin="easy"):
        calls.append((Path(out_dir), workouts, minutes, seed, twin))
        write_tiny_dataset(out_dir)
        return Path(out_dir)

    monkeypatch.setitem(
        sys.modules,
        "har.data.twin.mmfit",
        types.SimpleNamespace(ensure_mmfit_twin=ensure_mmfit_twin),
    )
    twin = OmegaConf.create({"minutes": 0.1, "seed": 3, "workouts": 21})
    dm = MMFitDataModule(
        **tiny_datamodule_kwargs(tmp_path / "twin", tmp_path / "c", synthetic=twin)
    )
    dm.setup()
    assert calls == [(tmp_path / "twin", 21, 0.1, 3, "easy")]  # no preset named: the easy one
    assert len(dm.datasets["train"]) > 0
    assert TINY_SPLIT["train_workouts"] == [s.workout for s in dm.sessions["train"]]


@pytest.mark.slow
def test_composed_config_on_the_real_synthetic_twin(twin_overrides):
    # The real generator (har.data.twin.mmfit) behind the real config: data=mmfit_debug end to end.
    pytest.importorskip("har.data.twin.mmfit")
    from tests.conftest import compose_config

    cfg = compose_config(["data=mmfit_debug", *twin_overrides])
    dm = instantiate(cfg.data, _recursive_=False)
    dm.prepare_data()
    dm.setup("fit")
    assert [s.workout for s in dm.sessions["train"]] == ["w01"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["pose"].shape == (cfg.data.batch_size, 3, 3, cfg.data.sensor_window_length)
    assert batch["acc"].shape == (cfg.data.batch_size, 3, cfg.data.sensor_window_length)
    assert all(s.valid.mean() > 0.95 for split in dm.sessions.values() for s in split)
    assert sum(c > 0 for c in dm.window_counts["train"]) >= 5  # several exercises present

"""The split-array cache: a warm start maps the finished arrays and computes nothing, and any change
of what they are computed from builds a new entry."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from mmfit_writer import tiny_datamodule_kwargs, write_tiny_dataset

from har.data import split_cache
from har.data.datamodule import SessionDataModule
from har.data.sources.mmfit.source import MMFitDataModule
from har.data.split_cache import SplitArrayCache, split_key

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("data.test_split_cache")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("mmfit") / "raw"
    write_tiny_dataset(root)
    return root


def built(raw, cache, **overrides) -> MMFitDataModule:
    dm = MMFitDataModule(**tiny_datamodule_kwargs(raw, cache, **overrides))
    dm.prepare_data()
    dm.setup("fit")
    return dm


@pytest.fixture
def count_builds(monkeypatch):
    calls = []
    real = SessionDataModule._split_arrays

    def counting(self, sessions, has_imu):
        calls.append(len(sessions))
        return real(self, sessions, has_imu)

    monkeypatch.setattr(SessionDataModule, "_split_arrays", counting)
    return calls


def streams(dm: MMFitDataModule) -> dict[str, torch.Tensor]:
    return {
        f"{split}.{k}": getattr(d, k)
        for split, d in dm.datasets.items()
        for k in ("pose", "root", "acc")
    }


def test_a_warm_start_reuses_the_arrays_unchanged(raw, tmp_path, count_builds):
    cold = built(raw, tmp_path)
    assert len(count_builds) == 3  # train, val, test
    warm = built(raw, tmp_path)
    assert len(count_builds) == 3  # nothing recomputed
    assert warm.body_scales == cold.body_scales
    for name, tensor in streams(cold).items():
        assert torch.equal(streams(warm)[name], tensor), name
    uncached = built(raw, None)
    assert len(count_builds) == 6
    for name, tensor in streams(uncached).items():
        assert torch.equal(streams(warm)[name], tensor), name
    # The mapped arrays are private copies: a write to a batch's source never reaches the file.
    warm.datasets["val"].pose[0] += 1.0
    assert torch.equal(streams(built(raw, tmp_path))["val.pose"], streams(cold)["val.pose"])


def test_what_the_arrays_depend_on_builds_new_entries(raw, tmp_path, count_builds):
    built(raw, tmp_path)
    built(raw, tmp_path, joints=[13, 14, 15])  # other joints: new arrays
    assert len(count_builds) == 6
    built(raw, tmp_path, stride_seconds=0.4, sensor_window_length=16)  # windows only: reused
    assert len(count_builds) == 6


def test_the_key_follows_params_and_the_code():
    def f():
        return 1

    def g():
        return 2

    base = split_key("train", {"joints": [1, 2], "stats": np.array([0.5])}, [f])
    assert base.startswith("train-")
    assert base == split_key("train", {"stats": np.array([0.5]), "joints": [1, 2]}, [f])
    assert base != split_key("train", {"joints": [1, 3], "stats": np.array([0.5])}, [f])
    assert base != split_key("train", {"joints": [1, 2], "stats": np.array([0.5])}, [g])


def test_a_damaged_entry_is_rebuilt(tmp_path, caplog):
    cache = SplitArrayCache(tmp_path)
    arrays = {"pose": np.arange(6, dtype=np.float32).reshape(2, 3), "acc": None}
    assert cache.get_or_build("k", lambda: arrays) is arrays
    loaded = cache.load("k")
    assert loaded["acc"] is None and np.array_equal(loaded["pose"], arrays["pose"])
    manifest = tmp_path / "k" / split_cache.MANIFEST
    content = json.loads(manifest.read_text())
    content["manifest"]["arrays"]["pose"]["shape"] = [3, 2]  # a hand edit: fails its checksum
    manifest.write_text(json.dumps(content))
    with caplog.at_level(logging.WARNING):
        assert cache.load("k") is None
    assert "damaged" in caplog.text
    assert not (tmp_path / "k").exists()  # the damaged entry is cleared away for its rebuild
    cache.save("k", arrays)
    (tmp_path / "k" / split_cache.MANIFEST).unlink()  # half-written: no manifest, no entry
    assert cache.load("k") is None
    assert SplitArrayCache(None).get_or_build("k", lambda: arrays) is arrays

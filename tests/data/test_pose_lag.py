"""The pose–IMU lag: ``data.pose_lag_ms`` moves the video in the aligner (and keys the cache), the
estimator recovers a known lag, and ``data.twin`` picks the preset (realistic by default)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from har.data import inspect
from har.data.pose_lag import estimate_pose_lag_ms
from har.data.sources.mmfit.align import align
from har.data.sources.mmfit.reader import read_workout
from har.data.sources.mmfit.source import MMFitSource
from har.data.twin.mmfit import generate_mmfit_twin
from tests.conftest import compose_config

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("data.test_pose_lag")

ARM = [14, 15, 16]  # left shoulder, elbow, wrist: the sw_l watch's arm


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lag")
    return {
        name: generate_mmfit_twin(root / name, workouts=3, minutes=1.5, seed=0, twin=name)
        for name in ("easy", "realistic")
    }


def test_pose_lag_moves_the_pose_and_labels_later_by_that_much(twins):
    rec = read_workout(twins["easy"], "w00", "sw_l_acc")
    plain, shifted = align(rec, 100.0), align(rec, 100.0, pose_lag_ms=50.0)

    def times(s):
        return s.t0_ms + 10.0 * np.arange(len(s))

    # On the (unchanged) IMU clock, the shifted pose at T + 50 ms is the plain pose at T.
    inner = slice(20, len(plain) - 20)
    wrist = np.interp(times(plain) + 50.0, times(shifted), shifted.pose[:, 16, 0])
    # (exact between the frames; re-interpolating across a frame knot on another grid is not)
    assert np.median(np.abs(wrist[inner] - plain.pose[inner, 16, 0])) < 1e-5
    assert (
        np.abs(
            shifted.pose[inner, 16, 0]
            - np.interp(times(shifted)[inner], times(plain), plain.pose[:, 16, 0])
        ).max()
        > 5e-3
    )
    # The labels (video frames) move with the pose.
    first = [times(s)[np.flatnonzero(s.labels != s.labels[0])[0]] for s in (plain, shifted)]
    assert first[1] - first[0] == pytest.approx(50.0, abs=10.0)


def test_pose_lag_keys_the_cache_only_when_set():
    source = MMFitSource(Path("."), "sw_l_acc", 100.0, None, {"train": ("w00",)})
    before = source.settings()
    assert "pose_lag_ms" not in before  # old cache entries stay valid
    assert dataclasses.replace(source, pose_lag_ms=30.0).settings() == {
        **before,
        "pose_lag_ms": 30.0,
    }


@pytest.mark.parametrize("samples", [-7, 4, 12])
def test_a_known_injected_lag_is_recovered_within_one_sample(twins, samples):
    """The easy twin's rows carry the nearest frame (no lag); the pose moved by k samples."""
    session = align(read_workout(twins["easy"], "w02", "sw_l_acc"), 100.0)
    assert abs(estimate_pose_lag_ms(session, ARM)) <= 10.0
    pose = np.roll(session.pose, -samples, axis=0)  # pose(t) shows the motion of t + k: early
    moved = dataclasses.replace(session, pose=pose)
    assert estimate_pose_lag_ms(moved, ARM) == pytest.approx(10.0 * samples, abs=10.0)


def test_an_injected_40_ms_lag_is_recovered_within_10_ms_on_the_realistic_twin(twins):
    root = twins["realistic"]
    truth = json.loads((root / "twin.json").read_text())["truth"]
    for workout in ("w00", "w01", "w02"):
        rec = read_workout(root, workout, "sw_l_acc")
        true = truth[workout]["pose_lag_ms"]["sw_l"]  # what the logger's clock model leaves
        assert estimate_pose_lag_ms(align(rec, 100.0), ARM) == pytest.approx(true, abs=10.0)
        # Correct all but 40 ms of it: 40 ms are left to find.
        left = align(rec, 100.0, pose_lag_ms=true - 40.0)
        assert estimate_pose_lag_ms(left, ARM) == pytest.approx(40.0, abs=10.0)


def test_data_twin_defaults_to_realistic_and_picks_the_tree(monkeypatch, tmp_path):
    monkeypatch.delenv("HAR_TWIN", raising=False)
    cfg = compose_config([f"env.data_dir={tmp_path}"])
    assert cfg.data.twin == "realistic" and "realistic" in cfg.data.dataset_name
    hard = compose_config([f"env.data_dir={tmp_path}", "data.twin=hard", "data.pose_lag_ms=20"])
    dm = instantiate(hard.data, _recursive_=False)
    assert dm.source.synthetic["twin"] == "hard" and dm.source.pose_lag_ms == 20.0
    assert dm.source.data_dir.name.startswith("mmfit_synth_hard_")
    with pytest.raises(InstantiationException, match=r"data.twin=.medium. is unknown"):
        instantiate(compose_config(["data.twin=medium"]).data, _recursive_=False)


def test_the_inspect_cli_prints_the_lag_to_set(twins, tmp_path, capsys):
    """``python -m har.data.inspect ... --estimate-lag`` on the realistic twin: the value it prints
    (the training split's median, added to the current setting) is the true lag, and stays so when
    part of it is already corrected."""
    root = twins["realistic"]
    truth = json.loads((root / "twin.json").read_text())["truth"]["w00"]["pose_lag_ms"]["sw_l"]
    args = [
        "data=mmfit",
        f"data.data_dir={root}",
        f"env.cache_dir={tmp_path / 'cache'}",
        "data.train_workouts=[w00]",
        "data.val_workouts=[w01]",
        "data.test_workouts=[w02]",
    ]
    for current in (0.0, round(truth - 40.0, 1)):
        out = tmp_path / f"out{current}"
        flags = ["--estimate-lag", "--no-plot", "--out", str(out)]
        assert inspect.main([*args, f"data.pose_lag_ms={current}", *flags]) == 0
        printed = capsys.readouterr().out
        line = next(x for x in printed.splitlines() if x.startswith("set data.pose_lag_ms="))
        value = float(line.removeprefix("set data.pose_lag_ms=").split()[0])
        assert value == pytest.approx(truth, abs=10.0)
        assert f"current {current:g}" in line
        assert json.loads((out / "summary.json").read_text())["pose_lag"]["pose_lag_ms"] == value

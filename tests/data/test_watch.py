"""data=watch: seglearn's published smartwatch file, read as is (the real file, not a copy)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from har.data.sources.seglearn_file import read_watch_file
from har.data.sources.watch import STANDARD_GRAVITY, WatchDataModule, published_file
from har.errors import ConfigError, DataError
from tests.conftest import compose_config

pytest.importorskip("seglearn")  # the dev extra installs it


@functools.cache
def published():
    return read_watch_file(published_file(None))


def module(**overrides) -> WatchDataModule:
    return WatchDataModule(**({"cache_dir": None} | overrides))


def test_the_published_file_has_the_documented_structure():
    class_names, recordings = published()
    assert class_names == ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW")
    assert len(recordings) == 140
    assert sorted({r.subject for r in recordings}) == list(range(1, 11))
    # 14 recordings per participant: every exercise with each arm
    per_subject = {(r.subject, r.exercise, r.side) for r in recordings}
    assert len(per_subject) == 140
    # The stored acc is in g: its mean magnitude is a little above gravity's 1 g.
    acc = np.concatenate([r.samples[:, :3] for r in recordings])
    assert 1.1 < np.linalg.norm(acc, axis=1).mean() < 1.2


def test_sessions_are_imu_only_in_si_units_with_subject_disjoint_splits():
    dm = module()
    dm.setup()
    assert dm.class_names == published()[0] and dm.imu_channels == 6
    assert not dm.has_pose and len(dm.sessions_without_pose) == 140
    subjects = {split: {s.participant for s in group} for split, group in dm.sessions.items()}
    assert subjects == {"train": set(range(1, 8)), "val": {8}, "test": {9, 10}}
    session = dm.sessions["train"][0]
    assert session.pose.shape == (len(session), 0, 3) and session.acc.shape == (len(session), 6)
    raw = {f"s{r.subject:02d}_{published()[0][r.exercise]}_{r.side}": r for r in published()[1]}
    stored = raw[session.workout].samples
    np.testing.assert_allclose(session.acc[:, :3], stored[:, :3] * STANDARD_GRAVITY, rtol=1e-6)
    np.testing.assert_allclose(session.acc[:, 3:], stored[:, 3:], rtol=1e-6)  # rad/s as stored
    assert (session.labels == raw[session.workout].exercise).all()
    acc = np.concatenate([s.acc[:, :3] for s in dm.sessions["train"]])
    assert 10.5 < np.linalg.norm(acc, axis=1).mean() < 12.0  # ≈ 1.15 g in m/s²
    batch = dm.datasets["val"].__getitems__([0, 1])
    assert set(batch) == {"acc", "label"} and batch["acc"].shape == (2, 6, 100)


def test_streams_rate_and_folds_are_config_choices():
    gyro = module(sensors=["gyr"], imu_channels=3, sampling_rate_hz=100)
    gyro.prepare_data()
    session = gyro.sessions["train"][0]
    raw = {f"s{r.subject:02d}_{published()[0][r.exercise]}_{r.side}": r for r in published()[1]}
    stored = raw[session.workout].samples
    assert session.acc.shape[1] == 3 and len(session) == 2 * (len(stored) - 1) + 1  # 50 -> 100 Hz
    np.testing.assert_allclose(session.acc[::2], stored[:, 3:], rtol=1e-6)
    # A leave-one-subject-out fold: test one participant, validate on another, train the rest.
    fold = module(test_subjects=[3], val_subjects=[5])
    assert fold.participants() == list(range(1, 11))
    fold.prepare_data()
    assert {s.participant for s in fold.sessions["test"]} == {3}
    assert {s.participant for s in fold.sessions["train"]} == set(range(1, 11)) - {3, 5}
    # What run_eval --folds sets for such a fold (har.launch.folds): the three subject lists.
    assert module().fold_overrides([3], [5]) == {
        "data.train_subjects": [1, 2, 4, 6, 7, 8, 9, 10],
        "data.val_subjects": [5],
        "data.test_subjects": [3],
    }


def test_bad_choices_name_their_key(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.sensors holds mag"):
        module(sensors=["mag"])
    with pytest.raises(ConfigError, match=r"data.joints must be \[\]"):
        module(joints=[1, 2, 3])
    with pytest.raises(DataError, match="participants 8 are in both val and test"):
        module(test_subjects=[8]).prepare_data()
    with pytest.raises(ConfigError, match=r"data.test_subjects holds \[11\]"):
        module(test_subjects=[11]).prepare_data()
    with pytest.raises(DataError, match="does not exist: install seglearn"):
        module(data_dir=tmp_path / "nowhere.npy")
    (tmp_path / "watch_dataset.npy").write_bytes(b"not numpy")
    with pytest.raises(
        DataError, match=r"watch_dataset.npy is not a readable .npy file .*: reinstall seglearn"
    ):
        module(data_dir=tmp_path).prepare_data()


def test_the_config_composes_to_the_module_and_refuses_pose_scenarios():
    from hydra.utils import instantiate

    from har.training.validate import validate_against_data

    cfg = compose_config(["data=watch", "data.cache_dir=null"])
    dm = instantiate(cfg.data, _recursive_=False)
    assert isinstance(dm, WatchDataModule) and dm.sensors == ("acc", "gyr")
    with pytest.raises(ConfigError, match=r"scenario=scenario2 .* s01_PEN_left .*no pose"):
        validate_against_data(cfg, 7, 6, ["s01_PEN_left"])
    validate_against_data(compose_config(["data=watch", "scenario=real_only"]), 7, 6, ["x"])

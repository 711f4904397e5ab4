from __future__ import annotations

import json

import numpy as np
import pytest
from mmfit_writer import STANDING_MM, TORSO_MM, tiny_datamodule_kwargs, write_tiny_dataset

from har.data.normalise import STATS_FILE, body_scale, fit_acc_stats, load_stats
from har.data.session import Session
from har.data.sources.mmfit.source import MMFitDataModule
from har.errors import DataError


def session(acc: np.ndarray, valid: np.ndarray | None = None, workout: str = "w01") -> Session:
    n = len(acc)
    return Session(
        workout=workout, participant=0, pose=np.zeros((n, 17, 3), np.float32), acc=acc.astype(np.float32),
        labels=np.zeros(n, np.int64), valid=np.ones(n, bool) if valid is None else valid, t0_ms=0.0, rate_hz=100.0,
    )  # fmt: skip


def test_body_scale_is_the_median_torso_length():
    pose = np.broadcast_to(STANDING_MM / 1000.0, (50, 17, 3)).copy()
    pose[:3, 8] += 10.0  # a few wild frames do not move the median
    assert body_scale(pose) == pytest.approx(TORSO_MM / 1000.0)
    assert body_scale(pose * 1.2) == pytest.approx(1.2 * TORSO_MM / 1000.0)
    # Translation does not change a size.
    assert body_scale(pose + np.array([3.0, -1.0, 2.0])) == pytest.approx(TORSO_MM / 1000.0)


def test_body_scale_without_a_torso_is_a_data_error():
    with pytest.raises(DataError, match="w07: the pose has no torso"):
        body_scale(np.zeros((10, 17, 3)), "w07")


def test_acc_stats_use_valid_samples_of_the_given_sessions():
    rng = np.random.default_rng(0)
    a = rng.normal([1.0, 2.0, 9.8], [0.5, 1.0, 2.0], size=(4000, 3))
    b = rng.normal([1.0, 2.0, 9.8], [0.5, 1.0, 2.0], size=(3000, 3))
    valid = np.ones(3000, bool)
    valid[:100] = False
    b[:100] = 1e6  # invalid samples (a bridged hole) must not pollute the statistics
    stats = fit_acc_stats([session(a), session(b, valid, "w02")])
    both = np.concatenate([a, b[100:]])
    np.testing.assert_allclose(stats.mean, both.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.std, both.std(axis=0), rtol=1e-5)
    assert stats.workouts == ("w01", "w02")
    standardised = stats.apply(both)
    np.testing.assert_allclose(standardised.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(standardised.std(axis=0), 1.0, atol=1e-4)


def test_statistics_come_from_training_workouts_only(tmp_path):
    written = write_tiny_dataset(tmp_path / "raw")
    cache = tmp_path / "cache"
    first = MMFitDataModule(**tiny_datamodule_kwargs(tmp_path / "raw", cache))
    first.setup()
    (stats_file,) = (cache / "mmfit").glob(f"stats-*/{STATS_FILE}")
    saved = json.loads(stats_file.read_text())
    assert saved["workouts"] == ["w01", "w02"]

    # Rewrite the test workout (w09) with very different IMU content.
    imu = written["w09"].imu
    imu[:, 2:] = imu[:, 2:] * 50.0 + 100.0
    np.save(written["w09"].imu_path, imu)
    second = MMFitDataModule(**tiny_datamodule_kwargs(tmp_path / "raw", cache))
    second.setup()
    assert not np.allclose(second.sessions["test"][0].acc, first.sessions["test"][0].acc)
    np.testing.assert_array_equal(second.acc_stats.mean, first.acc_stats.mean)
    np.testing.assert_array_equal(second.acc_stats.std, first.acc_stats.std)
    assert len(list((cache / "mmfit").glob("stats-*"))) == 1  # same training data, same entry
    assert json.loads(stats_file.read_text()) == saved
    np.testing.assert_array_equal(load_stats(stats_file).mean, first.acc_stats.mean)

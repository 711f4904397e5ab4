"""Scarce real IMU (data.imu_subjects) and the pose-only secondary stream (data.secondary)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from har.data.imu_subjects import choose_imu_subjects
from har.data.normalise import fit_acc_stats
from har.data.with_secondary import WithSecondary, build_datamodule
from har.errors import ConfigError, DataError
from tests.conftest import compose_config

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("data.test_imu_subjects")

SUBJECTS = [0, 0, 1, 2, 5, 6, 7]


def test_choose_imu_subjects_by_list_fraction_or_all():
    assert choose_imu_subjects(SUBJECTS, None) == (0, 1, 2, 5, 6, 7)
    assert choose_imu_subjects(SUBJECTS, [6, 1]) == (1, 6)
    quarter = choose_imu_subjects(SUBJECTS, 0.25, seed=0)
    assert len(quarter) == 2 and set(quarter) <= set(SUBJECTS)  # round(0.25 * 6) = 2 of 6
    assert len(choose_imu_subjects(SUBJECTS, 0.1, seed=0)) == 1  # never fewer than one
    assert choose_imu_subjects(SUBJECTS, 0.25, seed=0) == quarter  # seeded
    # Distinct draws are distinct people sets, as many as there are (C(6, 2) = 15 pairs) ...
    assert len({choose_imu_subjects(SUBJECTS, 0.25, seed=s) for s in range(15)}) == 15
    assert len({choose_imu_subjects(SUBJECTS, 0.1, seed=s) for s in range(6)}) == 6
    # ... and, where there are too many subsets to list (NTU: 10 of 40), still seeded and varied.
    many = list(range(40))
    assert choose_imu_subjects(many, 0.25, seed=3) == choose_imu_subjects(many, 0.25, seed=3)
    assert len({choose_imu_subjects(many, 0.25, seed=s) for s in range(5)}) == 5


@pytest.mark.parametrize(
    ("spec", "message"),
    [([3], "not training subjects"), (0.0, r"\(0, 1\]"), (1.5, r"\(0, 1\]"), ([], "non-empty")],
)
def test_impossible_imu_subject_choices_are_refused(spec, message):
    with pytest.raises(ConfigError, match=message):
        choose_imu_subjects(SUBJECTS, spec)


@pytest.fixture(scope="module")
def scarce(twin_overrides):
    """Two training workouts of two people (w01: participant 0, w02: participant 1), IMU from 1."""
    cfg = compose_config(
        ["data=mmfit_debug", "data.train_workouts=[w01,w02]", "data.imu_subjects=[1]",
         "data.stride_seconds=1.0", *twin_overrides]
    )  # fmt: skip
    dm = instantiate(cfg.data, _recursive_=False)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_only_the_chosen_subjects_real_imu_reaches_training(scarce):
    assert scarce.imu_subjects_used == (1,)
    windows = scarce.windows["train"]
    dataset = scarce.datasets["train"]
    batch = dataset.__getitems__(list(range(len(dataset))))
    from_w02 = torch.from_numpy(windows.session == 1)  # sessions in listed order: w01, w02
    assert torch.equal(batch["imu_mask"], from_w02)
    assert batch["acc"][~from_w02].abs().sum() == 0  # never loaded: zeros
    assert batch["acc"][from_w02].abs().sum() > 0
    for split in ("val", "test"):  # the deployed model is scored on real IMU, as always
        assert "imu_mask" not in scarce.datasets[split].__getitems__([0])


def test_normalisation_statistics_come_from_the_imu_subjects_only(scarce):
    w02 = [s for s in scarce.sessions["train"] if s.workout == "w02"]
    expected = fit_acc_stats(w02)
    assert np.allclose(scarce.acc_stats.mean, expected.mean)
    assert np.allclose(scarce.acc_stats.std, expected.std)
    assert scarce.acc_stats.workouts == ("w02",)


def test_a_pose_only_secondary_rides_along_for_one_primary_epoch(twin_overrides):
    cfg = compose_config(["scenario=secondary_pose", "data=mmfit_debug", *twin_overrides])
    dm = build_datamodule(cfg.data)
    assert isinstance(dm, WithSecondary)
    dm.prepare_data()
    dm.setup("fit")
    loaders = dm.train_dataloader()
    assert set(loaders) == {"paired", "secondary"}
    assert len(loaders["secondary"]) == len(loaders["paired"])
    batches = list(loaders["secondary"])
    assert len(batches) == len(loaders["paired"])
    assert batches[0]["pose"].shape[1:] == (3, 3, cfg.data.sensor_window_length)
    assert {s.workout for s in dm.secondary.sessions["train"]} == {"w12"}
    # Everything else is the primary's: statistics, classes, evaluation loaders.
    assert dm.acc_stats is dm.primary.acc_stats and dm.num_classes == 11
    assert len(dm.val_dataloader()) == len(dm.primary.val_dataloader())


def test_a_secondary_that_holds_a_primary_session_is_refused(twin_overrides):
    cfg = compose_config(
        ["scenario=secondary_pose", "data=mmfit_debug", "data.secondary.train_workouts=[w01]",
         *twin_overrides]
    )  # fmt: skip
    dm = build_datamodule(cfg.data)
    with pytest.raises(DataError, match=r"\['w01'\], which are also primary train"):
        dm.setup("fit")


def test_saved_statistics_are_keyed_by_the_subjects_they_come_from(scarce, twin_overrides):
    """Two draws of IMU subjects have different statistics: each gets its own stats file."""
    cfg = compose_config(
        ["data=mmfit_debug", "data.train_workouts=[w01,w02]", "data.imu_subjects=[0]",
         "data.stride_seconds=1.0", *twin_overrides]
    )  # fmt: skip
    other = instantiate(cfg.data, _recursive_=False)
    other.prepare_data()
    other.setup("fit")
    assert not np.allclose(other.acc_stats.mean, scarce.acc_stats.mean)
    assert other.stats_path != scarce.stats_path  # side by side, neither overwrites the other
    assert other.stats_path.exists() and scarce.stats_path.exists()

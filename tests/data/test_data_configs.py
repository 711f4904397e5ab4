"""Every ``conf/data/*.yaml`` composes (Hydra compose API) and instantiates, with pose, without
pose and with two sensor streams; the model's channel counts follow ``data.sensors`` /
``data.regress``. Constructors only: no file is read, so this stays fast."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate

from har.data.with_secondary import WithSecondary, build_datamodule
from har.training.validate import validate_model
from tests.conftest import compose_config

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"
# Paired data sets: pose and IMU (their scenario2 builds R from data.joints).
WITH_POSE = {
    "mmfit": ["sw_l_acc", "sw_l_gyr"],
    "mmfit_synth": ["sw_l_acc", "sw_r_acc"],  # both wrists
    "mmfit_debug": ["sw_l_acc", "sw_l_gyr"],
    "utd": ["acc", "gyr"],
    "utd_synth": ["acc", "gyr"],
    "folder": ["sw_l_acc", "sw_l_gyr"],  # arrays of the .npz (e.g. an export of two streams)
}
# IMU-only data sets: no pose, so real_only (F and C; no R).
WITHOUT_POSE = {"watch": ["acc", "gyr"], "folder": ["sw_l_acc", "sw_l_gyr"]}
# Pose-only data sets: a secondary stream beside a paired primary.
POSE_ONLY = ("ntu60", "ntu120", "ntu_synth", "mmfit_heldout")


def test_every_data_config_is_covered():
    names = {p.stem for p in CONF.glob("*.yaml")}
    assert names == set(WITH_POSE) | set(WITHOUT_POSE) | set(POSE_ONLY)


def build(overrides: list[str]):
    cfg = compose_config(overrides)
    validate_model(cfg)  # builds what the module would (R only when the scenario needs it)
    f = instantiate(cfg.model.feature_extractor)
    model = {
        "feature_extractor": f,
        "classifier": instantiate(cfg.model.classifier, f_in=f.out_features),
    }
    return cfg, build_datamodule(cfg.data), model


@pytest.mark.parametrize("name", sorted(WITH_POSE))
def test_paired_data_sets_with_pose_and_with_two_streams(name):
    cfg, dm, model = build([f"data={name}"])
    regressor = instantiate(cfg.model.regressor)
    assert regressor.stem.in_channels == 3 * len(cfg.data.joints) and dm.imu_channels == 3
    two = WITH_POSE[name]
    cfg, dm, model = build([f"data={name}", f"data.sensors=[{','.join(two)}]"])
    assert list(dm.sensors) == two and dm.imu_channels == 6
    assert model["feature_extractor"].blocks[0].conv.in_channels == 6
    # R still predicts the accelerometer stream (data.regress defaults to the acc streams).
    regress = [s for s in two if s == "acc" or s.endswith("_acc")]
    assert list(cfg.data.regress) == regress
    assert instantiate(cfg.model.regressor).head[-1].out_channels == 3 * len(regress)
    assert list(cfg.model.regressed_channels) == list(range(3 * len(regress)))


@pytest.mark.parametrize("name", sorted(WITHOUT_POSE))
def test_imu_only_data_sets_without_pose_and_with_two_streams(name):
    two = WITHOUT_POSE[name]
    for streams in (None, two):
        extra = [] if streams is None else [f"data.sensors=[{','.join(streams)}]"]
        cfg, dm, model = build([f"data={name}", "scenario=real_only", *extra])
        channels = 3 * len(streams or cfg.data.sensors)
        assert dm.imu_channels == channels
        assert model["feature_extractor"].blocks[0].conv.in_channels == channels


@pytest.mark.parametrize("name", POSE_ONLY)
def test_pose_only_data_sets_as_the_secondary_stream(name):
    _, dm, _ = build(["scenario=secondary_pose", f"data@data.secondary={name}"])
    assert isinstance(dm, WithSecondary) and not dm.primary.pose_only
    assert dm.secondary.pose_only == name.startswith("ntu")  # mmfit_heldout: MM-Fit's pose only

import pytest
import torch

from har.data.sources.mmfit.format import CLASS_NAMES
from har.training.trial import build_module
from tests.conftest import compose_config
from tests.training.scenario_helpers import T, fit_steps, make_batch


def make_module(*overrides):
    cfg = compose_config(["scenario=debug", *overrides])
    return build_module(cfg, list(CLASS_NAMES))


def batch(b=8, t=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "pose": torch.randn(b, 3, 3, t, generator=g),
        "acc": torch.randn(b, 3, t, generator=g),
        "label": torch.randint(0, 11, (b,), generator=g),
    }


def grads_after_step(module, data):
    module.zero_grad()
    module._step(data, "train").backward()
    return {n: p.grad for n, p in module.named_parameters()}


def test_real_only_objective_leaves_regressor_untouched():
    module = make_module("scenario.gamma=0", "scenario.beta=0", "scenario.ce_sim=false")
    assert not module.trains_sim_path
    grads = grads_after_step(module, batch())
    assert all(g is None for n, g in grads.items() if n.startswith("regressor."))
    assert any(g is not None for n, g in grads.items() if n.startswith("feature_extractor."))


def test_joint_objective_trains_regressor():
    grads = grads_after_step(make_module(), batch())
    assert all(g is not None for n, g in grads.items() if n.startswith("regressor."))


@pytest.mark.parametrize(
    "override",
    [
        "scenario.alpha=2.0",
        "scenario.beta=3.0",
        "scenario.gamma=5.0",
        "scenario.similarity=mse",
        "scenario.ce_real=false",
        "scenario.ce_sim=false",
    ],
)
def test_every_loss_knob_changes_the_loss(override):
    torch.manual_seed(0)
    base = make_module()
    torch.manual_seed(0)
    changed = make_module(override)
    data = batch()
    assert not torch.isclose(base._step(data, "train"), changed._step(data, "train"))


def test_separate_modules_share_no_parameters():
    module = make_module(
        "scenario.separate_feature_extractor=true", "scenario.separate_classifier=true"
    )
    real = {id(p) for m in (module.feature_extractor, module.classifier) for p in m.parameters()}
    sim = {
        id(p) for m in (module.feature_extractor_sim, module.classifier_sim) for p in m.parameters()
    }
    assert real.isdisjoint(sim)
    w_real = next(module.feature_extractor.parameters())
    w_sim = next(module.feature_extractor_sim.parameters())
    assert not torch.equal(w_real, w_sim)  # independently initialised, not a copy


def test_model_sizes_follow_data_config():
    module = make_module("data.joints=[11,12,13,14,15,16]", "data.sensor_window_length=128")
    assert module.regressor.stem.in_channels == 18
    cfg = compose_config(["data.sensor_window_length=128"])
    assert cfg.model.regressor.sequence_length == 128
    assert cfg.model.feature_extractor.window_size == 128
    assert cfg.model.classifier.f_in == cfg.model.feature_extractor.out_features


def test_two_sensor_streams_feed_f_while_r_predicts_the_regressed_ones():
    module = make_module("data.sensors=[sw_l_acc,sw_l_gyr]")
    assert module.feature_extractor.blocks[0].conv.in_channels == 6
    assert module.regressor.head[-1].out_channels == 3 and module.regressed_channels == [0, 1, 2]
    batch = make_batch()
    gyro = torch.randn(8, 3, T)
    batch["acc"] = torch.cat([batch["acc"], gyro], dim=1)
    assert torch.equal(module.regressed(batch["acc"]), batch["acc"][:, :3])
    seen = []
    module.feature_extractor.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    with torch.no_grad():
        sim, _ = module._sim_features(batch["pose"])
    # F sees R's acc in the acc channels and the gyro it does not predict at its mean (0).
    assert torch.equal(seen[0][:, :3], sim) and not seen[0][:, 3:].any()
    fit_steps(module, [batch])  # the joint objective trains on 6-channel windows
    gyro_only = make_module("data.sensors=[sw_l_acc,sw_l_gyr]", "data.regress=[sw_l_gyr]")
    assert gyro_only.regressed_channels == [3, 4, 5]


def test_a_regressed_stream_must_be_one_f_reads():
    with pytest.raises(Exception, match=r"data\.regress holds sw_r_acc"):
        make_module("data.regress=[sw_r_acc]")

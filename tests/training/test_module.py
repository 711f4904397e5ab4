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


@pytest.mark.parametrize("trains", [False, True])
def test_ce_on_the_simulated_path_trains_the_regressor_only_when_switched_on(trains):
    module = make_module(
        "scenario.gamma=0", "scenario.beta=0", "scenario.ce_real=false",
        f"scenario.sim_ce_trains_regressor={str(trains).lower()}",
    )  # fmt: skip
    grads = grads_after_step(module, batch())
    regressor = [g for n, g in grads.items() if n.startswith("regressor.")]
    assert all((g is not None and g.abs().sum() > 0) == trains for g in regressor)
    assert any(g is not None for n, g in grads.items() if n.startswith("classifier."))


@pytest.mark.parametrize(
    ("target", "real_moves", "sim_moves"),
    [("real", False, True), ("sim", True, False), ("both", True, True)],
)
def test_similarity_target_holds_the_other_side_still(target, real_moves, sim_moves):
    module = make_module(
        "scenario.alpha=0", "scenario.gamma=0", "scenario.beta=1",
        f"scenario.similarity_target={target}",
    )  # fmt: skip
    data = batch()
    data["acc"].requires_grad_(True)
    module._step(data, "train").backward()
    real_grad = data["acc"].grad
    assert (real_grad is not None and real_grad.abs().sum() > 0) == real_moves
    regressor = [p.grad for n, p in module.named_parameters() if n.startswith("regressor.")]
    assert any(g is not None and g.abs().sum() > 0 for g in regressor) == sim_moves


def test_similarity_compares_features_without_dropout():
    """Identical real and simulated windows through one BatchNorm: the term is exactly zero in
    training, however heavy the dropout (independent masks could never let it reach zero)."""
    module = make_module(
        "model.feature_extractor.drop_prob=0.9", "model.feature_extractor.domain_norm=shared"
    )
    module.train()
    f, x = module.feature_extractor, batch()["acc"]
    assert torch.equal(f(x, side_pass=True), f(x, side_pass=True))
    assert not torch.equal(f(x), f(x))  # the classifier's input keeps its dropout
    assert module._similarity(x, x).item() == pytest.approx(0.0, abs=1e-6)


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
    # C reads F's output, whatever its width: no dense layer, and the window statistics beside.
    module = make_module("model.feature_extractor.n_dense=0", "model.feature_extractor.n_filters=8")
    width = module.feature_extractor.out_features
    assert width == 32 + module.feature_extractor.statistics.out_features
    assert module.classifier.net[-1].in_features == width
    assert module.classifier(module.feature_extractor(torch.randn(2, 3, 256))).shape == (2, 11)


def test_two_sensor_streams_feed_f_while_r_predicts_the_regressed_ones():
    module = make_module("data.sensors=[sw_l_acc,sw_l_gyr]", f"data.sensor_window_length={T}")
    assert module.feature_extractor.blocks[0].conv.in_channels == 6
    assert module.regressor.head[-1].out_channels == 3 and module.regressed_channels == [0, 1, 2]
    batch = make_batch()
    gyro = torch.randn(8, 3, T)
    batch["acc"] = torch.cat([batch["acc"], gyro], dim=1)
    assert torch.equal(module.regressed(batch["acc"]), batch["acc"][:, :3])
    with torch.no_grad():
        sim = module.simulate(batch["pose"])
        seen = module._virtual(sim, "val")
    # F sees R's acc in the acc channels and the gyro it does not predict at its mean (0).
    assert torch.equal(seen[:, :3], sim) and not seen[:, 3:].any()
    fit_steps(module, [batch])  # the joint objective trains on 6-channel windows
    gyro_only = make_module("data.sensors=[sw_l_acc,sw_l_gyr]", "data.regress=[sw_l_gyr]")
    assert gyro_only.regressed_channels == [3, 4, 5]


def test_a_regressed_stream_must_be_one_f_reads():
    with pytest.raises(Exception, match=r"data\.regress holds sw_r_acc"):
        make_module("data.regress=[sw_r_acc]")


def test_window_statistics_knob_and_their_units_from_the_training_data():
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader

    off = make_module("model.feature_extractor.window_features=null")
    assert off.feature_extractor.statistics is None
    module = make_module("data.sampling_rate_hz=50")
    assert module.feature_extractor.statistics.rate_hz == 50.0

    class WithStats(pl.LightningDataModule):  # what SessionDataModule offers at fit start
        acc_stats = type("Stats", (), {"mean": [0.5, 9.8, -1.0], "std": [2.0, 3.0, 4.0]})

        def train_dataloader(self):
            return DataLoader([make_batch()], batch_size=None)

    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, accelerator="cpu", devices=1)  # fmt: skip
    trainer.fit(module, datamodule=WithStats())
    statistics = module.feature_extractor.statistics
    assert torch.equal(statistics.mean, torch.tensor([0.5, 9.8, -1.0]))
    assert torch.equal(statistics.std, torch.tensor([2.0, 3.0, 4.0]))

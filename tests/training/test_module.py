import pytest
import torch

from har.data.sources.mmfit.format import CLASS_NAMES
from har.training.trial import build_module
from tests.conftest import compose_config


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
    assert torch.equal(f(x, dropout=False), f(x, dropout=False))
    assert not torch.equal(f(x), f(x))  # the classifier's input keeps its dropout
    assert module._similarity(x, x).item() == pytest.approx(0.0, abs=1e-6)

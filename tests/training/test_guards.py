"""Correctness guards of the scenario variants (issue 7, part 2)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from har.errors import ConfigError
from har.models.discriminator import Discriminator
from har.models.gradient_reversal import reversal_strength, reverse_gradient
from har.training.adversarial import critic_loss, feature_domain_loss, generator_loss
from har.training.scenario_spec import check_scenario
from tests.training.scenario_helpers import (
    SCENARIOS,
    fit_steps,
    make_batch,
    make_module,
    needs_secondary,
)


# ---- separate modules ------------------------------------------------------------------------
def test_separate_modules_share_no_parameter_and_no_optimiser_state():
    module = make_module(
        "scenario2", "scenario.separate_feature_extractor=true", "scenario.separate_classifier=true"
    )
    real = [p for m in (module.feature_extractor, module.classifier) for p in m.parameters()]
    sim = [p for m in (module.feature_extractor_sim, module.classifier_sim) for p in m.parameters()]
    assert {id(p) for p in real}.isdisjoint({id(p) for p in sim})
    assert {p.data_ptr() for p in real}.isdisjoint({p.data_ptr() for p in sim})
    first_real, first_sim = (
        next(module.feature_extractor.parameters()),
        next(module.feature_extractor_sim.parameters()),
    )
    assert not torch.equal(first_real, first_sim)  # independently initialised, not a copy

    trainer = fit_steps(module, [make_batch()])
    (optimizer,) = trainer.optimizers
    listed = [id(p) for group in optimizer.param_groups for p in group["params"]]
    assert len(listed) == len(set(listed))  # each parameter once: no tied slots
    state_ptrs = {
        which: {
            t.data_ptr()
            for p in params
            if p in optimizer.state
            for t in optimizer.state[p].values()
            if torch.is_tensor(t) and t.dim() > 0
        }
        for which, params in (("real", real), ("sim", sim))
    }
    assert state_ptrs["real"] and state_ptrs["sim"]  # both sides were stepped ...
    assert state_ptrs["real"].isdisjoint(state_ptrs["sim"])  # ... with their own moments


# ---- the critic's optimiser and the main one -------------------------------------------------
def _snapshot(params: dict[str, nn.Parameter]) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in params.items()}


def test_critic_and_main_optimisers_never_update_each_others_parameters():
    module = make_module("signal_discriminator", "scenario.adversary.warmup_epochs=0")
    critic = {f"adversary.{n}": p for n, p in module.adversary.named_parameters()}
    rest = {n: p for n, p in module.named_parameters() if n not in critic and p.requires_grad}
    checks = {"critic_changed": 0, "main_changed": 0}
    original_critic, original_main = module._critic_phase, module._main_phase

    def critic_phase(batch, optimizer):
        before_rest, before_critic = _snapshot(rest), _snapshot(critic)
        original_critic(batch, optimizer)
        assert all(torch.equal(before_rest[n], p) for n, p in rest.items())  # bitwise
        checks["critic_changed"] += any(
            not torch.equal(before_critic[n], p) for n, p in critic.items()
        )

    def main_phase(batch, optimizer):
        before_rest, before_critic = _snapshot(rest), _snapshot(critic)
        loss = original_main(batch, optimizer)
        assert all(torch.equal(before_critic[n], p) for n, p in critic.items())  # bitwise
        checks["main_changed"] += any(not torch.equal(before_rest[n], p) for n, p in rest.items())
        return loss

    module._critic_phase, module._main_phase = critic_phase, main_phase
    trainer = fit_steps(module, [make_batch(seed=0), make_batch(seed=1)])
    assert checks == {"critic_changed": 2, "main_changed": 2}  # each side did move
    main, critic_opt = trainer.optimizers
    critic_ids = {id(p) for p in critic.values()}
    assert all(id(p) not in critic_ids for g in main.param_groups for p in g["params"])
    assert {id(p) for g in critic_opt.param_groups for p in g["params"]} == critic_ids


# ---- gradient reversal -----------------------------------------------------------------------
@pytest.mark.parametrize("strength", [0.0, 0.3, 1.0, 2.5])
def test_gradient_reversal_flips_the_sign_with_the_configured_strength(strength):
    x = torch.randn(5, 4, requires_grad=True)
    w = torch.randn(5, 4)
    out = reverse_gradient(x, strength)
    assert torch.equal(out, x)  # identity forward
    (out * w).sum().backward()
    assert torch.allclose(x.grad, -strength * w)


def test_domain_loss_reverses_only_what_feeds_the_discriminator():
    torch.manual_seed(0)
    disc = Discriminator("feature", in_features=6, hidden=8)
    f_real, f_sim = torch.randn(4, 6, requires_grad=True), torch.randn(5, 6, requires_grad=True)
    y = torch.zeros(5, dtype=torch.long)

    def grads(strength: float):
        disc.zero_grad()
        f_real.grad = f_sim.grad = None
        feature_domain_loss(disc, f_real, f_sim, y[:4], y, strength).backward()
        return f_real.grad.clone(), f_sim.grad.clone(), [p.grad.clone() for p in disc.parameters()]

    plain_real, plain_sim, plain_disc = grads(-1.0)  # -(-1) = +1: no reversal
    real, sim, disc_grads = grads(0.7)
    assert torch.allclose(real, -0.7 * plain_real) and torch.allclose(sim, -0.7 * plain_sim)
    assert all(torch.allclose(a, b) for a, b in zip(disc_grads, plain_disc, strict=True))


def test_dann_schedule_starts_at_zero_and_approaches_the_strength():
    assert reversal_strength(2.0, "dann", 0.0) == 0.0
    assert reversal_strength(2.0, "dann", 0.5) == pytest.approx(
        2.0 * (2 / (1 + 2.718281828**-5) - 1)
    )
    assert reversal_strength(2.0, "dann", 1.0) == pytest.approx(2.0, abs=1e-3)
    assert reversal_strength(2.0, "constant", 0.0) == 2.0


def test_the_module_feeds_the_configured_strength_into_the_features():
    """Feature extractor gradients of the domain term scale with grl_strength (and flip sign)."""

    def domain_grad(strength: str) -> torch.Tensor:
        torch.manual_seed(0)
        module = make_module(
            "feature_discriminator",
            "scenario.adversary.schedule=constant",
            f"scenario.adversary.grl_strength={strength}",
            "scenario.alpha=0",
            "scenario.beta=0",
            "scenario.gamma=0",
        )
        module._step(make_batch(), "train").backward()
        return module.feature_extractor.blocks[0].conv.weight.grad.clone()

    base, doubled = domain_grad("1.0"), domain_grad("2.0")
    assert base.abs().sum() > 0
    assert torch.allclose(doubled, 2.0 * base, rtol=1e-4, atol=1e-7)


# ---- labels and discriminators ---------------------------------------------------------------
def test_a_discriminator_that_predicts_the_label_never_receives_it():
    with pytest.raises(ConfigError, match="cannot also predict"):
        Discriminator("signal", 3, 8, n_classes=11, conditional=True, aux_classifier=True)
    with pytest.raises(ConfigError, match="cannot also predict"):
        check_scenario(
            {"alpha": 1, "beta": 0, "gamma": 1, "ce_real": True, "ce_sim": True,
             "similarity": "cosine", "adversary": {"kind": "signal", "conditional": True,
                                                   "aux_classifier": True}}
        )  # fmt: skip
    critic = Discriminator("signal", 3, 8, n_classes=11, aux_classifier=True)
    with pytest.raises(ValueError, match="labels"):
        critic(torch.randn(2, 3, 32), torch.tensor([0, 1]))

    seen: list = []
    forward = critic.forward
    critic.forward = lambda x, labels=None: seen.append(labels) or forward(x, labels)
    x, y = torch.randn(4, 3, 32), torch.tensor([0, 1, 2, 3])
    critic_loss(critic, x, y, x + 1, y, x + 1, 10.0)
    generator_loss(critic, x + 1, y)
    assert seen and all(labels is None for labels in seen)


def test_a_conditional_discriminator_uses_the_label():
    torch.manual_seed(0)
    disc = Discriminator("feature", 6, 8, n_classes=3, conditional=True)
    f = torch.randn(2, 6)
    a, _ = disc(f, torch.tensor([0, 0]))
    b, _ = disc(f, torch.tensor([1, 2]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="labels"):
        disc(f)


# ---- BatchNorm statistics at evaluation ------------------------------------------------------
def _eval_batchnorms(module) -> list[nn.BatchNorm1d]:
    """The BatchNorm layers the deployed model (forward on real IMU, eval mode) runs through."""
    used: list[nn.BatchNorm1d] = []
    hooks = [
        m.register_forward_hook(lambda mod, *_: used.append(mod))
        for m in module.modules()
        if isinstance(m, nn.BatchNorm1d)
    ]
    module.eval()
    with torch.no_grad():
        module(make_batch()["acc"])
    module.train()
    for hook in hooks:
        hook.remove()
    return used


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_evaluation_batchnorm_statistics_come_from_real_data_only(scenario):
    """Simulations are poisoned with NaN, and so are the zero-filled windows of subjects without
    real IMU: after a training step the statistics the deployed model evaluates with are finite
    and were updated, so only real windows reached them."""
    module = make_module(scenario, "scenario.adversary.warmup_epochs=0")
    eval_norms = _eval_batchnorms(module)
    assert eval_norms
    if module.regressor is not None:
        module.regressor.register_forward_hook(lambda mod, inp, out: out * float("nan"))
    batch = make_batch(secondary=needs_secondary(scenario), imu_mask=None)
    paired = batch["paired"] if needs_secondary(scenario) else batch
    paired["imu_mask"] = torch.tensor([True] * 6 + [False] * 2)
    paired["acc"][~paired["imu_mask"]] = float("nan")
    fit_steps(module, [batch], secondary=needs_secondary(scenario))
    for norm in eval_norms:
        assert int(norm.num_batches_tracked) == 1
        assert torch.isfinite(norm.running_mean).all() and torch.isfinite(norm.running_var).all()
    sim_norms = [
        m for m in module.modules() if isinstance(m, nn.BatchNorm1d) and m not in eval_norms
    ]
    if module.regressor is not None:  # the poison did flow, into the simulated domain's layers
        assert any(not torch.isfinite(m.running_mean).all() for m in sim_norms)

"""Scenario variants: every knob changes the built model or the objective, every scenario file runs.

A knob "changes the objective" when, for the same weights and batch, the loss value or the
gradient of some parameter differs (gradient reversal changes gradients only), or, for the signal
critic, the critic's loss or its optimiser differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from har.data.sources.mmfit.format import CLASS_NAMES
from har.errors import ConfigError
from har.training.adversarial import critic_loss
from har.training.trial import build_module, run_trial
from tests.conftest import REPO, compose_config
from tests.training.scenario_helpers import (
    SCENARIOS,
    fit_steps,
    make_batch,
    make_module,
    needs_secondary,
)


def _objective(scenario: str, *overrides: str) -> dict:
    torch.manual_seed(0)
    module = make_module(scenario, *overrides)
    batch = make_batch(secondary=needs_secondary(scenario), imu_mask=[True] * 6 + [False] * 2)
    torch.manual_seed(1)  # dropout, interpolates
    loss = module._step(batch, "train")
    loss.backward()
    out = {
        "shapes": {n: tuple(p.shape) for n, p in module.named_parameters()},
        "loss": loss.detach(),
        "grads": {n: p.grad for n, p in module.named_parameters() if p.grad is not None},
    }
    if module.adversary is not None and module.adversary.kind == "signal":
        paired = batch["paired"] if needs_secondary(scenario) else batch
        torch.manual_seed(2)
        fake = module.regressor(paired["pose"]).detach()
        y = paired["label"]
        a = module.scenario["adversary"]
        out["critic"] = critic_loss(
            module.adversary, paired["acc"], y, fake, y, fake, a["gp_weight"]
        )["loss"].detach()
    return out


def _differs(a: dict, b: dict) -> bool:
    if a["shapes"] != b["shapes"] or set(a["grads"]) != set(b["grads"]):
        return True
    if not torch.allclose(a["loss"], b["loss"]):
        return True
    if any(not torch.allclose(a["grads"][n], b["grads"][n]) for n in a["grads"]):
        return True
    return "critic" in a and not torch.allclose(a["critic"], b["critic"])


# At the start of training the signal scenario is in its warm-up and DANN's λ is 0: knobs that act
# later are compared from a base where they already act.
NO_WARMUP = ("scenario.adversary.warmup_epochs=0",)
CONSTANT_LAMBDA = ("scenario.adversary.schedule=constant",)
AUGMENTED = ("scenario.augment.real=true",)  # real windows are not augmented by default
# (scenario the knob acts in, override[, base overrides]): one case per knob of scenario2.yaml.
KNOBS = [
    ("scenario2", "scenario.alpha=2.0"),
    ("scenario2", "scenario.beta=3.0"),
    ("scenario2", "scenario.gamma=5.0"),
    ("scenario2", "scenario.ce_real=false"),
    ("scenario2", "scenario.ce_sim=false"),
    ("scenario2", "scenario.similarity=mse"),
    ("scenario2", "scenario.label_smoothing=0.2"),
    ("real_only", "scenario.mixup=0.4"),
    ("real_only", "scenario.augment.real=true"),
    ("real_only", "scenario.augment.roll_deg=90", AUGMENTED),
    ("real_only", "scenario.augment.motion_gain=1.0", AUGMENTED),
    ("scenario2", "model.feature_extractor.residual=false"),
    ("scenario2", "scenario.separate_feature_extractor=true"),
    ("scenario2", "scenario.separate_classifier=true"),
    ("secondary_pose", "scenario.secondary.weight=2.0"),
    ("secondary_pose", "scenario.secondary.n_classes=20"),
    ("scenario2", "scenario.adversary.kind=feature"),
    ("scenario2", "scenario.adversary.kind=signal"),
    ("feature_discriminator", "scenario.adversary.weight=0.7", CONSTANT_LAMBDA),
    ("signal_discriminator", "scenario.adversary.weight=0.7", NO_WARMUP),
    ("feature_discriminator", "scenario.adversary.hidden=5", CONSTANT_LAMBDA),
    ("feature_discriminator", "scenario.adversary.conditional=true", CONSTANT_LAMBDA),
    ("signal_discriminator", "scenario.adversary.conditional=true", NO_WARMUP),
    ("signal_discriminator", "scenario.adversary.aux_classifier=true", NO_WARMUP),
    ("signal_discriminator", "scenario.adversary.warmup_epochs=0"),
    ("feature_discriminator", "scenario.adversary.grl_strength=3.0", CONSTANT_LAMBDA),
    ("feature_discriminator", "scenario.adversary.schedule=constant"),
    ("signal_discriminator", "scenario.adversary.gp_weight=1.0"),
]


@pytest.mark.parametrize("case", KNOBS, ids=[f"{c[0]}:{c[1]}" for c in KNOBS])
def test_every_scenario_knob_changes_the_model_or_the_objective(case):
    scenario, override, *base = case
    base = list(base[0]) if base else []
    assert _differs(_objective(scenario, *base), _objective(scenario, *base, override))


def test_n_critic_sets_the_critic_updates_per_batch():
    for n_critic in (1, 3):
        module = make_module("signal_discriminator", f"scenario.adversary.n_critic={n_critic}")
        trainer = fit_steps(module, [make_batch(seed=0), make_batch(seed=1)])
        main, critic = trainer.optimizers
        steps = [int(next(iter(opt.state.values()))["step"]) for opt in (main, critic)]
        assert steps == [2, 2 * n_critic]


def test_the_critic_learning_rate_is_its_own():
    module = make_module("signal_discriminator", "scenario.adversary.lr=0.003", "optim.lr=0.01")
    (main, critic), _ = module.configure_optimizers()
    assert critic.param_groups[0]["lr"] == 0.003 and main.param_groups[0]["lr"] == 0.01


def test_only_what_the_objective_uses_is_built():
    real_only = make_module("real_only")
    assert real_only.regressor is None and not real_only.trains_sim_path
    assert real_only.adversary is None and real_only.secondary_classifier is None
    feature = make_module("feature_discriminator")
    assert feature.automatic_optimization and feature.adversary.kind == "feature"
    signal = make_module("signal_discriminator")
    assert not signal.automatic_optimization and signal.adversary.kind == "signal"
    secondary = make_module("secondary_pose")
    assert secondary.secondary_classifier.net[-1].out_features == 11


def test_windows_without_real_imu_only_feed_the_simulated_terms():
    module = make_module("scenario2", "scenario.ce_sim=false")
    module.eval()  # per-window computation (no batch statistics, no dropout): comparable losses
    with torch.no_grad():
        assert module._step(make_batch(imu_mask=[False] * 8), "train").item() == 0.0
        masked = make_batch(imu_mask=[True] * 4 + [False] * 4)
        masked["acc"][4:] = float("nan")  # zero-filled in real batches; must reach no term
        only_imu = {k: v[:4] for k, v in masked.items() if k != "imu_mask"}
        # Without CE on simulations, windows without IMU contribute nothing at all.
        assert torch.allclose(module._step(masked, "train"), module._step(only_imu, "train"))
        module.scenario["ce_sim"] = True  # ... with it, they add their simulated-path CE
        assert torch.isfinite(module._step(masked, "train"))
        assert not torch.allclose(module._step(masked, "train"), module._step(only_imu, "train"))


def test_a_batch_without_real_imu_is_skipped_where_nothing_else_learns():
    module = make_module("real_only")
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    fit_steps(module, [make_batch(imu_mask=[False] * 8)])  # would fail on a loss without grad
    assert all(torch.equal(before[n], p) for n, p in module.named_parameters())
    fit_steps(module, [make_batch(imu_mask=[True] * 8)])
    assert any(not torch.equal(before[n], p) for n, p in module.named_parameters())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["scenario.adversary.kind=gan"], "adversary.kind"),
        (["scenario.adversary.schedule=linear"], "adversary.schedule"),
        (["scenario.adversary.n_critic=0"], "n_critic"),
        (["scenario.adversary.kind=feature", "scenario.adversary.aux_classifier=true"], "aux"),
        (["scenario.adversary.kind=signal", "trainer.gradient_clip_val=1.0"], "clip"),
        (["scenario.secondary.weight=1.0"], "data.secondary"),
    ],
)
def test_impossible_scenarios_are_refused_before_any_data_is_read(overrides, message):
    from har.training.validate import validate_config

    with pytest.raises(ConfigError, match=message):
        validate_config(compose_config(overrides))


# ---- acceptance: every scenario file runs one epoch on the twin's debug split ------------------
TINY = [
    "data=mmfit_debug",
    "trainer.epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.progress_bar=false",
    "trainer.plots=false",
]
# What each scenario's results.json must show in its config.
SWITCHES = {
    "scenario2": {"gamma": 1.0, "beta": 0.5, "ce_sim": True},
    "real_only": {"gamma": 0.0, "beta": 0.0, "ce_sim": False},
    "no_mse": {"gamma": 0.0, "beta": 0.5},
    "no_similarity": {"beta": 0.0, "gamma": 1.0},
    "separate_classifiers": {"separate_classifier": True, "separate_feature_extractor": False},
    "separate_feature_extractors": {"separate_feature_extractor": True},
    "secondary_pose": {"secondary": {"weight": 0.5, "n_classes": 11}},
    "feature_discriminator": {"adversary.kind": "feature", "adversary.schedule": "dann"},
    "signal_discriminator": {"adversary.kind": "signal", "adversary.warmup_epochs": 1},
}


def _get(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_runs_one_epoch_on_the_twin(scenario, twin_overrides, tmp_path):
    cfg = compose_config([f"scenario={scenario}", *TINY, *twin_overrides])
    run_trial(cfg, tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "completed"
    switches = results["config"]["scenario"]
    assert switches["name"] == scenario
    for key, value in SWITCHES[scenario].items():
        assert _get(switches, key) == value, key
    metrics = results["final_metrics"]
    assert 0.0 <= metrics["test_f1"] <= 1.0
    assert ("test_mse" in metrics) == (scenario != "real_only")  # real_only builds no regressor
    if scenario == "secondary_pose":
        assert results["config"]["data"]["secondary"]["train_workouts"] == ["w12"]


@pytest.mark.slow
def test_scarce_real_imu_runs_in_the_adversarial_scenario(twin_overrides, tmp_path: Path):
    """Two training workouts of two people, real IMU from one: a signal critic still trains."""
    cfg = compose_config(
        ["scenario=signal_discriminator", "scenario.adversary.warmup_epochs=0", *TINY,
         "data.train_workouts=[w01,w02]", "data.imu_subjects=[1]", *twin_overrides]
    )  # fmt: skip
    run_trial(cfg, tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "completed"
    assert results["data"]["imu_subjects"] == [1]
    assert results["history"]["train_loss"][0] > 0


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_has_a_search_space_that_composes_with_it(scenario):
    from har.hpo.space import load_space, representative_overrides
    from har.launch.preflight import compose_trial_config

    space = load_space(REPO / "conf" / "hpo" / f"{scenario}_mmfit.yaml")
    compose_trial_config(REPO, [*representative_overrides(space), f"scenario={scenario}"], "test")
    # It searches only switches the scenario has on (a weight the scenario zeroes is never searched).
    cfg = compose_config([f"scenario={scenario}"])
    for key in space.params:
        if key in ("scenario.beta", "scenario.gamma"):
            assert cfg.scenario[key.split(".")[1]] > 0, key


@pytest.mark.parametrize("scenario", ["real_only", "scenario2", "feature_discriminator"])
def test_deep_conv_lstm_trains_in_every_path(scenario):
    """model/feature_extractor=deepconvlstm composes with the classifier and the discriminator
    (their widths interpolate from F's out_features) and takes Lightning steps."""
    cfg = compose_config(
        [
            f"scenario={scenario}",
            "model/feature_extractor=deepconvlstm",
            "data.sensor_window_length=64",
            "model.feature_extractor.n_filters=4",
            "model.feature_extractor.out_features=8",
        ]
    )
    module = build_module(cfg, list(CLASS_NAMES))
    assert type(module.feature_extractor).__name__ == "DeepConvLSTM"
    before = {n: p.clone() for n, p in module.feature_extractor.named_parameters()}
    fit_steps(module, [make_batch(seed=0), make_batch(seed=1)])
    after = dict(module.feature_extractor.named_parameters())
    assert any(not torch.equal(before[n], after[n]) for n in before)

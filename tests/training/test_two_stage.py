"""The virtual-IMU recipe: stage 1 fits R by MSE, stage 2 trains F+C on real + frozen-R virtual IMU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from har.errors import ConfigError
from har.training.resume import load_checkpoint
from har.training.trial import run_trial
from har.training.two_stage import stage_one_config, stage_two_config
from tests.conftest import compose_config
from tests.training.scenario_helpers import fit_steps, make_batch, make_module
from tests.training.test_scenarios import TINY


def test_stage_one_trains_r_alone_and_selects_on_validation_mse():
    first = stage_one_config(compose_config(["scenario=virtual_imu"]))
    s = first.scenario
    assert (s.alpha, s.beta, s.gamma, s.ce_real, s.ce_sim) == (0.0, 0.0, 1.0, False, False)
    assert s.recipe == "joint" and s.virtual.mapping == "none" and not s.augment.virtual
    assert first.trainer.checkpoint.monitor == first.trainer.early_stopping.monitor == "val_mse"
    assert first.trainer.checkpoint.mode == "min"
    second = stage_two_config(compose_config(["scenario=virtual_imu"]), "/x.ckpt")
    assert second.scenario.freeze_regressor and second.scenario.regressor_checkpoint == "/x.ckpt"
    assert second.scenario.gamma == 0.0 and second.scenario.virtual.mapping == "affine"


def test_a_frozen_regressor_never_changes_while_f_and_c_learn():
    module = make_module("virtual_imu", "scenario.freeze_regressor=true")
    before = {n: p.detach().clone() for n, p in module.regressor.named_parameters()}
    running = {n: b.clone() for n, b in module.regressor.named_buffers()}
    f_before = [p.detach().clone() for p in module.feature_extractor.parameters()]
    module.mapping.fitted.fill_(True)  # identity mapping: this test is about the weights
    modes: list[bool] = []
    module.regressor.register_forward_hook(lambda m, i, o: modes.append(m.training))
    fit_steps(module, [make_batch(seed=0), make_batch(seed=1)])
    assert all(torch.equal(before[n], p) for n, p in module.regressor.named_parameters())
    assert all(torch.equal(running[n], b) for n, b in module.regressor.named_buffers())
    assert modes and not any(modes)  # eval mode inside the training steps: no dropout, fixed BN
    changed = [
        not torch.equal(a, b)
        for a, b in zip(f_before, module.feature_extractor.parameters(), strict=True)
    ]
    assert any(changed)


@pytest.mark.slow
def test_one_trial_runs_both_stages_and_resumes_from_the_finished_first(twin_overrides, tmp_path):
    overrides = ["scenario=virtual_imu", *TINY, "trainer.epochs=2", *twin_overrides]
    payload = run_trial(compose_config(overrides), tmp_path)
    assert payload["status"] == "completed"
    first = json.loads((tmp_path / "stage1" / "results.json").read_text())
    assert first["status"] == "completed"
    assert first["config"]["trainer"]["checkpoint"]["monitor"] == "val_mse"
    final = payload["final_metrics"]
    assert final["stage1_test_mse"] == first["final_metrics"]["test_mse"]
    assert final["stage1_best_val_mse"] == min(first["history"]["val_mse"])
    assert {"test_f1", "stage1_test_pearson_x", "stage1_test_mae"} <= set(final)
    # Stage 2 kept stage 1's selected R, frozen, and fitted its mapping on training windows.
    selected = load_checkpoint(Path(first["checkpoint"]["best"]))["state_dict"]
    tested = load_checkpoint(Path(payload["checkpoint"]["best"]))["state_dict"]
    regressor = [k for k in selected if k.startswith("regressor.")]
    assert regressor and all(torch.equal(selected[k], tested[k]) for k in regressor)
    assert bool(tested["mapping.fitted"]) and not torch.equal(
        tested["mapping.matrix"], torch.eye(3)
    )
    assert payload["stage1"]["checkpoint"] == first["checkpoint"]["best"]

    stage_one_file = tmp_path / "stage1" / "results.json"
    stamp = stage_one_file.stat().st_mtime_ns
    again = run_trial(compose_config([*overrides, "resume=true"]), tmp_path)
    assert again["status"] == "completed"
    assert stage_one_file.stat().st_mtime_ns == stamp  # the finished stage 1 was reused
    with pytest.raises(ConfigError, match="other settings"):
        run_trial(compose_config([*overrides, "resume=true", "model.regressor.hidden=8"]), tmp_path)

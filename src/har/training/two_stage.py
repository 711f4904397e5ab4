"""The virtual-IMU recipe (``scenario.recipe=virtual_imu``, IMUTube's): two stages in one trial.

Stage 1 (run dir ``<run>/stage1/``): R alone, by MSE on the IMU subjects' training windows (the
objective's CE, similarity and adversarial terms off), checkpoint and early stopping on
``val_mse``. The physics baseline calibrates there instead of learning.

Stage 2 (``<run>/`` itself): R is loaded from stage 1's selected checkpoint and frozen; it
simulates every training window's pose (IMU and non-IMU subjects), ``scenario.virtual.mapping`` maps
the simulations onto the real distribution (fitted on IMU subjects' training windows),
``scenario.augment`` perturbs them, and F+C train on real + virtual windows (CE on virtual ones
weighted by ``scenario.virtual_weight``); checkpoints and early stopping as configured
(``val_f1`` by default). Stage 2's ``results.json`` is the trial's: its ``final_metrics`` carry
stage 1's regression quality as ``stage1_*`` and its ``stage1`` entry says where stage 1 ran.

Resume: a stage-1 ``results.json`` that says ``completed`` for the same settings is reused; an
interrupted stage resumes from its own ``last.ckpt`` (with ``resume=true``, like any run).

With a reference classifier (``model.kind=classical``) stage 2 has no network: stage 1's R
simulates every training window once (``simulated_training_windows``: mapped as above and, with
``scenario.augment.virtual``, perturbed once, since a reference sees every window once), and the
reference fits on real + virtual windows, the latter with sample weight ``scenario.virtual_weight``.
The streams R does not predict sit at their training mean (0), as in F's input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from har.classical.window_arrays import WindowSplit
from har.errors import ConfigError
from har.reporting.results import RESULTS_FILE
from har.training.module import JointHARModule
from har.training.resume import run_settings

STAGE_ONE_DIR = "stage1"
# Stage 1's metrics copied into the trial's final metrics (as stage1_<key>).
REGRESSION_KEYS = ("mse", "mae", "pearson_x", "pearson_y", "pearson_z")


def is_two_stage(cfg: DictConfig) -> bool:
    return cfg.scenario.get("recipe", "joint") == "virtual_imu"


def stage_one_config(cfg: DictConfig) -> DictConfig:
    """R alone by MSE, selected on validation MSE; no plots or predictions of a classifier."""
    first = OmegaConf.to_container(cfg, resolve=True)
    first["model"]["kind"] = "neural"  # a reference classifier's R is fitted like any other
    s = first["scenario"]
    s.update(alpha=0.0, beta=0.0, gamma=1.0, ce_real=False, ce_sim=False, recipe="joint")
    s.update(freeze_regressor=False, regressor_checkpoint=None)
    s["virtual"] = {"mapping": "none"}
    s["augment"] = {**s.get("augment", {}), "real": False, "virtual": False}
    s["adversary"] = {**s.get("adversary", {}), "kind": "none"}
    s["secondary"] = {**s.get("secondary", {}), "weight": 0.0}
    t = first["trainer"]
    t["checkpoint"].update(monitor="val_mse", mode="min", filename="epoch{epoch}-mse{val_mse:.4f}")
    t["early_stopping"].update(monitor="val_mse", mode="min")
    t.update(plots=False, val_predictions=False)
    return OmegaConf.create(first)


def stage_two_config(cfg: DictConfig, regressor_checkpoint: str) -> DictConfig:
    """F+C on real + virtual windows of the frozen stage-1 R."""
    second = OmegaConf.to_container(cfg, resolve=True)
    second["scenario"].update(
        freeze_regressor=True, regressor_checkpoint=regressor_checkpoint, gamma=0.0
    )
    return OmegaConf.create(second)


def completed_stage_one(cfg_one: DictConfig, run_dir: Path) -> dict[str, Any] | None:
    """Stage 1's payload if it already completed with these settings (else it runs or resumes)."""
    path = run_dir / STAGE_ONE_DIR / RESULTS_FILE
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if payload.get("status") != "completed":
        return None
    if run_settings(OmegaConf.create(payload.get("config", {}))) != run_settings(cfg_one):
        raise ConfigError(
            f"{path} was trained with other settings than this run's stage 1: start a new run "
            "dir (hydra.run.dir=...) or delete that stage1/ folder"
        )
    return payload


def stage_one_checkpoint(payload: dict[str, Any], run_dir: Path) -> str:
    best = (payload.get("checkpoint") or {}).get("best")
    if not best:
        raise ConfigError(
            f"{run_dir / STAGE_ONE_DIR} selected no checkpoint (trainer.enable_checkpointing or "
            "trainer.checkpoint.enabled is off): the virtual-IMU recipe needs stage 1's best R"
        )
    return str(best)


def stage_one_summary(payload: dict[str, Any], run_dir: Path) -> dict[str, float]:
    """Stage 1's regression quality: ``stage1_test_<metric>`` of its selected checkpoint (the test
    participants are never seen in training), ``stage1_best_val_mse`` that selected it."""
    final = payload.get("final_metrics", {})
    summary = {
        f"stage1_test_{key}": final[f"test_{key}"]
        for key in REGRESSION_KEYS
        if f"test_{key}" in final
    }
    history = payload.get("history", {}).get("val_mse") or []
    finite = [v for v in history if v is not None]
    if finite:
        summary["stage1_best_val_mse"] = min(finite)
    summary["stage1_epochs_run"] = final.get("epochs_run")
    return summary


SIMULATION_CHUNK = 512  # windows simulated per call (bounds R's activations)


@torch.no_grad()
def simulated_training_windows(module: JointHARModule, datamodule: Any) -> WindowSplit:
    """Every training window as the frozen R simulates it, standardised like the real windows."""
    assert module.regressor is not None and module.mapping is not None, "a virtual_imu module"
    dataset = datamodule.datasets["train"]
    stats = datamodule.acc_stats
    module.augmentation.set_units(torch.as_tensor(stats.mean), torch.as_tensor(stats.std))
    module.eval()

    def batches() -> Iterator[dict[str, torch.Tensor]]:
        for part in torch.split(torch.arange(len(dataset)), SIMULATION_CHUNK):
            yield dataset.__getitems__(part.tolist())

    if not bool(module.mapping.fitted):  # R's view of the IMU subjects' windows: its channels
        module.mapping.fit_on(
            module.regressor, ({**b, "acc": module.regressed(b["acc"])} for b in batches())
        )
    augment = module.scenario["augment"]["virtual"]
    module.augmentation.train(augment)
    xs, ys = [], []
    for batch in batches():
        virtual = module.f_input(module.simulate(batch["pose"]))
        xs.append(module.augmentation(virtual).cpu().numpy())
        ys.append(batch["label"].cpu().numpy())
    return WindowSplit(x=np.concatenate(xs), y=np.concatenate(ys).astype(np.int64))

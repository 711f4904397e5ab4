"""Building scenario modules and synthetic batches for the scenario and guard tests."""

from __future__ import annotations

import copy
import functools

import lightning.pytorch as pl
import torch
import yaml
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from har.data.sources.mmfit.format import CLASS_NAMES
from har.training.module import JointHARModule
from har.training.trial import build_module
from tests.conftest import compose_config

SCENARIOS = (
    "scenario2",
    "real_only",
    "no_mse",
    "no_similarity",
    "separate_classifiers",
    "separate_feature_extractors",
    "secondary_pose",
    "feature_discriminator",
    "signal_discriminator",
)
# Small networks and short windows: the tests check wiring, not learning.
SMALL = (
    "data.sensor_window_length=64",
    "model.regressor.hidden=8",
    "model.regressor.fc_hidden=8",
    "model.feature_extractor.n_filters=4",
    "model.feature_extractor.out_features=16",
    "scenario.adversary.hidden=8",
    "scenario.adversary.n_critic=2",
)
T = 64


@functools.cache
def _base_config(scenario: str) -> DictConfig:
    return compose_config([f"scenario={scenario}", *SMALL])


def make_module(scenario: str = "scenario2", *overrides: str) -> JointHARModule:
    """The scenario's module with ``key=value`` overrides (composing once per scenario: fast)."""
    cfg = copy.deepcopy(_base_config(scenario))
    for override in overrides:
        key, value = override.split("=", 1)
        OmegaConf.update(cfg, key, yaml.safe_load(value), merge=False)
    return build_module(cfg, list(CLASS_NAMES))


def make_batch(b: int = 8, seed: int = 0, secondary: bool = False, imu_mask=None) -> dict:
    g = torch.Generator().manual_seed(seed)
    batch = {
        "pose": torch.randn(b, 3, 3, T, generator=g),
        "acc": torch.randn(b, 3, T, generator=g),
        "label": torch.randint(0, len(CLASS_NAMES), (b,), generator=g),
    }
    if imu_mask is not None:
        batch["imu_mask"] = torch.as_tensor(imu_mask, dtype=torch.bool)
    if not secondary:
        return batch
    pose_only = {
        "pose": torch.randn(b, 3, 3, T, generator=g),
        "label": torch.randint(0, len(CLASS_NAMES), (b,), generator=g),
    }
    return {"paired": batch, "secondary": pose_only}


def needs_secondary(scenario: str) -> bool:
    return scenario == "secondary_pose"


def fit_steps(module: JointHARModule, batches: list[dict], secondary: bool = False) -> pl.Trainer:
    """Run ``len(batches)`` training steps of a real Lightning Trainer (manual optimisation too)."""
    paired = [b["paired"] if secondary else b for b in batches]
    loaders = DataLoader(paired, batch_size=None)
    if secondary:
        pose_only = [b["secondary"] for b in batches]
        loaders = {"paired": loaders, "secondary": DataLoader(pose_only, batch_size=None)}
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(module, train_dataloaders=loaders)
    return trainer

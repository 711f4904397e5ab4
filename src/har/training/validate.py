"""Checks of values that cannot work, made before any data is read."""

from __future__ import annotations

from collections.abc import Sequence

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from har.classical.fit import is_classical
from har.errors import ConfigError
from har.training.scenario_spec import check_scenario, trains_sim_path

# Compared with numbers below: a string given there (optim.lr=abc) is named instead of crashing.
NUMERIC_KEYS = (
    "optim.lr", "optim.weight_decay", "trainer.epochs", "scenario.alpha", "scenario.beta",
    "scenario.gamma", "data.sensor_window_length", "data.stride_seconds", "data.batch_size",
    "model.regressor.sequence_length",
)  # fmt: skip
# Keys a model may not have: the physics regressor (model/regressor=physics) learns no context.
OPTIONAL_KEYS = ("model.regressor.sequence_length",)


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def validate_config(cfg: DictConfig) -> None:
    for key in NUMERIC_KEYS:
        value = OmegaConf.select(cfg, key)
        if value is None and key in OPTIONAL_KEYS:
            continue
        _require(
            isinstance(value, (int, float)) and not isinstance(value, bool),
            key,
            f"must be a number, got {value!r}",
        )
    o, s, t, d = cfg.optim, cfg.scenario, cfg.trainer, cfg.data
    _require(
        not d.get("pose_only", False),
        "data",
        f"{d.get('dataset_name')} is pose-only (no IMU to classify): train on paired data and add "
        "it as data.secondary (e.g. +data@data.secondary=ntu_synth)",
    )
    _require(o.lr > 0, "optim.lr", f"must be > 0, got {o.lr}")
    _require(o.weight_decay >= 0, "optim.weight_decay", f"must be >= 0, got {o.weight_decay}")
    _require(t.epochs >= 1, "trainer.epochs", f"must be >= 1, got {t.epochs}")
    check_scenario(
        OmegaConf.to_container(s, resolve=True),
        gradient_clip_val=t.gradient_clip_val,
        has_secondary_data=d.get("secondary") is not None,
    )
    _require(d.sensor_window_length >= 2, "data.sensor_window_length", "must be >= 2 samples")
    _require(d.stride_seconds > 0, "data.stride_seconds", f"must be > 0, got {d.stride_seconds}")
    _require(d.batch_size >= 1, "data.batch_size", f"must be >= 1, got {d.batch_size}")
    _require(
        t.early_stopping.mode in ("min", "max"), "trainer.early_stopping.mode", "must be min or max"
    )
    _require(t.checkpoint.mode in ("min", "max"), "trainer.checkpoint.mode", "must be min or max")
    if is_classical(cfg.model):
        validate_classical(cfg)
    else:
        validate_model(cfg)


def validate_classical(cfg: DictConfig) -> None:
    """A reference classifier learns from real IMU, and from stage 1's simulations under
    scenario=virtual_imu; no other scenario's simulated path reaches it."""
    name = cfg.model.get("name", "classical")
    scenario = OmegaConf.to_container(cfg.scenario, resolve=True)
    _require(
        not trains_sim_path(scenario) or scenario.get("recipe") == "virtual_imu",
        "scenario",
        f"model={name} learns from real IMU or from real + virtual windows, but scenario="
        f"{cfg.scenario.name} trains R jointly: add scenario=real_only or scenario=virtual_imu",
    )
    if trains_sim_path(scenario):
        validate_model(cfg)  # stage 1 fits this R
    instantiate(cfg.model.estimator)  # its own checks, before any data is read


def validate_model(cfg: DictConfig) -> None:
    """Build R, F and C from the config (small, fast) so that their own checks run before any data
    is read, and check that the regressor's context fits in one window."""
    window, context = cfg.data.sensor_window_length, cfg.model.regressor.get("sequence_length")
    _require(
        context is None or context <= window,
        "model.regressor.sequence_length",
        f"{context} samples of context (the regressor's receptive field) do not fit in "
        f"data.sensor_window_length={window}: lower it or lengthen the window",
    )
    # What the module builds: no regressor when no term goes through it (real_only), which is
    # also how an IMU-only data set (no data.joints) trains.
    # (A ConfigError comes wrapped: har.cli.as_user_error.)
    if trains_sim_path(OmegaConf.to_container(cfg.scenario, resolve=True)):
        instantiate(cfg.model.regressor)
    f = instantiate(cfg.model.feature_extractor)
    instantiate(cfg.model.classifier, f_in=f.out_features)


def validate_against_data(
    cfg: DictConfig,
    num_classes: int,
    imu_channels: int,
    sessions_without_pose: Sequence[str] = (),
) -> None:
    """The config must describe the data that was actually read, and the scenario must not need
    pose that IMU-only sessions lack."""
    if sessions_without_pose and trains_sim_path(
        OmegaConf.to_container(cfg.scenario, resolve=True)
    ):
        missing = list(sessions_without_pose)
        named = ", ".join(missing[:5]) + (
            f" ... ({len(missing)} in all)" if len(missing) > 5 else ""
        )
        raise ConfigError(
            f"scenario={cfg.scenario.name} trains the simulated path from pose, but sessions "
            f"{named} have no pose: use scenario=real_only (or give every session pose)"
        )
    _require(
        cfg.data.n_classes == num_classes,
        "data.n_classes",
        f"is {cfg.data.n_classes} but the labels have {num_classes} classes",
    )
    _require(
        cfg.data.imu_channels == imu_channels,
        "data.imu_channels",
        f"is {cfg.data.imu_channels} but data.sensors={list(cfg.data.get('sensors', []))} hold "
        f"{imu_channels} channels",
    )

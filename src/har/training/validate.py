"""Checks of values that cannot work, made before any data is read or model built."""

from __future__ import annotations

from omegaconf import DictConfig

from har.errors import ConfigError
from har.training.losses import SIMILARITIES


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def validate_config(cfg: DictConfig) -> None:
    o, s, t, d = cfg.optim, cfg.scenario, cfg.trainer, cfg.data
    _require(o.lr >= 0, "optim.lr", f"must be >= 0, got {o.lr}")
    _require(o.weight_decay >= 0, "optim.weight_decay", f"must be >= 0, got {o.weight_decay}")
    _require(t.epochs >= 1, "trainer.epochs", f"must be >= 1, got {t.epochs}")
    for key in ("alpha", "beta", "gamma"):
        _require(s[key] >= 0, f"scenario.{key}", f"must be >= 0, got {s[key]}")
    _require(
        s.similarity in SIMILARITIES,
        "scenario.similarity",
        f"must be one of {SIMILARITIES}, got {s.similarity!r}",
    )
    _require(d.sensor_window_length >= 2, "data.sensor_window_length", "must be >= 2 samples")
    _require(d.stride_seconds > 0, "data.stride_seconds", f"must be > 0, got {d.stride_seconds}")
    _require(d.batch_size >= 1, "data.batch_size", f"must be >= 1, got {d.batch_size}")
    _require(
        t.early_stopping.mode in ("min", "max"), "trainer.early_stopping.mode", "must be min or max"
    )
    _require(t.checkpoint.mode in ("min", "max"), "trainer.checkpoint.mode", "must be min or max")


def validate_against_data(cfg: DictConfig, num_classes: int, imu_channels: int) -> None:
    """The config must describe the data that was actually read."""
    _require(
        cfg.data.n_classes == num_classes,
        "data.n_classes",
        f"is {cfg.data.n_classes} but the labels have {num_classes} classes",
    )
    _require(
        cfg.data.imu_channels == imu_channels,
        "data.imu_channels",
        f"is {cfg.data.imu_channels} but {cfg.data.sensor} has {imu_channels} channels",
    )

"""Build the Lightning Trainer, its loggers and callbacks from ``cfg.trainer``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger
from omegaconf import DictConfig, OmegaConf

from har.errors import ConfigError

log = logging.getLogger("har")

ACCELERATORS = {"auto": "auto", "cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "mps": "mps"}


def build_loggers(cfg: DictConfig, run_dir: Path) -> list[Logger]:
    """The CSV log is always written; TensorBoard and W&B are added on request."""
    t = cfg.trainer
    loggers: list[Logger] = [CSVLogger(save_dir=str(run_dir), name="csv", version="")]
    if t.logger == "tensorboard":
        try:
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version=""))
        except ModuleNotFoundError as err:
            log.warning("TensorBoard logging skipped (%s): pip install tensorboard", err)
    if t.logger == "wandb" or t.wandb.enabled:
        wandb_logger = _wandb_logger(cfg, run_dir)
        if wandb_logger is not None:
            loggers.append(wandb_logger)
    return loggers


def _wandb_logger(cfg: DictConfig, run_dir: Path) -> Logger | None:
    w = cfg.trainer.wandb
    try:
        import wandb  # noqa: F401
        from lightning.pytorch.loggers import WandbLogger
    except ModuleNotFoundError:
        log.warning("wandb is not installed: continuing without W&B logging (pip install wandb)")
        return None
    return WandbLogger(
        project=w.project,
        entity=w.entity,
        group=w.group,
        name=w.name,
        tags=list(w.tags or []),
        mode=w.mode,
        save_dir=str(run_dir),
        config=OmegaConf.to_container(cfg, resolve=True),
    )


def build_checkpoint(cfg: DictConfig, run_dir: Path) -> ModelCheckpoint | None:
    t = cfg.trainer
    if not (t.enable_checkpointing and t.checkpoint.enabled):
        return None
    c = t.checkpoint
    return ModelCheckpoint(
        dirpath=str(run_dir / c.dirpath),
        filename=c.filename,
        monitor=c.monitor,
        mode=c.mode,
        save_top_k=c.save_top_k,
        save_last=True,
        auto_insert_metric_name=False,
    )


def build_trainer(cfg: DictConfig, run_dir: Path, callbacks: list[Callback]) -> pl.Trainer:
    t = cfg.trainer
    if cfg.device not in ACCELERATORS:
        raise ConfigError(f"device={cfg.device!r} is not one of {sorted(ACCELERATORS)}")
    callbacks = list(callbacks)
    checkpoint = build_checkpoint(cfg, run_dir)
    if checkpoint is not None:
        callbacks.append(checkpoint)
    if t.early_stopping.enabled:
        e = t.early_stopping
        callbacks.append(EarlyStopping(monitor=e.monitor, mode=e.mode, patience=e.patience))
    kwargs: dict[str, Any] = {}
    if t.gradient_clip_val > 0:
        kwargs["gradient_clip_val"] = t.gradient_clip_val
    return pl.Trainer(
        default_root_dir=str(run_dir),
        max_epochs=t.epochs,
        limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches,
        limit_test_batches=t.limit_test_batches,
        accelerator=ACCELERATORS[cfg.device],
        devices=t.devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        precision=t.precision,
        deterministic=t.deterministic,
        logger=build_loggers(cfg, run_dir),
        callbacks=callbacks,
        enable_checkpointing=checkpoint is not None,
        enable_progress_bar=t.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=t.log_every_n_steps,
        num_sanity_val_steps=0,
        **kwargs,
    )

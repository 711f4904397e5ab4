"""Build the Lightning Trainer, its loggers and callbacks from ``cfg.trainer``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf

from har.errors import ConfigError
from har.training.acceleration import DataOnDevice

log = logging.getLogger("har")

ACCELERATORS = {"auto": "auto", "cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "mps": "mps"}


LOGGERS = ("csv", "tensorboard", "wandb")


def build_loggers(cfg: DictConfig, run_dir: Path) -> list[Logger]:
    """The CSV log is always written; TensorBoard and W&B are added on request.

    Every logger also gets the run's headline settings (``run_settings_summary``) as hyperparameters,
    beside the module's own (model, scenario, optim) that Lightning logs at fit start.
    """
    t = cfg.trainer
    if t.logger not in LOGGERS:
        raise ConfigError(f"trainer.logger={t.logger!r} is not one of {LOGGERS}")
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
    for logger in loggers:
        logger.log_hyperparams(run_settings_summary(cfg))
    return loggers


def run_settings_summary(cfg: DictConfig) -> dict[str, Any]:
    """The settings a dashboard filters and groups runs by, as flat top-level keys."""
    return {
        "alpha": cfg.scenario.alpha,
        "beta": cfg.scenario.beta,
        "gamma": cfg.scenario.gamma,
        "lr": cfg.optim.lr,
        "weight_decay": cfg.optim.weight_decay,
        "epochs": cfg.trainer.epochs,
        "dataset": cfg.data.dataset_name,
        "scenario_name": cfg.scenario.name,
        "seed": cfg.seed,
    }


def _wandb_logger(cfg: DictConfig, run_dir: Path) -> Logger | None:
    """W&B with ``trainer.wandb.*``; a null field is left to wandb, so ``WANDB_MODE``,
    ``WANDB_PROJECT``, ``WANDB_ENTITY`` and ``WANDB_API_KEY`` in the environment apply."""
    w = cfg.trainer.wandb
    if w.mode == "disabled":
        log.info("trainer.wandb.mode=disabled: no W&B run")
        return None
    try:
        import wandb  # noqa: F401
        from lightning.pytorch.loggers import WandbLogger
    except ImportError as err:  # not installed, or installed but broken
        log.warning("wandb cannot be imported (%s): continuing without W&B logging", err)
        return None
    settings = {
        "project": w.project,
        "entity": w.entity,
        "group": w.group,
        # Default: the run dir's last two parts (<study or date>/<trial, seed or time>).
        "name": w.name or f"{run_dir.parent.name}/{run_dir.name}",
        "tags": list(w.tags or []) or None,
        "mode": w.mode,
    }
    config = OmegaConf.to_container(cfg, resolve=True) | run_settings_summary(cfg)
    return WandbLogger(
        save_dir=str(run_dir),
        config=config,
        **{key: value for key, value in settings.items() if value is not None},
    )


def finish_loggers(trainer: pl.Trainer, payload: dict[str, Any]) -> None:
    """Close the W&B run with results.json's final metrics and status as its summary, so the
    dashboard and the file agree (an offline run's directory is complete once this returns)."""
    from lightning.pytorch.loggers import WandbLogger

    for logger in trainer.loggers:
        if not isinstance(logger, WandbLogger) or logger._experiment is None:
            continue
        try:
            run = logger.experiment
            metrics = payload.get("final_metrics") or {}
            run.summary.update({k: v for k, v in metrics.items() if v is not None})
            run.summary["status"] = payload.get("status")
            run.finish(exit_code=0 if payload.get("status") in ("completed", "pruned") else 1)
        except Exception as error:  # results.json already holds the truth; W&B is a copy
            log.warning("closing the W&B run failed: %s: %s", type(error).__name__, error)


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


def cluster_plugins(cfg: DictConfig) -> list[SLURMEnvironment]:
    """In a SLURM job step (srun), Lightning's SLURMEnvironment takes ranks and addresses from SLURM
    and owns requeue: on USR1 (the launchers forward SLURM's time-limit warning) it saves
    ``hpc_ckpt_<n>.ckpt`` into the run dir and runs ``scontrol requeue``; the requeued job resumes
    from it (``resume=true``, see har.training.resume). Not in an HPO trial: its worker's script
    owns requeue there, and Lightning would requeue the whole worker from inside one trial."""
    if not SLURMEnvironment.detect():
        return []
    return [SLURMEnvironment(auto_requeue=not cfg.optuna.storage)]


def build_trainer(cfg: DictConfig, run_dir: Path, callbacks: list[Callback]) -> pl.Trainer:
    t = cfg.trainer
    if cfg.device not in ACCELERATORS:
        raise ConfigError(f"device={cfg.device!r} is not one of {sorted(ACCELERATORS)}")
    callbacks = [*callbacks, DataOnDevice(t.data_on_device)]
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
        plugins=cluster_plugins(cfg),
        **kwargs,
    )

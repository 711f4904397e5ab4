"""Build the Lightning Trainer, its loggers and callbacks from ``cfg.trainer``."""

from __future__ import annotations

import csv
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf
from torch import nn

from har.errors import ConfigError
from har.training.acceleration import DataOnDevice
from har.training.resume import LAST_CHECKPOINT

log = logging.getLogger("har")

ACCELERATORS = {"auto": "auto", "cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "mps": "mps"}


LOGGERS = ("csv", "tensorboard", "wandb")
WANDB_RUN_ID_FILE = "wandb_run_id"


def build_loggers(cfg: DictConfig, run_dir: Path, resumed_step: int | None = None) -> list[Logger]:
    """The CSV log is always written; TensorBoard and W&B are added on request. A resumed run
    (``resumed_step``: the checkpoint's global step) continues the killed attempt's CSV log.

    Every logger also gets the run's headline settings (``run_settings_summary``) as hyperparameters,
    beside the module's own (model, scenario, optim) that Lightning logs at fit start.
    """
    t = cfg.trainer
    if t.logger not in LOGGERS:
        raise ConfigError(f"trainer.logger={t.logger!r} is not one of {LOGGERS}")
    loggers: list[Logger] = [ContinuedCSVLogger(run_dir, resumed_step)]
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


class ContinuedCSVLogger(CSVLogger):
    """``csv/metrics.csv``; in a resumed run, the killed attempt's rows before the checkpoint's
    step are kept and the new ones appended (Lightning's writer would delete the file, and with it
    the epochs before the kill). Rows from the checkpoint's step on are re-logged by the resumed
    run, so they are dropped rather than doubled."""

    def __init__(self, run_dir: Path, resumed_step: int | None) -> None:
        super().__init__(save_dir=str(run_dir), name="csv", version="")
        self.resumed_step = resumed_step

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is not None or self.resumed_step is None or not is_rank_zero_process():
            return super().experiment  # (other DDP ranks get Lightning's dummy writer)
        path = Path(self.log_dir) / "metrics.csv"
        header, kept = _rows_before_step(path, self.resumed_step)
        path.unlink(missing_ok=True)  # nothing left for the new writer to delete
        writer = super().experiment
        if kept:
            with path.open("w", newline="") as file:
                table = csv.DictWriter(file, fieldnames=header)
                table.writeheader()
                table.writerows(kept)
            writer.metrics_keys = list(header)  # later rows append under this header
        return writer


def _rows_before_step(path: Path, step: int) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        return [], []
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        rows = [row for row in reader if row.get("step") and int(float(row["step"])) < step]
        return list(reader.fieldnames or []), rows


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
        id=_wandb_run_id(run_dir, cfg.resume),
        resume="allow",
        **{key: value for key, value in settings.items() if value is not None},
    )


def _wandb_run_id(run_dir: Path, resume: bool) -> str:
    """One W&B run per run dir: a resumed run (``resume=true``, a SLURM requeue) continues the
    killed attempt's W&B run instead of starting a second one."""
    path = run_dir / WANDB_RUN_ID_FILE
    if resume and path.is_file():
        return path.read_text().strip()
    run_id = secrets.token_hex(4)  # W&B's own ids: 8 characters of [0-9a-z]
    if is_rank_zero_process():
        path.write_text(run_id + "\n")
    return run_id


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


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` after every validation, what ``resume=true`` continues from.

    Lightning's ``save_last=True`` rewrites last.ckpt only in an epoch whose monitored score made
    the top k, so a run killed on a plateau would resume epochs back and redo them.
    """

    def __init__(self, dirpath: str) -> None:
        super().__init__(
            dirpath=dirpath,
            filename=LAST_CHECKPOINT.removesuffix(".ckpt"),
            monitor=None,  # with save_top_k=1: the latest epoch, replacing the one before
            save_top_k=1,
            enable_version_counter=False,  # a resumed run overwrites the file it resumed from
        )


def build_checkpoints(cfg: DictConfig, run_dir: Path) -> list[ModelCheckpoint]:
    """The best ``save_top_k`` by ``trainer.checkpoint.monitor`` (first: ``trainer.checkpoint_callback``,
    which the test split is evaluated with) and ``last.ckpt``; none when checkpointing is off."""
    t = cfg.trainer
    if not (t.enable_checkpointing and t.checkpoint.enabled):
        return []
    c = t.checkpoint
    best = ModelCheckpoint(
        dirpath=str(run_dir / c.dirpath),
        filename=c.filename,
        monitor=c.monitor,
        mode=c.mode,
        save_top_k=c.save_top_k,
        auto_insert_metric_name=False,
    )
    return [best, LastCheckpoint(str(run_dir / c.dirpath))]


def is_rank_zero_process() -> bool:
    """Before the Trainer exists: does this process write the run's files? DDP ranks > 0 only
    train. Lightning's launcher gives its ranks LOCAL_RANK (and NODE_RANK), srun SLURM_PROCID,
    torchrun RANK; Lightning derives ``rank_zero_only.rank`` from those at import."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0


def cluster_plugins(cfg: DictConfig) -> list[SLURMEnvironment]:
    """In a SLURM job step (srun), Lightning's SLURMEnvironment takes ranks and addresses from SLURM
    and owns requeue: on USR1 (the launchers forward SLURM's time-limit warning) it saves
    ``hpc_ckpt_<n>.ckpt`` into the run dir and runs ``scontrol requeue``; the requeued job resumes
    from it (``resume=true``, see har.training.resume). Not in an HPO trial: its worker's script
    owns requeue there, and Lightning would requeue the whole worker from inside one trial."""
    if not SLURMEnvironment.detect():
        return []
    return [SLURMEnvironment(auto_requeue=not cfg.optuna.storage)]


def build_trainer(
    cfg: DictConfig, run_dir: Path, callbacks: list[Callback], resumed_step: int | None = None
) -> pl.Trainer:
    t = cfg.trainer
    if cfg.device not in ACCELERATORS:
        raise ConfigError(f"device={cfg.device!r} is not one of {sorted(ACCELERATORS)}")
    callbacks = [*callbacks, DataOnDevice(t.data_on_device)]
    checkpoints = build_checkpoints(cfg, run_dir)
    callbacks.extend(checkpoints)
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
        logger=build_loggers(cfg, run_dir, resumed_step),
        callbacks=callbacks,
        enable_checkpointing=bool(checkpoints),
        enable_progress_bar=t.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=t.log_every_n_steps,
        num_sanity_val_steps=0,
        plugins=cluster_plugins(cfg),
        **kwargs,
    )


OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
SCHEDULERS = ("none", "cosine")


def build_optimizers(
    module: pl.LightningModule, optim: Mapping[str, Any], critic: nn.Module | None, critic_lr: float
) -> Any:
    """``configure_optimizers``' answer: ``optim.name`` over every trainable parameter except the
    critic's, which has its own Adam (beta1 = 0.5, beta2 = 0.9: the setting WGAN-GP was published
    with), and ``optim.scheduler`` over ``max_epochs``."""
    name, scheduler = optim.get("name", "adamw"), optim.get("scheduler", "none")
    if name not in OPTIMIZERS:
        raise ConfigError(f"optim.name={name!r} is not one of {sorted(OPTIMIZERS)}")
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"optim.scheduler={scheduler!r} is not one of {list(SCHEDULERS)}")
    critic_ids = {id(p) for p in critic.parameters()} if critic is not None else set()
    main_params = [p for p in module.parameters() if p.requires_grad and id(p) not in critic_ids]
    extra = {"momentum": optim.get("momentum", 0.9)} if name == "sgd" else {}
    optimizer = OPTIMIZERS[name](
        main_params, lr=optim["lr"], weight_decay=optim["weight_decay"], **extra
    )
    schedulers = []
    if scheduler == "cosine":
        schedulers.append(
            torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(1, module.hparams.max_epochs)
            )
        )
    if critic is None:
        return {"optimizer": optimizer, "lr_scheduler": schedulers[0]} if schedulers else optimizer
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=critic_lr, betas=(0.5, 0.9))
    return [optimizer, critic_optimizer], schedulers

"""One training trial: data, model, fit, test of the validation-selected checkpoint, results.json."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from har.reporting.results import ResultsFile
from har.training.callbacks import EpochHistory
from har.training.module import JointHARModule
from har.training.trainer import build_trainer
from har.training.validate import validate_against_data, validate_config

log = logging.getLogger("har")


def build_module(cfg: DictConfig, class_names: list[str]) -> JointHARModule:
    container = OmegaConf.to_container(cfg, resolve=True)
    return JointHARModule(
        model=container["model"],
        scenario=container["scenario"],
        optim=container["optim"],
        class_names=list(class_names),
        max_epochs=cfg.trainer.epochs,
    )


def _resume_checkpoint(cfg: DictConfig, run_dir: Path) -> str | None:
    if not cfg.resume:
        return None
    last = run_dir / cfg.trainer.checkpoint.dirpath / "last.ckpt"
    if last.exists():
        log.info("resuming from %s", last)
        return str(last)
    log.warning("resume=true but %s does not exist: starting from scratch", last)
    return None


def run_trial(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train and test one configuration; returns the results payload (also in results.json)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(run_dir, OmegaConf.to_container(cfg, resolve=True))
    results.start()
    history = EpochHistory()
    try:
        validate_config(cfg)
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = instantiate(cfg.data, _recursive_=False)
        datamodule.prepare_data()
        datamodule.setup("fit")
        validate_against_data(cfg, datamodule.num_classes, datamodule.imu_channels)
        module = build_module(cfg, datamodule.class_names)

        callbacks: list[pl.Callback] = [history]
        pruning = _pruning_callback(cfg)
        if pruning is not None:
            callbacks.append(pruning)
        trainer = build_trainer(cfg, run_dir, callbacks)

        fit_start = time.time()
        trainer.fit(module, datamodule=datamodule, ckpt_path=_resume_checkpoint(cfg, run_dir))
        fit_s = time.time() - fit_start
        if pruning is not None and pruning.pruned:
            results.finish(
                "pruned", history=history.history, final_metrics=_val_metrics(cfg, history)
            )
            return results.payload

        checkpoint = trainer.checkpoint_callback
        best_path = getattr(checkpoint, "best_model_path", "") or None
        test_start = time.time()
        test_metrics = trainer.test(
            module, datamodule=datamodule, ckpt_path=best_path, verbose=False
        )[0]
        final = _val_metrics(cfg, history) | {k: float(v) for k, v in test_metrics.items()}
        results.finish(
            "completed",
            history=history.history,
            final_metrics=final,
            checkpoint={"best": best_path, "tested": "best" if best_path else "final-weights"},
            data={"window_counts": getattr(datamodule, "window_counts", None)},
            timing={
                "first_step_unix": history.first_step_unix,
                "fit_s": fit_s,
                "test_s": time.time() - test_start,
            },
        )
        return results.payload
    except BaseException as err:  # record every failure, including Ctrl-C, then re-raise
        results.fail(err, history=history.history)
        raise


def _val_metrics(cfg: DictConfig, history: EpochHistory) -> dict[str, float | None]:
    return {
        "train_loss_last": history.last("train_loss"),
        "val_loss_last": history.last("val_loss"),
        "val_f1_last": history.last("val_f1"),
        "best_val_f1": history.best("val_f1", "max"),
        "best_val_loss": history.best("val_loss", "min"),
        "epochs_run": len(history.history["epoch"]),
    }


def _pruning_callback(cfg: DictConfig) -> pl.Callback | None:
    o = cfg.optuna
    if not o.storage:
        return None
    from har.hpo.pruning import OptunaPruning  # optuna is imported only by HPO trials

    return OptunaPruning(
        storage=o.storage,
        study_name=o.study_name,
        trial_number=o.trial_number,
        pruner=o.pruner,
        monitor=o.monitor,
        direction=o.direction,
    )

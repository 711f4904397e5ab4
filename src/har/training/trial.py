"""One training trial: data, model, fit, test of the validation-selected checkpoint, results.json."""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from har.classical.fit import fit_and_predict, is_classical
from har.data.with_secondary import build_datamodule
from har.errors import as_user_error
from har.reporting.results import ResultsFile
from har.training import two_stage
from har.training.acceleration import compile_networks, configure_torch
from har.training.callbacks import EpochHistory, ValidationPredictions
from har.training.metrics import StageMetrics
from har.training.module import JointHARModule
from har.training.resume import (
    RNGStateCheckpoint,
    RunSettingsRecord,
    find_resume_point,
    run_settings,
)
from har.training.trainer import build_trainer, finish_loggers, is_rank_zero_process
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


def run_trial(
    cfg: DictConfig, run_dir: Path, extra_callbacks: Sequence[pl.Callback] = ()
) -> dict[str, Any]:
    """Train and test one configuration; returns the results payload (also in results.json).

    ``extra_callbacks`` come from the caller (an HPO trial passes its pruning callback, so training
    never imports HPO). One whose ``pruned`` attribute is true after fitting ends the run as
    ``pruned``: validation metrics only, no test. The virtual-IMU recipe runs its two stages here
    (``har.training.two_stage``); the callbacks watch the second. A ``model.kind=classical`` model
    (a reference classifier, ``har.classical``) is fitted without Lightning: ``_run_classical``.
    """
    if not two_stage.is_two_stage(cfg):
        return run_stage(cfg, run_dir, extra_callbacks)
    cfg_one = two_stage.stage_one_config(cfg)
    first = two_stage.completed_stage_one(cfg_one, run_dir)
    if first is None:
        log.info("virtual_imu stage 1: R by MSE | run dir: %s", run_dir / two_stage.STAGE_ONE_DIR)
        first = run_stage(cfg_one, run_dir / two_stage.STAGE_ONE_DIR)
    checkpoint = two_stage.stage_one_checkpoint(first, run_dir)
    log.info("virtual_imu stage 2: F+C on real + virtual IMU of the frozen R (%s)", checkpoint)
    return run_stage(
        two_stage.stage_two_config(cfg, checkpoint),
        run_dir,
        extra_callbacks,
        extra_metrics=two_stage.stage_one_summary(first, run_dir),
        record={
            "stage1": {"run_dir": str(run_dir / two_stage.STAGE_ONE_DIR), "checkpoint": checkpoint}
        },
    )


def run_stage(
    cfg: DictConfig,
    run_dir: Path,
    extra_callbacks: Sequence[pl.Callback] = (),
    extra_metrics: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One fit + test into ``run_dir`` (a whole trial, or one stage of a two-stage recipe);
    ``extra_metrics`` join the final metrics and ``record`` the top level of results.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(
        run_dir, OmegaConf.to_container(cfg, resolve=True), writes=is_rank_zero_process()
    )
    results.start()
    history = EpochHistory()
    trainer: pl.Trainer | None = None
    try:
        validate_config(cfg)
        configure_torch(cfg.trainer.threads)
        if is_classical(cfg.model):
            return _run_classical(cfg, run_dir, results, extra_metrics, record)
        resume = find_resume_point(cfg, run_dir)  # a mismatching checkpoint fails before data
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = build_datamodule(cfg.data)  # with data.secondary attached, if any
        datamodule.prepare_data()
        datamodule.setup("fit")
        validate_against_data(
            cfg,
            datamodule.num_classes,
            datamodule.imu_channels,
            getattr(datamodule, "sessions_without_pose", ()),
        )
        module = build_module(cfg, datamodule.class_names)
        if resume is not None:
            resume.check_weights_fit(module)
        if cfg.trainer.compile:
            compile_networks(module)  # in place: state_dict keys and checkpoints stay eager

        # The RNG states and the run's settings go into every checkpoint, for a faithful resume.
        callbacks: list[pl.Callback] = [
            history,
            RNGStateCheckpoint(),
            RunSettingsRecord(run_settings(cfg)),
        ]
        if cfg.trainer.val_predictions:
            callbacks.append(ValidationPredictions(run_dir))
        callbacks.extend(extra_callbacks)
        trainer = build_trainer(
            cfg, run_dir, callbacks, None if resume is None else resume.global_step
        )
        results.writes = results.writes and trainer.is_global_zero  # the Trainer knows for sure

        fit_start = time.time()
        trainer.fit(
            module,
            datamodule=datamodule,
            ckpt_path=None if resume is None else resume.path,
            weights_only=True,
        )
        fit_s = time.time() - fit_start
        if any(getattr(callback, "pruned", False) for callback in extra_callbacks):
            results.finish(
                "pruned", history=history.history, final_metrics=_val_metrics(cfg, history)
            )
            return results.payload

        # Testing from a checkpoint restores callback states too: keep the fitted run's history.
        fitted = copy.deepcopy(history.state_dict())
        checkpoint = trainer.checkpoint_callback
        best_path = getattr(checkpoint, "best_model_path", "") or None
        test_start = time.time()
        test_metrics = trainer.test(
            module, datamodule=datamodule, ckpt_path=best_path, verbose=False, weights_only=True
        )[0]
        history.load_state_dict(fitted)
        final = _val_metrics(cfg, history) | {k: float(v) for k, v in test_metrics.items()}
        final |= extra_metrics or {}
        plots = _plots(
            cfg, run_dir, history.history, module.test_outputs, datamodule.class_names,
            trainer.is_global_zero,
        )  # fmt: skip
        results.finish(
            "completed",
            history=history.history,
            final_metrics=final,
            checkpoint={
                "best": best_path,
                "tested": "best" if best_path else "final-weights",
                "resumed_from": None if resume is None else str(resume.path),
            },
            plots=plots,
            data=_data_report(datamodule),
            distributed=_distributed_report(trainer),
            **(record or {}),
            timing={
                "first_step_unix": history.first_step_unix,
                "fit_s": fit_s,
                "test_s": time.time() - test_start,
                "torch_threads": torch.get_num_threads(),  # timings depend on it (trainer.threads)
            },
        )
        return results.payload
    except BaseException as err:  # record every failure, including Ctrl-C, then re-raise
        results.fail(as_user_error(err) or err, history=history.history)
        raise
    finally:
        if trainer is not None:
            finish_loggers(trainer, results.payload)


def _run_classical(
    cfg: DictConfig,
    run_dir: Path,
    results: ResultsFile,
    extra_metrics: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A reference classifier: the same DataModule windows, fitted by scikit-learn / sktime, scored
    by the same ``StageMetrics`` as the neural path (its real-path metrics), into the same keys.
    As stage 2 of ``scenario=virtual_imu`` it also learns from stage 1's simulated windows."""
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    validate_against_data(
        cfg,
        datamodule.num_classes,
        datamodule.imu_channels,
        getattr(datamodule, "sessions_without_pose", ()),
    )
    virtual = None
    if two_stage.is_two_stage(cfg):
        module = build_module(cfg, datamodule.class_names)  # R (frozen, stage 1's), its mapping
        virtual = two_stage.simulated_training_windows(module, datamodule)
    # trainer.threads bounds scikit-learn's OpenMP and BLAS pools too: on a shared machine, an
    # OpenMP pool as wide as the cores spins against the other processes (measured 100x slower).
    with threadpool_limits(limits=cfg.trainer.threads):
        outcome = fit_and_predict(
            instantiate(cfg.model.estimator), datamodule, virtual, cfg.scenario.virtual_weight
        )
    final: dict[str, Any] = {}
    for stage, (pred, label) in outcome.predictions.items():
        metrics = StageMetrics(datamodule.num_classes, datamodule.imu_channels)
        metrics.update_real(torch.from_numpy(pred), torch.from_numpy(label))
        final |= metrics.compute(stage)
    info = outcome.fit_info
    # The neural runs' selection keys: one fitted model, so its validation score is the best one.
    final |= {
        "train_loss_last": info.get("train_loss_last"),
        "val_loss_last": info.get("val_loss_last"),
        "val_f1_last": final["val_f1"],
        "best_val_f1": final["val_f1"],
        "best_val_loss": info.get("best_val_loss"),
        "epochs_run": None,  # no epochs: iterations and penalties are in "classical"
    } | (extra_metrics or {})
    test_pred, test_label = outcome.predictions["test"]
    tested = {"pred": [torch.from_numpy(test_pred)], "label": [torch.from_numpy(test_label)]}
    plots = _plots(cfg, run_dir, {}, tested, datamodule.class_names, is_rank_zero_process())
    results.finish(
        "completed",
        final_metrics=final,
        classical={"estimator": cfg.model.estimator._target_, **info},
        checkpoint={"best": None, "tested": "fitted estimator (not saved)", "resumed_from": None},
        plots=plots,
        data=_data_report(datamodule) | {"windows_used": outcome.window_counts},
        timing={"fit_s": outcome.fit_s, "test_s": outcome.predict_s},
        **(record or {}),
    )
    return results.payload


def _data_report(datamodule: Any) -> dict[str, Any]:
    return {
        "class_names": list(datamodule.class_names),
        "window_counts": getattr(datamodule, "window_counts", None),
        # data.imu_subjects: the training subjects whose real IMU was used
        "imu_subjects": _plain_list(getattr(datamodule, "imu_subjects_used", None)),
        "sessions": _session_reports(datamodule),
    }


def _plots(
    cfg: DictConfig,
    run_dir: Path,
    history: dict[str, list[float]],
    test_outputs: dict[str, list[torch.Tensor]],
    class_names: Sequence[str],
    rank_zero: bool,
) -> dict[str, str]:
    """plots/*.png (unless trainer.plots=false); a plotting error costs the plots, not the run."""
    if not cfg.trainer.plots or not rank_zero:
        return {}
    from har.reporting.trial_plots import (  # matplotlib only when plotting
        TestOutputs,
        write_trial_plots,
    )

    model = cfg.model.get("name")
    title = f"{model or cfg.scenario.name}, seed {cfg.seed} · {run_dir.parent.name}/{run_dir.name}"
    try:
        written = write_trial_plots(
            run_dir / "plots",
            history,
            TestOutputs.from_batches(test_outputs),
            class_names,
            cfg.data.sampling_rate_hz,
            title,
        )
    except Exception as error:
        log.warning("plots failed, results are unaffected: %s: %s", type(error).__name__, error)
        return {"error": f"{type(error).__name__}: {error}"}
    log.info("plots: %s", run_dir / "plots")
    return {kind: str(path) for kind, path in written.items()}


def _distributed_report(trainer: pl.Trainer) -> dict[str, Any]:
    """How the run was spread: processes, nodes, strategy, and the SLURM job (ids, restarts)."""
    slurm_keys = (
        "SLURM_JOB_ID",
        "SLURM_ARRAY_JOB_ID",
        "SLURM_ARRAY_TASK_ID",
        "SLURM_RESTART_COUNT",
    )
    return {
        "world_size": trainer.world_size,
        "num_nodes": trainer.num_nodes,
        "strategy": type(trainer.strategy).__name__,
        "slurm": {
            k.removeprefix("SLURM_").lower(): os.environ[k] for k in slurm_keys if k in os.environ
        },
    }


def _session_reports(datamodule: Any) -> dict[str, dict[str, Any]]:
    """Per session, what alignment dropped, interpolated or cut out of the windows (align's counts)."""
    sessions = getattr(datamodule, "sessions", None) or {}
    return {
        f"{split}/{session.workout}": dict(session.report)
        for split, group in sessions.items()
        for session in group
    }


def _plain_list(values: Any) -> list[Any] | None:
    return None if values is None else [v.item() if hasattr(v, "item") else v for v in values]


def _val_metrics(cfg: DictConfig, history: EpochHistory) -> dict[str, float | None]:
    return {
        "train_loss_last": history.last("train_loss"),
        "val_loss_last": history.last("val_loss"),
        "val_f1_last": history.last("val_f1"),
        "best_val_f1": history.best("val_f1", "max"),
        "best_val_loss": history.best("val_loss", "min"),
        "epochs_run": len(history.history["epoch"]),
    }

"""Per-epoch reports from inside a trial to its study, and early stopping when the pruner says so.

The trial entrypoint (`har.cli`) passes this callback to `run_trial` when `cfg.optuna.storage` is
set (the orchestrator sets it). The trial
reopens its own trial in the shared storage by number, reports the monitored validation metric at
step = epoch, and asks the study's pruner. When pruned it stops training; `run_trial` then writes
`results.json` with status "pruned". Optuna is imported on the first report, not at import time.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lightning.pytorch import Callback, LightningModule, Trainer

if TYPE_CHECKING:
    from optuna.trial import Trial

log = logging.getLogger(__name__)

_CONTINUE, _PRUNE, _STOP = "continue", "prune", "stop"


class OptunaPruning(Callback):
    """Report `monitor` after every validation epoch to trial `trial_number` of `study_name`."""

    def __init__(
        self,
        storage: str,
        study_name: str,
        trial_number: int,
        pruner: str = "median",
        monitor: str = "val_f1",
        direction: str = "maximize",
    ) -> None:
        self.storage = str(storage)
        self.study_name = str(study_name)
        self.trial_number = int(trial_number)
        self.pruner_name = str(pruner)
        self.monitor = str(monitor)
        self.direction = str(direction)
        self.pruned = False
        self.pruned_at_epoch: int | None = None
        self._trial: Trial | None = None
        self._last_reported_epoch: int | None = None
        self._warned_missing_metric = False

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        decision = self._report_and_decide(trainer) if trainer.is_global_zero else _CONTINUE
        # Every DDP rank must stop together, so rank 0's decision is shared with all of them.
        decision = trainer.strategy.broadcast(decision, src=0)
        if decision == _CONTINUE:
            return
        trainer.should_stop = True
        if decision == _PRUNE:
            self.pruned = True
            self.pruned_at_epoch = trainer.current_epoch

    def _report_and_decide(self, trainer: Trainer) -> str:
        epoch = trainer.current_epoch
        if epoch == self._last_reported_epoch:
            return _CONTINUE  # validation ran twice in one epoch: Optuna keeps one value per step
        value = _as_float(trainer.callback_metrics.get(self.monitor))
        if value is None:
            if not self._warned_missing_metric:
                log.warning(
                    "pruning: metric %r was not logged (have: %s); this trial is not pruned",
                    self.monitor,
                    ", ".join(sorted(trainer.callback_metrics)) or "none",
                )
                self._warned_missing_metric = True
            return _CONTINUE
        import optuna

        try:
            trial = self._open_trial()
            trial.report(value, step=epoch)
            self._last_reported_epoch = epoch
            should_prune = trial.should_prune()
        except optuna.exceptions.UpdateFinishedTrialError:
            # The orchestrator already closed this trial (it was interrupted): stop, not "pruned".
            log.warning(
                "pruning: trial %d is already finished in the study; stopping", self.trial_number
            )
            return _STOP
        except Exception as error:  # a storage hiccup must not kill an otherwise healthy run
            log.warning("pruning: could not report epoch %d to the study: %s", epoch, error)
            return _CONTINUE
        if should_prune:
            log.info(
                "pruning: trial %d pruned at epoch %d (%s=%.4g)",
                self.trial_number,
                epoch,
                self.monitor,
                value,
            )
            return _PRUNE
        return _CONTINUE

    def _open_trial(self) -> Trial:
        if self._trial is not None:
            return self._trial
        import optuna

        from har.hpo.pruner_choice import PRUNER_ATTR, PrunerSettings, build_pruner
        from har.hpo.storage import open_storage

        storage = open_storage(self.storage, heartbeat=False)  # the worker owns the heartbeat
        study_id = storage.get_study_id_from_name(self.study_name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, self.trial_number)
        # A random sampler: this process never samples, and TPE would model the history for nothing.
        study = optuna.load_study(
            study_name=self.study_name, storage=storage, sampler=optuna.samplers.RandomSampler()
        )
        settings = PrunerSettings.from_attr(study.user_attrs.get(PRUNER_ATTR), self.pruner_name)
        study.pruner = build_pruner(settings)
        self._trial = optuna.trial.Trial(study, trial_id)
        return self._trial


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return None
    # NaN is reported on purpose: Optuna's median pruner prunes a diverged (NaN) trial.
    return number


def pruning_from_config(optuna_cfg: Any) -> OptunaPruning | None:
    """The trial's pruning callback from its ``optuna`` config section; None outside a search."""
    if not optuna_cfg.storage:
        return None
    return OptunaPruning(
        storage=optuna_cfg.storage,
        study_name=optuna_cfg.study_name,
        trial_number=optuna_cfg.trial_number,
        pruner=optuna_cfg.pruner,
        monitor=optuna_cfg.monitor,
        direction=optuna_cfg.direction,
    )

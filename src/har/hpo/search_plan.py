"""Everything a worker needs to run its share of a search, in one picklable value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from har.hpo.pruner_choice import PrunerSettings
from har.hpo.space import SearchSpace
from har.hpo.storage import StorageSpec

# Study user attributes (shared by all workers and later invocations).
METRIC_ATTR = "har.metric"
SPACE_ATTR = "har.space"
# Trial user attributes.
WORKER_ATTR = "har.worker"
RUN_DIR_ATTR = "run_dir"
PARAM_OVERRIDES_ATTR = "har.param_overrides"
FIXED_OVERRIDES_ATTR = "har.fixed_overrides"
FAIL_REASON_ATTR = "fail_reason"
LOG_TAIL_ATTR = "log_tail"
# A FAIL through no fault of its configuration (its worker was stopped or died): it does not count
# against the trial budget, so a preempted study still ends with the trials it was asked for.
LOST_ATTR = "lost"
# Who runs the trial process (a child of the worker): while it runs, its run dir is not judged.
TRIAL_PROCESS_ATTR = "har.trial_process"
# launch.json's digest of the trial's exact overrides (har.launch.run_records).
LAUNCH_DIGEST_ATTR = "har.launch_digest"
# Set on a trial whose result was read from its run dir after its worker died (adopted), with why;
# RECOVERED_FROM_ATTR: the number of the lost (FAIL) trial whose finished run a new trial carries.
RECOVERED_ATTR = "har.recovered"
RECOVERED_FROM_ATTR = "har.recovered_from"
# Set on a RUNNING trial (database storage) that named no worker, once recovery beat for it.
BEAT_FOR_ATTR = "har.heartbeat_by_recovery"


@dataclass(frozen=True)
class SearchPlan:
    study_name: str
    storage: StorageSpec
    output_root: Path
    project_root: Path
    metric: str  # val_f1 | val_loss
    direction: str  # maximize | minimize
    pruner: PrunerSettings
    seed: int
    space: SearchSpace
    # Passed to every trial before the sampled values: pinned values, then the user's overrides.
    fixed_overrides: tuple[str, ...]
    forwarded_overrides: tuple[str, ...]
    # Workers stop asking for trials once the study has started this many (all states but WAITING).
    target_total: int = 0
    # How many trials the study had started when this invocation began (decorrelates sampler seeds).
    started_before: int = 0
    trial_timeout_s: float | None = None
    stop_grace_s: float = 10.0
    # OMP_NUM_THREADS of each trial process (cores // n_workers); None: the environment's.
    trial_threads: int | None = None

    @property
    def base_overrides(self) -> tuple[str, ...]:
        return (*self.fixed_overrides, *self.forwarded_overrides)

    @property
    def lock_path(self) -> Path:
        return self.output_root / f".{self.study_name}.lock"

    def tracking_overrides(self, trial_number: int) -> list[str]:
        """W&B (when a trial enables it) groups the study's trials under the study's name and names
        each run after its trial; a group or name the user set is kept."""
        from har.launch.overrides import find_key, override

        defaults = {
            "trainer.wandb.group": self.study_name,
            "trainer.wandb.name": f"{self.study_name}/trial_{trial_number}",
        }
        return [
            override(key, value)
            for key, value in defaults.items()
            if find_key(self.base_overrides, key) is None
        ]

    def optuna_overrides(self, trial_number: int) -> list[str]:
        """What `run_trial` needs to report to this trial and be pruned (see har.hpo.pruning_callback)."""
        from har.launch.overrides import override

        return [
            override("optuna.storage", str(self.storage)),
            override("optuna.study_name", self.study_name),
            override("optuna.trial_number", trial_number),
            override("optuna.pruner", self.pruner.name),
            override("optuna.monitor", self.metric),
            override("optuna.direction", self.direction),
        ]

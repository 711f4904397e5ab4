"""From command-line options to a SearchPlan: paths, storage, the space, pinned values.

Everything that can be checked before the first trial is checked here (a bad flag combination, a
space file error, a forwarded override that does not compose), so a mistake costs a second, not a
study full of failed trials.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser

from har.errors import ConfigError
from har.hpo.outputs import merge_pinned, read_fixed_overrides
from har.hpo.pruner_choice import PrunerSettings
from har.hpo.search_plan import SearchPlan
from har.hpo.space import load_space, representative_overrides
from har.hpo.storage import choose_storage
from har.launch.overrides import override_key
from har.launch.preflight import compose_trial_config
from har.launch.project import find_project_root

log = logging.getLogger(__name__)

SPACE_ENV = "HPO"
DEFAULT_DIRECTION = {"val_f1": "maximize", "val_loss": "minimize"}
# Keys the orchestrator sets itself for each trial; a forwarded override must not fight them.
RESERVED_KEYS = {"seed": "--seed", "hydra.run.dir": "--output-root"}
RESERVED_PREFIXES = ("optuna.",)


def plan_from_args(args: argparse.Namespace) -> SearchPlan:
    """Resolve paths, storage, the space and pinned values; compose one trial config to fail fast."""

    if args.n_trials < 1:
        raise ConfigError("--n-trials must be at least 1")
    if args.total_trials is not None and args.total_trials < 1:
        raise ConfigError("--total-trials must be at least 1")
    if args.n_workers < 1:
        raise ConfigError("--n-workers must be at least 1")
    direction = args.direction or DEFAULT_DIRECTION[args.metric]
    if direction != DEFAULT_DIRECTION[args.metric]:
        raise ConfigError(
            f"--metric {args.metric} with --direction {direction}: the search would seek the "
            f"worst model; use --direction {DEFAULT_DIRECTION[args.metric]}"
        )
    project_root = find_project_root()
    space_path = resolve_space_path(args.space_config, project_root)
    study_name = args.study_name or os.environ.get(SPACE_ENV) or space_path.stem
    output_root = (args.output_root or project_root / "experiments" / "hpo" / study_name).resolve()
    storage = choose_storage(args.storage, output_root, study_name, args.n_workers)

    forwarded = list(args.overrides)
    check_forwarded(forwarded)
    space = load_space(space_path)
    pinned = merge_pinned(
        [f"{key}={text}" for key, text in space.fixed.items()],
        *(read_fixed_overrides(path.resolve()) for path in args.fix_from),
    )
    forwarded_keys = {override_key(token) for token in forwarded}
    for key in sorted(forwarded_keys & set(space.params)):
        log.warning("%s is set on the command line, so it is not searched", key)
    fixed = [token for token in pinned if override_key(token) not in forwarded_keys]
    space = space.without({override_key(t) for t in pinned} | forwarded_keys)
    if not space.params:
        raise ConfigError(
            f"{space_path}: every key is pinned (by --fix-from or overrides): nothing to search"
        )

    plan = SearchPlan(
        study_name=study_name,
        storage=storage,
        output_root=output_root,
        project_root=project_root,
        metric=args.metric,
        direction=direction,
        pruner=PrunerSettings(
            name=args.pruner,
            startup_trials=args.pruner_startup_trials,
            warmup_epochs=args.pruner_warmup_epochs,
        ),
        seed=args.seed,
        space=space,
        fixed_overrides=tuple(fixed),
        forwarded_overrides=tuple(forwarded),
        trial_timeout_s=args.trial_timeout,
        stop_grace_s=args.stop_grace,
        trial_threads=thread_share(args.n_workers),
    )
    compose_trial_config(
        project_root,
        [*plan.base_overrides, *representative_overrides(space), *plan.optuna_overrides(0)],
        "the trial configuration (so every trial would fail)",
    )
    return plan


def thread_share(n_workers: int) -> int | None:
    """Torch threads for each trial when ``n_workers`` trials share this machine's cores (None for
    one worker: torch's default). With more busy torch threads than cores every trial slows down
    several times (benchmarks/README.md, "Threads")."""
    if n_workers < 2:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // n_workers)


def resolve_space_path(given: Path | None, project_root: Path) -> Path:
    if given is None:
        name = os.environ.get(SPACE_ENV)
        if not name:
            raise ConfigError(f"give --space-config conf/hpo/<name>.yaml or set {SPACE_ENV}=<name>")
        given = Path("conf") / "hpo" / f"{name}.yaml"
        return project_root / given
    if given.is_absolute() or given.exists():
        return given.resolve()
    return project_root / given  # e.g. conf/hpo/x.yaml while launched from elsewhere


def check_forwarded(overrides: Sequence[str]) -> None:
    parser = OverridesParser.create()
    for token in overrides:
        try:
            parsed = parser.parse_override(token)
        except Exception as error:
            raise ConfigError(f"override {token!r} is not a Hydra override: {error}") from error
        if parsed.is_sweep_override():
            raise ConfigError(f"override {token!r} is a sweep; put searched keys in the space file")
        key = override_key(token)
        if key in RESERVED_KEYS:
            raise ConfigError(
                f"override {token!r}: the orchestrator sets {key}; use {RESERVED_KEYS[key]}"
            )
        if key.startswith(RESERVED_PREFIXES):
            raise ConfigError(
                f"override {token!r}: optuna.* is set by the orchestrator for each trial"
            )

"""The plan of a multi-seed (or participant-fold) evaluation, from ``run_eval.py``'s command line:
which configuration (best.json and overrides), which seeds and folds, where the runs go, and how
each run's tested checkpoint is selected (never on test data). ``har.launch.evaluate`` runs it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from har.errors import ConfigError
from har.launch.folds import Fold, data_folds, parse_folds
from har.launch.overrides import find_key, override, override_key
from har.launch.preflight import compose_trial_config
from har.launch.project import find_project_root
from har.reporting.runs import read_best_json

DEFAULT_SEEDS = (1, 2, 3, 4, 5)
DEFAULT_FOLD_SEEDS = (1,)  # with --folds: the folds already repeat the training
# Set by this command for each seed; given by the user they would break the protocol.
RESERVED = {"seed": "--seeds", "hydra.run.dir": "--name / --output-root", "resume": "(automatic)"}


@dataclass(frozen=True)
class EvalPlan:
    name: str
    root: Path  # <output-root>/<name>
    project_root: Path
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]
    search_seed: int | None
    source: dict[str, Any]  # where the configuration came from (best.json fields)
    protocol: dict[str, Any]  # how checkpoints were selected
    checkpoint_dir: str
    trial_timeout_s: float | None = None
    decimals: int = 3
    folds: tuple[Fold, ...] = ()  # --folds: every fold is run with `fold` set (fold_plans)
    fold: Fold | None = None

    def run_dir(self, seed: int) -> Path:
        if self.fold is not None:
            return self.root / self.fold.run_dir_name(seed, len(self.seeds) > 1)
        return self.root / f"seed_{seed}"

    def fold_plans(self) -> list[EvalPlan]:
        """One plan per fold (its split overrides win), or this plan alone without --folds."""
        return [
            replace(self, overrides=tuple(merge_overrides(self.overrides, f.overrides)), fold=f)
            for f in self.folds
        ] or [self]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_eval.py",
        description="Retrain one configuration with several seeds; report test metrics mean ± std.",
    )
    parser.add_argument("--best", type=Path, metavar="BEST_JSON", help="a run_hpo.py best.json")
    parser.add_argument(
        "--name", help="evaluation name (default: best.json's study name); runs go to <root>/<name>"
    )
    parser.add_argument(
        "--seeds",
        help=f"comma-separated seeds (default {','.join(map(str, DEFAULT_SEEDS))}, with --folds "
        f"{','.join(map(str, DEFAULT_FOLD_SEEDS))}; must differ from the search seed)",
    )
    parser.add_argument(
        "--folds",
        help="loso (leave one participant out) or K: retrain over participant folds; validation "
        "participants come from each fold's training participants (har.launch.folds)",
    )
    parser.add_argument(
        "--val-participants", type=int, default=1, help="validation participants per fold (1)"
    )
    parser.add_argument(
        "--fold-seed", type=int, default=0, help="shuffles participants for K folds"
    )
    parser.add_argument("--output-root", type=Path, help="default: <project>/experiments/eval")
    parser.add_argument(
        "--ignore-forwarded",
        action="store_true",
        help="do not apply best.json's forwarded_overrides (the search's command-line overrides)",
    )
    parser.add_argument("--trial-timeout", type=float, metavar="SECONDS")
    parser.add_argument("--decimals", type=int, default=3, help="digits in the tables")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every seed (win last)")
    return parser


# ---- planning ------------------------------------------------------------------------------------
def plan_from_args(args: argparse.Namespace) -> EvalPlan:
    project_root = find_project_root()
    best = read_best_json(args.best, "--best") if args.best else {}
    name = args.name or best.get("study_name")
    if not name:
        raise ConfigError("give --name (or --best with a best.json that names its study)")
    folds = parse_folds(args.folds) if args.folds else None
    default_seeds = DEFAULT_SEEDS if folds is None else DEFAULT_FOLD_SEEDS
    seeds = parse_seeds(args.seeds or ",".join(map(str, default_seeds)))
    search_seed = best.get("seed") if isinstance(best.get("seed"), int) else None
    if search_seed is not None and search_seed in seeds:
        raise ConfigError(
            f"--seeds {args.seeds} include the search seed {search_seed} (best.json): evaluation "
            "seeds must differ from the seed the search ran with"
        )
    from_best = [] if args.ignore_forwarded else list(best.get("forwarded_overrides", []))
    from_best += list(best.get("override_list", []))
    check_overrides(list(args.overrides))
    tokens = merge_overrides(from_best, list(args.overrides))
    # Defaults for unattended children: their console goes to trial.log; W&B groups the seeds.
    for key, value in (("trainer.progress_bar", False), ("trainer.wandb.group", f"eval-{name}")):
        if find_key(tokens, key) is None:
            tokens.append(override(key, value))
    cfg = compose_trial_config(project_root, tokens, "the evaluation config")
    root = (args.output_root or project_root / "experiments" / "eval").resolve() / name
    return EvalPlan(
        name=name,
        root=root,
        project_root=project_root,
        overrides=tuple(tokens),
        seeds=seeds,
        search_seed=search_seed,
        source={
            "best_json": str(args.best.resolve()) if args.best else None,
            **{k: best.get(k) for k in ("study_name", "best_trial_number", "metric", "best_value")},
        },
        protocol=selection_protocol(cfg),
        checkpoint_dir=cfg.trainer.checkpoint.dirpath,
        trial_timeout_s=args.trial_timeout,
        decimals=args.decimals,
        folds=()
        if folds is None
        else tuple(data_folds(cfg, folds, args.val_participants, args.fold_seed)),
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"--seeds {text!r}: expected comma-separated integers") from error
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: give at least one seed, each once")
    return seeds


def check_overrides(tokens: Sequence[str]) -> None:
    for token in tokens:
        key = override_key(token)
        if key in RESERVED:
            raise ConfigError(f"override {token!r}: run_eval sets {key} itself ({RESERVED[key]})")
        if key.startswith("optuna."):
            raise ConfigError(f"override {token!r}: evaluation runs report to no study")


def merge_overrides(*groups: Sequence[str]) -> list[str]:
    """Later groups win for the same key; HPO-only keys (optuna.*, seed, run dir) are dropped."""
    merged: dict[str, str] = {}
    for group in groups:
        for token in group:
            key = override_key(token)
            if key not in RESERVED and not key.startswith("optuna."):
                merged[key] = token
    return list(merged.values())


def selection_protocol(cfg: Any) -> dict[str, Any]:
    """How each seed's tested checkpoint is chosen; refuses anything that would look at test data."""
    t = cfg.trainer
    if not (t.enable_checkpointing and t.checkpoint.enabled):
        raise ConfigError(
            "trainer.checkpoint.enabled / trainer.enable_checkpointing must be true: the protocol "
            "tests the checkpoint selected on validation"
        )
    monitors = {"trainer.checkpoint.monitor": t.checkpoint.monitor}
    if t.early_stopping.enabled:
        monitors["trainer.early_stopping.monitor"] = t.early_stopping.monitor
    for key, monitor in monitors.items():
        if not str(monitor).startswith("val_"):
            raise ConfigError(f"{key}={monitor}: selection must use a validation metric (val_*)")
    return {
        "checkpoint_monitor": t.checkpoint.monitor,
        "checkpoint_mode": t.checkpoint.mode,
        "early_stopping_monitor": t.early_stopping.monitor if t.early_stopping.enabled else None,
        "test_split": "evaluated once per seed on the validation-selected checkpoint; "
        "never used for selection",
    }


# ---- running the seeds ---------------------------------------------------------------------------

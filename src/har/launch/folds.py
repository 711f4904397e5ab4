"""Participant folds for ``run_eval.py --folds loso`` (leave one subject out) and ``--folds K``.

Each fold holds its test participants out of training entirely; its validation participants are
drawn from the remaining (training) participants only, never from the test ones, so checkpoint
selection and early stopping see no test person. Planning:

* participants come from the data set's DataModule (``participants()``), in sorted order;
* ``loso``: fold k tests participant k; ``K``: the participants are shuffled with ``--fold-seed``
  and cut into K groups of near-equal size (``numpy.array_split``), fold k tests group k;
* validation: the ``--val-participants`` participants that follow the test group in that order,
  cyclically (so every participant validates some fold); the rest train.

The DataModule turns (test, val) into its own split overrides (``fold_overrides``: MM-Fit's
``data.*_workouts``, the folder format's ``data.train/val/test``); a data set plugs in by
implementing the two methods (``har.data.sources.base.ParticipantFolds``).

Outputs: ``<root>/<name>/fold_<k>/`` (one seed) or ``fold_<k>_seed_<s>/`` (several), and
``eval_summary.json`` whose statistics are over folds: each fold's metrics averaged over its seeds,
then the mean and sample std (ddof=1) across folds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate

from har.errors import ConfigError
from har.launch.overrides import override, shell_join
from har.reporting.results import RESULTS_FILE, write_json_atomic
from har.reporting.tables import group_stats, write_tables

LOSO = "loso"


@dataclass(frozen=True)
class Fold:
    index: int
    test: tuple[Any, ...]  # participants
    val: tuple[Any, ...]
    train: tuple[Any, ...]
    overrides: tuple[str, ...] = ()  # the data split of this fold, as Hydra overrides

    def run_dir_name(self, seed: int, several_seeds: bool) -> str:
        return f"fold_{self.index}_seed_{seed}" if several_seeds else f"fold_{self.index}"

    def as_dict(self) -> dict[str, Any]:
        return {"test": list(self.test), "val": list(self.val), "train": list(self.train)}


def parse_folds(text: str) -> str | int:
    """``loso`` or a number of folds K >= 2."""
    if text.strip().lower() == LOSO:
        return LOSO
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 2:
        raise ConfigError(f"--folds {text!r}: give loso or a number of participant folds >= 2")
    return k


def plan_folds(
    participants: Sequence[Any], folds: str | int, val_participants: int = 1, fold_seed: int = 0
) -> list[Fold]:
    """The folds' (test, val, train) participants; see the module docstring for the rules."""
    order = sorted(set(participants), key=lambda p: (isinstance(p, str), p))
    n = len(order)
    if folds != LOSO:
        order = [order[i] for i in np.random.default_rng(fold_seed).permutation(n)]
    k = n if folds == LOSO else int(folds)
    if not 2 <= k <= n:
        raise ConfigError(f"--folds {folds}: the data set has {n} participants ({order})")
    if val_participants < 1:
        raise ConfigError(
            f"--val-participants {val_participants}: validation needs >= 1 participant"
        )
    groups = [list(map(int, g)) for g in np.array_split(np.arange(n), k)]
    planned = []
    for index, group in enumerate(groups):
        following = [order[(group[-1] + step) % n] for step in range(1, n - len(group) + 1)]
        val, train_count = following[:val_participants], len(following) - val_participants
        if train_count < 1:
            raise ConfigError(
                f"--folds {folds} with --val-participants {val_participants}: fold {index} "
                f"leaves no training participant (the data set has {n})"
            )
        test = tuple(order[i] for i in group)
        train = tuple(p for p in order if p not in test and p not in val)
        planned.append(Fold(index, test, tuple(val), train))
    return planned


def data_folds(cfg: Any, folds: str | int, val_participants: int, fold_seed: int) -> list[Fold]:
    """Plan the folds of ``cfg.data``'s data set, each with the overrides that make its split."""
    # Its notes on the configured split (shared participants) concern a split the folds replace.
    quiet, level = logging.getLogger("har.data"), logging.getLogger("har.data").level
    quiet.setLevel(logging.ERROR)
    try:
        datamodule = instantiate(cfg.data)
    finally:
        quiet.setLevel(level)
    if not all(hasattr(datamodule, m) for m in ("participants", "fold_overrides")):
        raise ConfigError(
            f"data={cfg.data.get('dataset_name')}: its DataModule ({type(datamodule).__name__}) "
            "lists no participants, so it cannot be split into folds"
        )
    planned = plan_folds(datamodule.participants(), folds, val_participants, fold_seed)
    return [
        replace(
            f,
            overrides=tuple(
                override(k, v) for k, v in datamodule.fold_overrides(f.test, f.val).items()
            ),
        )
        for f in planned
    ]


def summarise_folds(
    name: str,
    root: Path,
    base: Mapping[str, Any],
    folds: Sequence[Fold],
    run_dirs: Mapping[tuple[int, int], Path],
    statuses: Mapping[tuple[int, int], str],
    decimals: int = 3,
) -> dict[str, Any]:
    """``eval_summary.json`` and ``eval_table.*`` over folds; ``base`` holds the plan's fields
    (overrides, seeds, protocol, source). Keys of ``run_dirs``/``statuses``: (fold, seed)."""
    per_fold: list[dict[str, float]] = []
    entries, incomplete, class_names = [], [], None
    for fold in folds:
        runs, completed = {}, []
        for (index, seed), run_dir in run_dirs.items():
            if index != fold.index:
                continue
            status = statuses.get((index, seed), "not run")
            entry: dict[str, Any] = {"run_dir": str(run_dir), "status": status}
            if status == "completed":
                results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
                metrics = {
                    k: v for k, v in results["final_metrics"].items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }  # fmt: skip
                entry["final_metrics"] = metrics
                class_names = (results.get("data") or {}).get("class_names") or class_names
                completed.append(metrics)
            else:
                incomplete.append([index, seed])
            runs[str(seed)] = entry
        seed_means = {key: s.mean for key, s in group_stats("", completed).stats.items()}
        if completed:
            per_fold.append(seed_means)
        entries.append({"fold": fold.index, **fold.as_dict(), "overrides": list(fold.overrides),
                        "runs": runs, "mean_over_seeds": seed_means})  # fmt: skip
    stats = group_stats(name, per_fold)
    payload: dict[str, Any] = {
        "name": name,
        "written_unix": time.time(),
        **base,
        "overrides_line": shell_join(base.get("overrides", [])),
        "statistics": "per fold: mean over its completed seeds; then mean and sample std "
        "(ddof=1) across the folds that completed",
        "folds": entries,
        "completed_folds": len(per_fold),
        "incomplete_runs": incomplete,
        "summary": {key: s.as_dict() for key, s in stats.stats.items()},
        "tables": {},
    }
    if per_fold:
        markdown, paths = write_tables(
            [stats], root / "eval_table", class_names=class_names, decimals=decimals,
            group_title="evaluation (n = folds)",
        )  # fmt: skip
        payload["tables"] = {kind: str(path) for kind, path in paths.items()}
        print(markdown)
    write_json_atomic(root / "eval_summary.json", payload)
    return payload

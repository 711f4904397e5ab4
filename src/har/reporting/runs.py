"""Finished runs as records: find ``results.json`` files, read their metrics, group them by config keys
(and read a search's ``best.json``, the configuration a later evaluation reruns).

A run counts only if its ``results.json`` says ``completed``: a running, pruned or failed run has no
(or no trustworthy) test metrics, and averaging it in would misstate the result. Skipped files are
returned with the reason, so the caller can say what it left out.
"""

from __future__ import annotations

import glob
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from har.errors import ConfigError
from har.reporting.results import RESULTS_FILE

MISSING = "(unset)"


@dataclass(frozen=True)
class RunRecord:
    path: Path  # the results.json
    config: Mapping[str, Any]
    metrics: Mapping[str, float]  # finite numeric final_metrics only
    seed: int | None
    class_names: tuple[str, ...] | None

    @property
    def run_dir(self) -> Path:
        return self.path.parent


def find_results(patterns: Iterable[str | Path]) -> list[Path]:
    """Expand glob patterns (``**`` recursive) and directories into sorted results.json paths."""
    found: set[Path] = set()
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found.update(p.resolve() for p in path.rglob(RESULTS_FILE))
        elif path.is_file():
            found.add(path.resolve())
        else:
            found.update(Path(p).resolve() for p in glob.glob(str(pattern), recursive=True))
    return sorted(p for p in found if p.name == RESULTS_FILE)


def read_run(path: Path) -> tuple[RunRecord | None, str | None]:
    """The run's record, or None and why it is skipped."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return None, f"unreadable ({error})"
    if not isinstance(payload, dict):
        return None, "not a JSON object"
    status = payload.get("status")
    if status != "completed":
        return None, f"status {status!r}"
    config = payload.get("config") or {}
    metrics = {
        key: float(value)
        for key, value in (payload.get("final_metrics") or {}).items()
        if _is_finite_number(value)
    }
    names = (payload.get("data") or {}).get("class_names")
    seed = config.get("seed")
    return (
        RunRecord(
            path=path,
            config=config,
            metrics=metrics,
            seed=seed if isinstance(seed, int) else None,
            class_names=tuple(names) if isinstance(names, list) else None,
        ),
        None,
    )


def load_runs(paths: Sequence[Path]) -> tuple[list[RunRecord], list[tuple[Path, str]]]:
    runs: list[RunRecord] = []
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        run, reason = read_run(path)
        if run is None:
            skipped.append((path, reason or "unknown"))
        else:
            runs.append(run)
    return runs, skipped


def config_value(config: Mapping[str, Any], dotted_key: str) -> Any:
    """``scenario.alpha`` -> config["scenario"]["alpha"]; MISSING when any part is absent."""
    value: Any = config
    for part in dotted_key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    # A config group (``scenario``, ``data``) is known by its name, not by all of its values.
    if isinstance(value, Mapping):
        for name_key in ("name", "dataset_name"):
            if name_key in value:
                return value[name_key]
        return json.dumps(value, sort_keys=True)
    if isinstance(value, list):  # a list setting (data.sensors) is one value: [a, b]
        return "[" + ", ".join(map(str, value)) + "]"
    return value


def group_key(run: RunRecord, keys: Sequence[str]) -> tuple[Any, ...]:
    return tuple(config_value(run.config, key) for key in keys)


def group_label(keys: Sequence[str], values: Sequence[Any]) -> str:
    """One key: its value (``scenario2``); several: ``scenario.alpha=1.0, scenario.beta=0.5``."""
    if len(keys) == 1:
        return _text(values[0])
    return ", ".join(f"{key}={_text(v)}" for key, v in zip(keys, values, strict=True))


def group_runs(runs: Sequence[RunRecord], keys: Sequence[str]) -> dict[str, list[RunRecord]]:
    """Runs grouped by the values of ``keys``, in a natural order of those values (numbers by size)."""
    grouped: dict[tuple[Any, ...], list[RunRecord]] = {}
    for run in runs:
        grouped.setdefault(group_key(run, keys), []).append(run)
    ordered = sorted(grouped, key=lambda values: tuple(_sort_key(v) for v in values))
    return {group_label(keys, values): grouped[values] for values in ordered}


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (0, value)
    return (2, _text(value))


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_text(v) for v in value) + "]"
    return str(value)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_best_json(path: Path, option: str) -> dict[str, Any]:
    """A best.json passed as ``option`` on a command line, with a usable ``override_list``."""
    try:
        best = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"{option} {path}: no such file") from error
    except ValueError as error:
        raise ConfigError(f"{option} {path}: not valid JSON ({error})") from error
    tokens = best.get("override_list") if isinstance(best, Mapping) else None
    if not isinstance(tokens, list) or not all(isinstance(t, str) and "=" in t for t in tokens):
        raise ConfigError(
            f"{option} {path}: no `override_list` of key=value strings (not a best.json?)"
        )
    return best

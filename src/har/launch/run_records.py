"""What a run dir proves about the run launched into it: finished work can be adopted, not redone.

Before a trial process starts, its launcher writes ``launch.json`` into the run dir (atomically):
the digest of the exact overrides it passes (the configuration, seed and study trial included),
and then the process's identity. A killed launcher's successor trusts a ``results.json`` only when

* ``launch.json``'s digest is the digest it expects for this run (same parameters and config), and
* ``results.json`` is ``completed`` (or ``pruned``) with a finite objective, and names the same
  values for the keys it is asked to check (e.g. the searched parameters),

and it never judges a run dir while the process recorded there still runs (a trial winding down
after its parent was killed may still be writing).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from har.launch.liveness import ProcessIdentity, is_alive, wait_until_dead
from har.launch.trial_process import ProcessResult, TrialOutcome, read_outcome
from har.reporting.results import RESULTS_FILE, write_json_atomic

LAUNCH_FILE = "launch.json"
ADOPTABLE_STATES = ("complete", "pruned")


def launch_digest(overrides: Sequence[str], seed: int) -> str:
    """The identity of a run's configuration: its overrides in order, and its seed."""
    text = json.dumps([*overrides, f"seed={seed}"], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def record_launch(run_dir: Path, digest: str, process: ProcessIdentity | None = None) -> None:
    payload: dict[str, Any] = {"digest": digest}
    if process is not None:
        payload["process"] = process.to_attr()
    write_json_atomic(run_dir / LAUNCH_FILE, payload)


def read_launch(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / LAUNCH_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def launched_process(run_dir: Path) -> ProcessIdentity | None:
    return ProcessIdentity.from_attr(read_launch(run_dir).get("process"))


def still_running(run_dir: Path) -> bool:
    """True while the process last launched into ``run_dir`` runs on this host."""
    process = launched_process(run_dir)
    return process is not None and bool(is_alive(process))


def wait_for_previous_process(run_dir: Path, timeout_s: float) -> bool:
    """Let a process left by a killed launcher end (its parent-death SIGTERM is on its way)."""
    process = launched_process(run_dir)
    return process is None or wait_until_dead(process, timeout_s)


def finished_outcome(
    run_dir: Path, digest: str | None, metric: str, expected: Mapping[str, Any] | None = None
) -> TrialOutcome | None:
    """The outcome that ``run_dir`` holds, when it is finished work of this very launch."""
    if digest is None or read_launch(run_dir).get("digest") != digest:
        return None
    if not (run_dir / RESULTS_FILE).is_file() or still_running(run_dir):
        return None
    outcome = read_outcome(run_dir, ProcessResult(exit_code=0, wall_s=0.0), metric)
    if outcome.state not in ADOPTABLE_STATES:
        return None
    if expected and not _config_agrees(run_dir, expected):
        return None
    return outcome


def _config_agrees(run_dir: Path, expected: Mapping[str, Any]) -> bool:
    """Every ``dotted.key: value`` of ``expected`` is what results.json's resolved config says."""
    try:
        config = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8")).get("config")
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(config, dict):
        return False
    for key, want in expected.items():
        node: Any = config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        if not _same_value(node, want):
            return False
    return True


def _same_value(found: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(found, bool):
        return found == want
    if isinstance(want, int | float) and isinstance(found, int | float):
        return math.isclose(float(found), float(want), rel_tol=1e-9, abs_tol=1e-12)
    return str(found) == str(want)

"""``results.json``: what a run did, written atomically and only ever describing what happened.

The file is created with ``status: running`` when the run starts, so a killed run is visible as
such; it becomes ``completed``, ``pruned`` or ``failed`` (with the error) at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False, default=_jsonable))


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp creates 0600; results are shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def process_start_unix() -> float:
    """When this process started (Linux: its age from /proc; elsewhere: now, undercounting start-up)."""
    try:
        started_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        age_s = uptime_s - started_ticks / os.sysconf("SC_CLK_TCK")
        return time.time() - age_s
    except (OSError, ValueError, IndexError):
        return time.time()


def git_revision(cwd: Path | None = None) -> dict[str, Any]:
    """The code's git revision and whether the work tree had uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    revision = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"revision": revision, "dirty": bool(status) if status is not None else None}


class ResultsFile:
    """Owns one run's results.json: ``start`` once, then exactly one of ``complete`` / ``fail``.

    ``writes=False`` keeps the payload in memory only: DDP ranks other than 0 run the same code,
    and the run has one results.json, written by rank 0.
    """

    def __init__(self, run_dir: Path, config: dict[str, Any], writes: bool = True) -> None:
        self.path = Path(run_dir) / RESULTS_FILE
        self.writes = writes
        self.payload: dict[str, Any] = {
            "status": "running",
            "error": None,
            "run_dir": str(run_dir),
            "config": config,
            "history": {},
            "final_metrics": {},
            "timing": {"process_start_unix": process_start_unix(), "started_unix": time.time()},
            "git": git_revision(Path(__file__).parent),
        }

    def start(self) -> None:
        self._write()

    def finish(self, status: str, **sections: Any) -> None:
        self.payload["status"] = status
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(self.payload.get(key), dict):
                self.payload[key].update(value)
            else:
                self.payload[key] = value
        timing = self.payload["timing"]
        timing["total_s"] = time.time() - timing["started_unix"]
        if timing.get("first_step_unix"):
            timing["process_to_first_step_s"] = (
                timing["first_step_unix"] - timing["process_start_unix"]
            )
        self._write()

    def fail(self, error: BaseException, **sections: Any) -> None:
        self.finish("failed", error=f"{type(error).__name__}: {error}", **sections)

    def _write(self) -> None:
        if self.writes:
            write_json_atomic(self.path, self.payload)

"""What every fuzzed run must end in: clean data (or finite metrics), or one line naming the file."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from har.data.datamodule import SessionDataModule
from har.errors import as_user_error, error_line
from tests.bad_inputs.entrypoint import USER_ERROR_EXIT, Outcome


def names_the_input(line: str, sessions: Sequence[str]) -> bool:
    """The line names a touched session's file, or the split (or config key) it broke."""
    return any(s in line for s in sessions) or "split '" in line or "data." in line


def reader_outcome(
    build: Callable[[], SessionDataModule], sessions: Sequence[str]
) -> SessionDataModule | None:
    """Set the DataModule up: clean arrays, or a user error of one line naming the input."""
    try:
        dm = build()
        dm.setup()
    except Exception as error:
        user_error = as_user_error(error)
        if user_error is None:
            raise  # a crash: Hypothesis reports it with the example that made it
        line = error_line(user_error)
        assert "\n" not in line and "Traceback" not in line
        assert names_the_input(line, sessions), f"{line!r} names none of {list(sessions)}"
        return None
    for split, dataset in dm.datasets.items():
        assert len(dataset) > 0, split
        batch = dataset.__getitems__(list(range(len(dataset))))  # every window, as batched
        for stream in ("pose", "acc"):
            if stream in batch:
                assert np.isfinite(batch[stream].numpy()).all(), f"non-finite {stream} in {split}"
        labels = batch["label"].numpy()
        assert ((labels >= 0) & (labels < dm.num_classes)).all(), f"labels out of range in {split}"
    return dm


def entrypoint_outcome(outcome: Outcome, run_dir: Path, sessions: Sequence[str]) -> None:
    """Exit 0 with finite metrics, or exit 2 with exactly one stderr line naming the input."""
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    results_file = run_dir / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else None
    if outcome.exit_code == 0:
        assert results is not None and results["status"] == "completed"
        metrics = results["final_metrics"]
        assert metrics.get("test_f1") is not None, metrics
        bad = {k: v for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)}
        assert not bad, f"a completed run reports non-finite metrics: {bad}"
        return
    assert outcome.exit_code == USER_ERROR_EXIT, outcome.stderr[-3000:]
    lines = outcome.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), outcome.stderr[-3000:]
    assert names_the_input(lines[0], sessions), f"{lines[0]!r} names none of {list(sessions)}"
    if results is not None:
        assert results["status"] == "failed", results["status"]

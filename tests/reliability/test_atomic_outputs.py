"""results.json and best.json are written to a temporary file and renamed: a process that dies
while writing leaves the previous complete file, never a truncated one."""

from __future__ import annotations

import json
import os

import pytest

from har.hpo import outputs
from har.reporting import results


def die_before_the_rename(monkeypatch) -> None:
    """The new content is in the temporary file when the process dies (as under SIGKILL)."""

    def fsync(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync)


def test_results_json_keeps_its_last_complete_version(tmp_path, monkeypatch):
    path = tmp_path / results.RESULTS_FILE
    results.write_json_atomic(path, {"status": "running", "history": {}})
    die_before_the_rename(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        results.write_json_atomic(path, {"status": "completed", "history": {"val_f1": [0.5]}})
    assert json.loads(path.read_text()) == {"status": "running", "history": {}}
    assert os.listdir(tmp_path) == [results.RESULTS_FILE]  # no temporary file left behind


def test_best_json_keeps_its_last_complete_version(tmp_path, monkeypatch):
    path = tmp_path / outputs.BEST_JSON
    results.write_text_atomic(path, json.dumps({"best_value": 0.5}))
    die_before_the_rename(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        results.write_text_atomic(path, json.dumps({"best_value": 0.9}))
    assert json.loads(path.read_text()) == {"best_value": 0.5}
    assert os.listdir(tmp_path) == [outputs.BEST_JSON]

"""The entrypoint itself on representative bad inputs: exit 2, one readable message, no traceback.

In this process (``runpy``, as ``python -m`` runs it) for the cases that exercise a different path
through the entrypoint: a reader's DataError, an error raised inside Hydra's ``instantiate``,
Hydra's own composition and override errors, HYDRA_FULL_ERROR=1 and a genuine crash. The slow
test at the end runs the literal command in a fresh interpreter.
"""

from __future__ import annotations

import json

import pytest

from har.training import trial
from tests.bad_inputs.entrypoint import (
    USER_ERROR_EXIT,
    assert_user_error,
    run_in_process,
    run_subprocess,
    tiny_overrides,
)
from tests.data.mmfit_writer import write_labels, write_tiny_dataset


@pytest.fixture
def tiny(tmp_path) -> list[str]:
    written = write_tiny_dataset(tmp_path / "raw")
    write_labels(written["w14"].labels_path, [(1250, 1330, 8, "burpees")])  # unknown activity
    return tiny_overrides(tmp_path / "raw", tmp_path / "cache")


def test_missing_data_root_exits_2_and_marks_results_failed(tmp_path):
    args = tiny_overrides(tmp_path / "nowhere", tmp_path / "cache")
    line = assert_user_error(run_in_process(args, tmp_path / "run"), "does not exist")
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "failed" and results["final_metrics"] == {}
    assert results["error"] == "DataError: " + line[len("error: ") :]


def test_reader_error_names_file_and_row(tiny, tmp_path):
    outcome = run_in_process(tiny, tmp_path / "run")
    line = assert_user_error(outcome, "w14_labels.csv row 1", "unknown activity 'burpees'")
    assert line.startswith("error: ") and outcome.stderr.count("\n") == 1


def test_error_raised_inside_hydra_instantiate_is_unwrapped(tiny, tmp_path):
    # The DataModule's constructor raises; Hydra wraps it in an InstantiationException.
    outcome = run_in_process([*tiny, "data.test_workouts=[w09,w02]"], tmp_path / "run")
    line = assert_user_error(outcome, "w02 are in both train and test")
    assert "InstantiationException" not in line and "Error in call to target" not in outcome.stderr


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("data=nope", ["Could not find 'data/nope'", "Available options in 'data'", "mmfit_debug"]),
        ("optim.lrr=0.1", ["Could not override 'optim.lrr'", "+optim.lrr=0.1"]),
        ("optim.lr=[1,", ["no viable alternative at input '[1,'", "override_grammar"]),
    ],
    ids=["unknown-group-option", "unknown-key", "malformed-override"],
)
def test_hydra_own_errors_stay_readable_and_exit_2(tmp_path, override, words):
    outcome = run_in_process([override], tmp_path / "run")
    assert outcome.exit_code == USER_ERROR_EXIT, outcome.stderr
    assert "Traceback" not in outcome.stderr
    for word in words:
        assert word in outcome.stderr
    assert not (tmp_path / "run" / "results.json").exists()  # the trial never started


def test_hydra_full_error_shows_the_traceback_and_keeps_exit_2(tiny, tmp_path):
    outcome = run_in_process(tiny, tmp_path / "run", env={"HYDRA_FULL_ERROR": "1"})
    assert outcome.exit_code == USER_ERROR_EXIT
    assert "Traceback" in outcome.stderr and "DataError" in outcome.stderr
    assert "unknown activity 'burpees'" in outcome.stderr


def test_a_crash_is_not_reported_as_a_user_error(tmp_path, monkeypatch):
    def crash(cfg, run_dir, extra_callbacks=()):
        raise ZeroDivisionError("a bug, not the user's fault")

    monkeypatch.setattr(trial, "run_trial", crash)
    outcome = run_in_process(["data=mmfit_debug"], tmp_path / "run")
    assert outcome.exit_code == 1
    assert "ZeroDivisionError" in outcome.stderr and "error:" not in outcome.stderr


CLI_CASES = {  # case: (overrides beside the tiny tree's, key words of the message)
    "bad-label": ([], ["w14_labels.csv row 1", "unknown activity"]),
    "negative-lr": (["optim.lr=-1"], ["optim.lr", "must be > 0"]),
}


@pytest.mark.slow  # one interpreter start (torch, lightning, hydra) per case: ~8 s each
@pytest.mark.parametrize("case", ["missing-root", *CLI_CASES, "unknown-group", "full-error"])
def test_real_command_in_a_fresh_interpreter(tiny, tmp_path, case):
    run_dir = tmp_path / "run"
    if case == "missing-root":
        args = tiny_overrides(tmp_path / "nowhere", tmp_path / "cache")
        assert_user_error(run_subprocess(args, run_dir), "does not exist", "env.data_dir")
    elif case == "unknown-group":
        outcome = run_subprocess(["data=nope"], run_dir)
        assert outcome.exit_code == USER_ERROR_EXIT and "Traceback" not in outcome.stderr
        assert "Could not find 'data/nope'" in outcome.stderr
    elif case == "full-error":
        outcome = run_subprocess(tiny, run_dir, env={"HYDRA_FULL_ERROR": "1"})
        assert outcome.exit_code == USER_ERROR_EXIT
        assert "Traceback" in outcome.stderr and "unknown activity" in outcome.stderr
    else:
        extra, words = CLI_CASES[case]
        assert_user_error(run_subprocess([*tiny, *extra], run_dir), *words)

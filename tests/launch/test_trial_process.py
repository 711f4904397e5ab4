"""Reading a trial's fate from its exit code and results.json; stopping a trial's process group."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from har.launch.trial_process import (
    ProcessResult,
    read_outcome,
    run_trial_process,
    trial_command,
    trial_run_dir,
)

OK = ProcessResult(exit_code=0, wall_s=1.0)


def write_results(run_dir: Path, **fields) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    results = {"status": "completed", "error": None, "final_metrics": {}, "timing": {}}
    results.update(fields)
    (run_dir / "results.json").write_text(json.dumps(results))


def test_command_and_run_dir_follow_the_contract(tmp_path: Path) -> None:
    run_dir = trial_run_dir(tmp_path, 7)
    assert run_dir == tmp_path / "trials" / "trial_7"
    command = trial_command(["data=mmfit_debug"], run_dir, seed=3)
    assert command[:3] == [sys.executable, "-m", "experiments.run_trial"]
    assert command[3:] == ["data=mmfit_debug", f"hydra.run.dir={run_dir}", "seed=3"]


def test_completed_trial_reports_the_metric(tmp_path: Path) -> None:
    write_results(tmp_path, final_metrics={"best_val_f1": 0.8, "best_val_loss": 0.3})
    assert read_outcome(tmp_path, OK, "val_f1").value == 0.8
    assert read_outcome(tmp_path, OK, "val_loss").value == 0.3
    assert read_outcome(tmp_path, OK, "val_f1").state == "complete"


def test_pruned_status_is_pruned(tmp_path: Path) -> None:
    write_results(tmp_path, status="pruned", final_metrics={"best_val_f1": 0.1})
    assert read_outcome(tmp_path, OK, "val_f1").state == "pruned"


@pytest.mark.parametrize(
    ("results", "result", "reason"),
    [
        (None, OK, "missing"),
        ({"status": "failed", "error": "CUDA out of memory"}, OK, "out of memory"),
        ({"final_metrics": {"best_val_f1": float("nan")}}, OK, "nan"),
        ({"final_metrics": {}}, OK, "best_val_f1"),
        ({"final_metrics": {"best_val_f1": 0.9}}, ProcessResult(2, 1.0), "code 2 (user error"),
        ({"final_metrics": {"best_val_f1": 0.9}}, ProcessResult(1, 1.0), "crashed"),
        (None, ProcessResult(-9, 1.0), "SIGKILL"),
        (None, ProcessResult(-15, 1.0, interrupted=True), "interrupted"),
        (None, ProcessResult(-15, 9.0, timed_out=True), "timed out"),
    ],
)
def test_anything_doubtful_is_fail_with_a_reason(tmp_path: Path, results, result, reason) -> None:
    if results is not None:
        write_results(tmp_path, **results)
    (tmp_path / "trial.log").write_text("".join(f"line {i}\n" for i in range(100)))
    outcome = read_outcome(tmp_path, result, "val_f1")
    assert outcome.state == "fail"
    assert reason.lower() in (outcome.reason or "").lower()
    assert outcome.log_tail.splitlines() == [f"line {i}" for i in range(70, 100)]


def test_stop_terminates_the_whole_process_group(tmp_path: Path) -> None:
    # A parent that ignores nothing and a grandchild (like a DataLoader worker): both must go.
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open('grandchild', 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    stop = threading.Event()
    timer = threading.Timer(1.5, stop.set)
    timer.start()
    started = time.monotonic()
    result = run_trial_process(
        [sys.executable, "-c", script], tmp_path, cwd=tmp_path, env={}, stop=stop, grace_s=2
    )
    assert result.interrupted and time.monotonic() - started < 10
    grandchild = int((tmp_path / "grandchild").read_text())
    time.sleep(0.3)
    assert (
        not Path(f"/proc/{grandchild}").exists()
        or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split(") ")[1][:1]
    )


def test_a_trial_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)\n"
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    result = run_trial_process(
        [sys.executable, "-c", script], tmp_path, cwd=tmp_path, env={}, stop=stop, grace_s=1
    )
    assert result.exit_code == -9 and time.monotonic() - started < 8


def test_timeout_fails_the_trial(tmp_path: Path) -> None:
    result = run_trial_process(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        tmp_path,
        cwd=tmp_path,
        env={},
        stop=threading.Event(),
        timeout_s=0.5,
        grace_s=1,
    )
    assert result.timed_out
    assert read_outcome(tmp_path, result, "val_f1").state == "fail"

"""Kill schedules for the fault-injection suite, and the invariants checked after each one.

A schedule kills with ``$HAR_FAULT`` (``har.launch.faults``): at a point of the search, the process
that reaches it signals a target relative to itself. The search is then started again (at once or
after a delay) without the fault, and must end as if nothing had happened:

* exactly ``--total-trials`` COMPLETE trials (one less when the trial itself was killed: that is a
  crash, counted), none RUNNING; every other FAIL trial lost (file storages) or retried (database
  storages: Optuna's heartbeats failed it and queued a copy);
* no trial number run twice (each run dir's ``launches.log`` has one line), and every run that had
  finished when the kill came, but that the study had not been told of, adopted (once);
* best.json names the best COMPLETE trial, and its value is that trial's results.json's;
* every trusted file (results.json, launch.json, best.json, trials.csv) parses.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import optuna

from har.hpo.search_plan import RECOVERED_ATTR
from har.hpo.storage import open_storage
from tests.hpo.conftest import hpo_command, hpo_env

TOTAL = 4
# Where each point runs, and which targets make sense from there (see har.launch.faults).
WORKER_POINTS = ("trial_asked", "trial_start", "after_results", "best_json")
TRIAL_POINTS = ("mid_epoch", "checkpoint_write")
SIGNALS = ("SIGKILL", "SIGTERM")


@dataclass(frozen=True)
class Schedule:
    point: str
    victim: str  # orchestrator | worker | trial | group (the orchestrator's process group)
    signal: str
    workers: int
    delay_s: float = 0.0  # before the restart
    storage: str = "journal"  # journal | a database URL

    def target(self) -> str:
        """The victim, as seen from the process that reaches the point."""
        in_trial = self.point in TRIAL_POINTS
        if self.victim == "group":
            return "parent-group" if in_trial else "group"
        if self.victim == "trial":
            assert in_trial, "a trial can be killed only at a trial's point"
            return "self"
        if self.victim == "worker" or self.workers == 1:  # one worker: it is the orchestrator
            return "parent" if in_trial else "self"
        return "grandparent" if in_trial else "parent"

    def __str__(self) -> str:
        return f"{self.point}-{self.victim}-{self.signal}-w{self.workers}-d{self.delay_s:g}"


def draw_schedules(count: int, seed: int) -> list[Schedule]:
    rng = random.Random(seed)
    drawn = []
    for _ in range(count):
        point = rng.choice(WORKER_POINTS + TRIAL_POINTS)
        victims = ["orchestrator", "worker", "group"] + (["trial"] if point in TRIAL_POINTS else [])
        drawn.append(
            Schedule(
                point,
                rng.choice(victims),
                rng.choice(SIGNALS),
                rng.choice((1, 2)),
                rng.choice((0.0, 0.0, 1.0)),
            )
        )
    return drawn


def search_args(root: Path, schedule: Schedule) -> list[str]:
    storage = (
        str(root / "out" / "chaos.journal") if schedule.storage == "journal" else schedule.storage
    )
    return [
        "--total-trials", str(TOTAL), "--n-workers", str(schedule.workers),
        "--study-name", "chaos", "--space-config", "space.yaml", "--storage", storage,
        "--output-root", str(root / "out"), "--no-plots", "--stop-grace", "5",
        "fake.epochs=2", "fake.sleep=0.2",
    ]  # fmt: skip


# Database storages judge workers by Optuna's heartbeats: fast ones, so a killed worker's trial goes
# stale within seconds of the restart (production: a minute, three minutes of grace).
DATABASE_HEARTBEATS = {"HAR_HEARTBEAT_INTERVAL_S": "1", "HAR_HEARTBEAT_GRACE_S": "2"}


def run_schedule(root: Path, schedule: Schedule) -> tuple[optuna.Study, set[str]]:
    """The killed search, then the restart; raises unless every invariant holds. Returns the study
    and the run dirs that held finished work the study had not been told of when the kill came."""
    base_env = hpo_env(root) | (DATABASE_HEARTBEATS if schedule.storage != "journal" else {})
    faulty = base_env | {
        "HAR_FAULT": f"{schedule.point}:{schedule.target()}:{schedule.signal}",
        "HAR_FAULT_ONCE": str(root / "fault.fired"),
    }
    command = hpo_command(*search_args(root, schedule))
    # Its own process group, as a shell job: a 'group' kill must not reach the test runner.
    killed = subprocess.run(
        command, cwd=root, env=faulty, capture_output=True, text=True, timeout=180,
        start_new_session=True,
    )  # fmt: skip
    assert (root / "fault.fired").exists(), f"the fault never fired:\n{killed.stderr[-3000:]}"
    study = load_study(root, schedule)
    told = {t.user_attrs.get("run_dir") for t in complete_trials(study)}
    release(study)
    untold = finished_runs(root) - told
    time.sleep(schedule.delay_s)
    restarted = subprocess.run(
        command, cwd=root, env=base_env, capture_output=True, text=True, timeout=180
    )
    assert restarted.returncode == 0, f"restart failed:\n{restarted.stderr[-3000:]}"
    return check_invariants(root, schedule, untold), untold


def finished_runs(root: Path) -> set[str]:
    trials = root / "out" / "trials"
    return {str(d) for d in (trials.iterdir() if trials.exists() else []) if _completed(d)}


def _completed(run_dir: Path) -> bool:
    try:
        return json.loads((run_dir / "results.json").read_text())["status"] == "completed"
    except (OSError, ValueError, KeyError):
        return False


def complete_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials() if t.state.name == "COMPLETE"]


def load_study(root: Path, schedule: Schedule) -> optuna.Study:
    location = (
        f"journal:{root / 'out' / 'chaos.journal'}"
        if schedule.storage == "journal"
        else schedule.storage
    )
    return optuna.load_study(study_name="chaos", storage=open_storage(location, heartbeat=False))


def release(study: optuna.Study) -> None:
    """Close a database study's pooled connections (reopened if it is used again): a test session
    that keeps them would fill the server's connection slots."""
    engine = getattr(study._storage, "engine", None)
    if engine is not None:
        engine.dispose()


def check_invariants(root: Path, schedule: Schedule, untold: set[str]) -> optuna.Study:
    study = load_study(root, schedule)
    trials = study.get_trials()
    states = [t.state.name for t in trials]
    # A trial killed on its own counts as a crash (FAIL, and it uses up its place: an OOM-killed
    # configuration must not be retried for ever); every other kill costs no place in the budget.
    crashed = 1 if schedule.victim == "trial" else 0
    assert states.count("COMPLETE") == TOTAL - crashed, states
    assert "RUNNING" not in states, states
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    for trial in trials:
        if trial.state.name == "FAIL" and not trial.user_attrs.get("lost"):
            if trial.number in retried:
                continue
            assert crashed and "killed by signal" in trial.user_attrs["fail_reason"]
    for run_dir in (root / "out" / "trials").iterdir():
        log = run_dir / "launches.log"  # absent: killed before the trial process started
        launches = log.read_text().splitlines() if log.exists() else []
        assert len(launches) <= 1, f"{run_dir.name} was run {len(launches)} times"
        for name in ("results.json", "launch.json"):
            if (run_dir / name).exists():
                json.loads((run_dir / name).read_text())  # a trusted file is never half-written
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    for run_dir in untold:  # finished work the study did not know of: adopted, once
        carriers = [t for t in complete if t.user_attrs.get("run_dir") == run_dir]
        assert len(carriers) == 1 and RECOVERED_ATTR in carriers[0].user_attrs, run_dir
    for trial in complete:
        results = json.loads(Path(trial.user_attrs["run_dir"], "results.json").read_text())
        assert results["status"] == "completed"
        assert results["final_metrics"]["best_val_f1"] == trial.value
    best = json.loads((root / "out" / "best.json").read_text())
    winner = max(complete, key=lambda t: t.value)
    assert best["best_value"] == winner.value
    assert best["best_trial_number"] == winner.number
    assert json.loads(Path(best["results_json"]).read_text())["final_metrics"]["best_val_f1"] == (
        winner.value
    )
    with open(root / "out" / "trials.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(trials)
    release(study)
    return study


def chaos_count() -> tuple[int, int]:
    """``make chaos``: how many schedules to draw ($HAR_CHAOS_SCHEDULES) and from which seed."""
    return int(os.environ.get("HAR_CHAOS_SCHEDULES", "0")), int(
        os.environ.get("HAR_CHAOS_SEED", "0")
    )

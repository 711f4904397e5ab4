"""run_eval killed at any moment, then run again: every seed runs to completion exactly once.

The evaluation (3 seeds of the fake trial, 3 epochs each) is killed at a point the schedule names:
inside a seed (mid-epoch, or between a checkpoint's temporary file and its rename) or in run_eval
itself just after a seed's process ended (between that seed's results.json and the summary). The
same command is then run again, and must leave:

* every seed ``completed``; a seed completed before the kill adopted (launched once), the seed in
  progress resumed (a second launch, with ``resume=true`` once it had a ``last.ckpt``), and no
  epoch trained twice except the one in progress during a checkpoint write;
* ``eval_summary.json`` saying exactly what the seeds' results.json files say.

A fixed set runs with the suite; ``make chaos`` draws more (``HAR_CHAOS_SCHEDULES``).
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.hpo.conftest import hpo_env
from tests.reliability.chaos import chaos_count

SEEDS = (1, 2, 3)
EPOCHS = 3
TRIAL_POINTS = ("mid_epoch", "checkpoint_write")  # reached by the seed's trial process
EVAL_POINTS = ("after_results",)  # reached by run_eval itself


@dataclass(frozen=True)
class EvalKill:
    point: str
    victim: str  # eval | group (run_eval's process group) | trial
    signal: str
    arrival: int  # the n-th time the point is reached: (seed, epoch) for trial points, seed else
    delay_s: float = 0.0

    @property
    def in_trial(self) -> bool:
        return self.point in TRIAL_POINTS

    def target(self) -> str:
        if self.victim == "trial":
            assert self.in_trial, "a trial can be killed only at a trial's point"
            return "self"
        if self.victim == "group":
            return "parent-group" if self.in_trial else "group"
        return "parent" if self.in_trial else "self"

    @property
    def seed_index(self) -> int:
        return (self.arrival - 1) // EPOCHS if self.in_trial else self.arrival - 1

    @property
    def epoch(self) -> int | None:
        return (self.arrival - 1) % EPOCHS if self.in_trial else None

    def __str__(self) -> str:
        return f"{self.point}-{self.victim}-{self.signal}-n{self.arrival}-d{self.delay_s:g}"


def draw_kills(count: int, seed: int) -> list[EvalKill]:
    rng = random.Random(seed)
    drawn = []
    for _ in range(count):
        point = rng.choice(TRIAL_POINTS + EVAL_POINTS)
        victims = ["eval", "group"] + (["trial"] if point in TRIAL_POINTS else [])
        arrivals = len(SEEDS) * (EPOCHS if point in TRIAL_POINTS else 1)
        drawn.append(
            EvalKill(
                point,
                rng.choice(victims),
                rng.choice(("SIGKILL", "SIGTERM")),
                rng.randint(1, arrivals),
                rng.choice((0.0, 0.0, 1.0)),
            )
        )
    return drawn


def eval_command(out: Path) -> list[str]:
    return [
        sys.executable, "-m", "experiments.run_eval", "--name", "e",
        "--seeds", ",".join(map(str, SEEDS)), "--output-root", str(out),
        f"fake.epochs={EPOCHS}", "fake.sleep=0.3",
    ]  # fmt: skip


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def status(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "results.json").read_text())["status"]
    except (OSError, ValueError):
        return None


def run_kill(root: Path, kill: EvalKill) -> None:
    out = root / "eval"
    env = hpo_env(root)
    faulty = env | {
        "HAR_FAULT": f"{kill.point}:{kill.target()}:{kill.signal}:{kill.arrival}",
        "HAR_FAULT_ONCE": str(root / "fault.fired"),
    }
    # Its own session, as a shell job: a 'group' kill must not reach the test runner.
    killed = subprocess.run(
        eval_command(out), cwd=REPO, env=faulty, capture_output=True, text=True, timeout=120,
        start_new_session=True,
    )  # fmt: skip
    assert (root / "fault.fired").exists(), f"the fault never fired:\n{killed.stderr[-3000:]}"
    seed_dirs = [out / "e" / f"seed_{seed}" for seed in SEEDS]
    done_before = {d for d in seed_dirs if status(d) == "completed"}
    started_before = {d for d in seed_dirs if lines(d / "launches.log")}
    had_checkpoint = {d for d in seed_dirs if (d / "checkpoints" / "last.ckpt").exists()}
    time.sleep(kill.delay_s)
    rerun = subprocess.run(
        eval_command(out), cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, f"rerun failed:\n{rerun.stderr[-3000:]}"

    killed_dir = seed_dirs[kill.seed_index]
    # Only the seed in progress is left half-finished; a kill in run_eval came after its results.
    assert started_before - done_before == ({killed_dir} if kill.in_trial else set())
    assert kill.in_trial or killed_dir in done_before
    for run_dir in seed_dirs:
        launches = lines(run_dir / "launches.log")
        assert status(run_dir) == "completed", run_dir
        if run_dir in done_before:  # adopted, not rerun
            assert len(launches) == 1, f"{run_dir.name} ran again: {launches}"
            assert f"already completed, skipped ({run_dir})" in rerun.stderr
        elif run_dir in started_before:  # the one killed: resumed
            assert len(launches) == 2, f"{run_dir.name}: {launches}"
            assert launches[1].endswith(f"resume={str(run_dir in had_checkpoint).lower()}")
        else:  # never reached before the kill
            assert launches == [launches[0]] and launches[0].endswith("resume=false")
    for run_dir in seed_dirs:
        epochs = [int(e) for e in lines(run_dir / "epochs.log")]
        # Only the epoch whose checkpoint was being written when the kill came is trained again.
        again = kill.epoch if run_dir == killed_dir and kill.point == "checkpoint_write" else None
        expected = sorted([*range(EPOCHS), *([again] if again is not None else [])])
        assert sorted(epochs) == expected, f"{run_dir.name} trained epochs {epochs}"
    check_summary(out / "e", seed_dirs)


def check_summary(root: Path, seed_dirs: list[Path]) -> None:
    summary = json.loads((root / "eval_summary.json").read_text())
    assert summary["completed_seeds"] == list(SEEDS) and summary["incomplete_seeds"] == []
    test_f1 = []
    for seed, run_dir in zip(SEEDS, seed_dirs, strict=True):
        metrics = json.loads((run_dir / "results.json").read_text())["final_metrics"]
        assert summary["runs"][str(seed)]["final_metrics"] == metrics
        test_f1.append(metrics["test_f1"])
    assert summary["summary"]["test_f1"]["mean"] == pytest.approx(statistics.fmean(test_f1))
    assert summary["summary"]["test_f1"]["n"] == len(SEEDS)


# ~3 s each on a quiet 2-core machine.
FIXED = [
    # run_eval SIGKILLed in seed 2's second epoch: seed 1 adopted, seed 2 resumed from last.ckpt.
    EvalKill("mid_epoch", "eval", "SIGKILL", EPOCHS + 2),
    # its process group SIGKILLed while seed 1 writes its first checkpoint: seed 1 starts afresh.
    EvalKill("checkpoint_write", "group", "SIGKILL", 1),
    # SIGKILL after the last seed's results.json, before the summary: nothing is trained again.
    EvalKill("after_results", "eval", "SIGKILL", len(SEEDS)),
    # the seed's trial itself killed in its last epoch: run_eval goes on; the rerun resumes it.
    EvalKill("mid_epoch", "trial", "SIGTERM", EPOCHS, delay_s=1.0),
]


@pytest.mark.parametrize("kill", FIXED, ids=str)
def test_fixed_eval_kills(fake_project: Path, kill: EvalKill) -> None:
    run_kill(fake_project, kill)


COUNT, SEED = chaos_count()


@pytest.mark.chaos
@pytest.mark.parametrize("kill", draw_kills(COUNT, SEED), ids=str)
def test_drawn_eval_kills(fake_project: Path, kill: EvalKill) -> None:
    run_kill(fake_project, kill)

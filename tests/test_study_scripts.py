"""The study scripts' run_eval commands plan, compose and validate: a dry run (``DRY_RUN=1``) prints
every command of a phase instead of running it, and each is planned by run_eval's own parser and
checked as the trial would check it. A typo in a recipe then fails here, not hours into a study."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import DictConfig

from har.launch.eval_plan import build_parser, plan_from_args
from har.training import two_stage
from har.training.validate import validate_config
from tests.conftest import REPO, compose_config

# (script, phase, how many run_eval commands the phase prints with the scripts' defaults)
PHASES = [
    ("run_scenarios_study.sh", "screen", 14 * 3),  # every recipe x 3 draws at 1 of 5
    ("run_scenarios_study.sh", "full", 4 * (3 + 1)),  # KEEP x (3 draws at 2 of 5, + all 5)
    ("run_reference_figures.sh", "classical", 2 + 2 + 3 * 2),  # watch, acc+gyro, presets x splits
    ("run_reference_figures.sh", "neural", 1 + 3 * 2 * 5 + 1),
]


def dry_run(script: str, out: Path, **env: str) -> list[list[str]]:
    """The run_eval arguments of every command a phase would run."""
    result = subprocess.run(
        ["bash", f"benchmarks/{script}"],
        cwd=REPO,
        env={**os.environ, "DRY_RUN": "1", "OUT": str(out), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    assert all(c[1] == "experiments/run_eval.py" for c in commands), result.stdout
    return [c[2:] for c in commands]


def check_trial_config(cfg: DictConfig) -> None:
    """What run_trial checks before reading data, for each stage of a two-stage recipe."""
    validate_config(cfg)
    if two_stage.is_two_stage(cfg):
        validate_config(two_stage.stage_one_config(cfg))
        validate_config(two_stage.stage_two_config(cfg, "stage1.ckpt"))


@pytest.mark.slow
@pytest.mark.parametrize(("script", "phase", "count"), PHASES)
def test_every_command_of_a_study_phase_is_a_valid_run(script, phase, count, tmp_path):
    commands = dry_run(script, tmp_path / "out", PHASE=phase)
    assert len(commands) == count
    names = [args[args.index("--name") + 1] for args in commands]
    assert len(set(names)) == len(names), "two commands would write one run folder"
    for args in commands:
        plan = plan_from_args(build_parser().parse_args(args))
        assert plan.root.parent == (tmp_path / "out").resolve()
        check_trial_config(compose_config(plan.fold_plans()[0].overrides))
    assert not (tmp_path / "out").exists(), "a dry run wrote into the study's folder"


def test_a_dry_run_selects_steps_and_levels(tmp_path):
    """The lane knobs: STEPS picks reference steps by a glob, LEVELS the full grid's levels."""
    steps = dry_run(
        "run_reference_figures.sh", tmp_path, PHASE="neural", STEPS="*:*:real_only",
        PRESETS="easy", SPLITS="official_unseen",
    )  # fmt: skip
    assert [a[a.index("--name") + 1] for a in steps] == ["easy_official_unseen_real_only"]
    levels = dry_run(
        "run_scenarios_study.sh", tmp_path, PHASE="full", KEEP="real_only", LEVELS="1.0"
    )
    assert [a[a.index("--name") + 1] for a in levels] == ["real_only_imu1.0_d0"]


def write_run(
    root: Path, recipe: str, draw: int, seed: int, val: float, test: float, status="completed"
):
    run = root / f"{recipe}_imu0.2_d{draw}" / f"seed_{seed}"
    run.mkdir(parents=True)
    payload = {
        "status": status,
        "config": {"seed": seed, "data": {"imu_subjects_seed": draw}},
        "final_metrics": {"best_val_f1": val, "test_f1": test},
    }
    (run / "results.json").write_text(json.dumps(payload))


def test_the_validation_choice_scores_the_recipe_that_validates_better(tmp_path):
    # (draw, seed): baseline (val, test), candidate (val, test)
    for draw, seed, base, cand in [
        (0, 1, (0.5, 0.6), (0.7, 0.8)),  # the candidate validates better: +0.2
        (0, 2, (0.6, 0.7), (0.5, 0.9)),  # the baseline does: 0 (its better test is never seen)
        (1, 1, (0.5, 0.5), (0.5, 0.9)),  # a tie keeps the baseline: 0
    ]:
        write_run(tmp_path, "real_only", draw, seed, *base)
        write_run(tmp_path, "virtual_physics", draw, seed, *cand)
    write_run(tmp_path, "virtual_physics", 2, 1, 0.9, 0.9)  # no baseline partner: left out
    write_run(tmp_path, "real_only", 2, 1, 0.1, 0.1, status="running")
    command = [
        sys.executable, "benchmarks/choose_on_validation.py", str(tmp_path),
        "--baseline", "real_only", "--candidate", "virtual_physics", "--level", "0.2",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    assert "picks virtual_physics in 1 of 3 pairs" in result.stdout
    # mean of (0.2, 0, 0) = 0.0667; sd 0.1155, t(0.975, 2) = 4.303: half-width 0.287
    assert "+0.067 [-0.220, +0.354]" in result.stdout
    empty = subprocess.run([*command[:2], str(tmp_path / "none"), *command[3:]], cwd=REPO,
                           capture_output=True, text=True)  # fmt: skip
    assert empty.returncode == 2 and "no (seed, draw)" in empty.stderr

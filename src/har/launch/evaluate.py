"""Multi-seed evaluation: retrain one configuration with several seeds, report test metrics mean ± std.

    python experiments/run_eval.py --best experiments/hpo/<study>/best.json
    python experiments/run_eval.py --name sc2_beta0 --seeds 1,2,3 scenario.beta=0 data=mmfit

The protocol:
* The configuration is best.json's `forwarded_overrides` (what the search ran every trial with) and
  `override_list` (its pinned and winning values), then the overrides given here (later ones win).
* Seeds default to 1..5. The search ran with `run_hpo.py --seed` (default 0); seeds that overlap the
  search seed recorded in best.json are refused, so no reported number comes from a run the search
  already saw.
* Each seed is one `python -m experiments.run_trial` process into `<output-root>/<name>/seed_<k>/`.
  The checkpoint it tests is the one `trainer.checkpoint.monitor` selected, and early stopping
  watches `trainer.early_stopping.monitor`: both must be validation metrics (`val_*`). The test split
  is evaluated once per seed, after training, and is never used to choose anything.
* Resume: a seed whose results.json says `completed` is adopted, not rerun; an interrupted seed
  continues from its `last.ckpt`. Existing seed directories trained with other overrides are
  refused. One invocation at a time per `<output-root>/<name>` (a lock), and a seed process left by
  a killed invocation is let finish before its dir is judged, so every seed runs exactly once.
* Outputs in `<output-root>/<name>/`: `eval_summary.json` (every seed's final metrics and the mean,
  sample std (ddof=1) and n of each) and `eval_table.{md,csv,tex}`.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from har.errors import ConfigError, reports_user_errors
from har.launch.faults import fault_point
from har.launch.liveness import process_identity
from har.launch.overrides import find_key, override, override_key, shell_join
from har.launch.preflight import compose_trial_config
from har.launch.project import find_project_root
from har.launch.run_records import launch_digest, record_launch, wait_for_previous_process
from har.launch.signals import EXIT_INTERRUPTED, stop_on_signals
from har.launch.trial_process import (
    exclusive_lock,
    log_tail,
    run_trial_process,
    trial_command,
    trial_environment,
)
from har.reporting.results import RESULTS_FILE, write_json_atomic
from har.reporting.runs import read_best_json
from har.reporting.tables import group_stats, write_tables

log = logging.getLogger("har.launch.evaluate")

DEFAULT_SEEDS = (1, 2, 3, 4, 5)
SUMMARY_FILE = "eval_summary.json"
TABLE_STEM = "eval_table"
# Set by this command for each seed; given by the user they would break the protocol.
RESERVED = {"seed": "--seeds", "hydra.run.dir": "--name / --output-root", "resume": "(automatic)"}
EXIT_SOME_FAILED = 1
LOCK_FILE = ".run_eval.lock"
# A seed process whose run_eval was killed gets SIGTERM from the kernel; it ends within seconds.
PREVIOUS_PROCESS_WAIT_S = 120.0


@dataclass(frozen=True)
class EvalPlan:
    name: str
    root: Path  # <output-root>/<name>
    project_root: Path
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]
    search_seed: int | None
    source: dict[str, Any]  # where the configuration came from (best.json fields)
    protocol: dict[str, Any]  # how checkpoints were selected
    checkpoint_dir: str
    trial_timeout_s: float | None = None
    decimals: int = 3

    def run_dir(self, seed: int) -> Path:
        return self.root / f"seed_{seed}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_eval.py",
        description="Retrain one configuration with several seeds; report test metrics mean ± std.",
    )
    parser.add_argument("--best", type=Path, metavar="BEST_JSON", help="a run_hpo.py best.json")
    parser.add_argument(
        "--name", help="evaluation name (default: best.json's study name); runs go to <root>/<name>"
    )
    parser.add_argument(
        "--seeds",
        default=",".join(map(str, DEFAULT_SEEDS)),
        help="comma-separated seeds (default %(default)s; must differ from the search seed)",
    )
    parser.add_argument("--output-root", type=Path, help="default: <project>/experiments/eval")
    parser.add_argument(
        "--ignore-forwarded",
        action="store_true",
        help="do not apply best.json's forwarded_overrides (the search's command-line overrides)",
    )
    parser.add_argument("--trial-timeout", type=float, metavar="SECONDS")
    parser.add_argument("--decimals", type=int, default=3, help="digits in the tables")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every seed (win last)")
    return parser


# ---- planning ------------------------------------------------------------------------------------
def plan_from_args(args: argparse.Namespace) -> EvalPlan:
    project_root = find_project_root()
    best = read_best_json(args.best, "--best") if args.best else {}
    name = args.name or best.get("study_name")
    if not name:
        raise ConfigError("give --name (or --best with a best.json that names its study)")
    seeds = parse_seeds(args.seeds)
    search_seed = best.get("seed") if isinstance(best.get("seed"), int) else None
    if search_seed is not None and search_seed in seeds:
        raise ConfigError(
            f"--seeds {args.seeds} include the search seed {search_seed} (best.json): evaluation "
            "seeds must differ from the seed the search ran with"
        )
    from_best = [] if args.ignore_forwarded else list(best.get("forwarded_overrides", []))
    from_best += list(best.get("override_list", []))
    check_overrides(list(args.overrides))
    tokens = merge_overrides(from_best, list(args.overrides))
    # Defaults for unattended children: their console goes to trial.log; W&B groups the seeds.
    for key, value in (("trainer.progress_bar", False), ("trainer.wandb.group", f"eval-{name}")):
        if find_key(tokens, key) is None:
            tokens.append(override(key, value))
    cfg = compose_trial_config(project_root, tokens, "the evaluation config")
    root = (args.output_root or project_root / "experiments" / "eval").resolve() / name
    return EvalPlan(
        name=name,
        root=root,
        project_root=project_root,
        overrides=tuple(tokens),
        seeds=seeds,
        search_seed=search_seed,
        source={
            "best_json": str(args.best.resolve()) if args.best else None,
            **{k: best.get(k) for k in ("study_name", "best_trial_number", "metric", "best_value")},
        },
        protocol=selection_protocol(cfg),
        checkpoint_dir=cfg.trainer.checkpoint.dirpath,
        trial_timeout_s=args.trial_timeout,
        decimals=args.decimals,
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"--seeds {text!r}: expected comma-separated integers") from error
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: give at least one seed, each once")
    return seeds


def check_overrides(tokens: Sequence[str]) -> None:
    for token in tokens:
        key = override_key(token)
        if key in RESERVED:
            raise ConfigError(f"override {token!r}: run_eval sets {key} itself ({RESERVED[key]})")
        if key.startswith("optuna."):
            raise ConfigError(f"override {token!r}: evaluation runs report to no study")


def merge_overrides(*groups: Sequence[str]) -> list[str]:
    """Later groups win for the same key; HPO-only keys (optuna.*, seed, run dir) are dropped."""
    merged: dict[str, str] = {}
    for group in groups:
        for token in group:
            key = override_key(token)
            if key not in RESERVED and not key.startswith("optuna."):
                merged[key] = token
    return list(merged.values())


def selection_protocol(cfg: Any) -> dict[str, Any]:
    """How each seed's tested checkpoint is chosen; refuses anything that would look at test data."""
    t = cfg.trainer
    if not (t.enable_checkpointing and t.checkpoint.enabled):
        raise ConfigError(
            "trainer.checkpoint.enabled / trainer.enable_checkpointing must be true: the protocol "
            "tests the checkpoint selected on validation"
        )
    monitors = {"trainer.checkpoint.monitor": t.checkpoint.monitor}
    if t.early_stopping.enabled:
        monitors["trainer.early_stopping.monitor"] = t.early_stopping.monitor
    for key, monitor in monitors.items():
        if not str(monitor).startswith("val_"):
            raise ConfigError(f"{key}={monitor}: selection must use a validation metric (val_*)")
    return {
        "checkpoint_monitor": t.checkpoint.monitor,
        "checkpoint_mode": t.checkpoint.mode,
        "early_stopping_monitor": t.early_stopping.monitor if t.early_stopping.enabled else None,
        "test_split": "evaluated once per seed on the validation-selected checkpoint; "
        "never used for selection",
    }


# ---- running the seeds ---------------------------------------------------------------------------
def read_status(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def check_same_configuration(plan: EvalPlan, seed: int) -> None:
    """A seed dir from an earlier invocation must have been trained with these very overrides."""
    recorded = plan.run_dir(seed) / ".hydra" / "overrides.yaml"
    if not recorded.exists():
        return
    used = [
        str(t) for t in OmegaConf.load(recorded) if override_key(str(t)) not in ("seed", "resume")
    ]
    if sorted(used) != sorted(plan.overrides):
        only_then = shell_join(t for t in used if t not in plan.overrides) or "-"
        only_now = shell_join(t for t in plan.overrides if t not in used) or "-"
        raise ConfigError(
            f"{plan.run_dir(seed)} was trained with other overrides (then: {only_then}; now: "
            f"{only_now}); use another --name, or remove that directory"
        )


def run_seed(plan: EvalPlan, seed: int, env: dict[str, str], stop: threading.Event) -> str:
    """Train and test one seed unless it is already done; returns its results.json status."""
    run_dir = plan.run_dir(seed)
    if not wait_for_previous_process(run_dir, PREVIOUS_PROCESS_WAIT_S):
        raise ConfigError(f"{run_dir}: the seed process of an earlier run_eval still runs")
    if read_status(run_dir) == "completed":
        log.info("seed %d: already completed, skipped (%s)", seed, run_dir)
        return "completed"
    tokens = list(plan.overrides)
    if (run_dir / plan.checkpoint_dir / "last.ckpt").exists():
        tokens.append("resume=true")
        log.info("seed %d: resuming from its last.ckpt", seed)
    command = trial_command(tokens, run_dir, seed)
    digest = launch_digest(tokens, seed)
    log.info("seed %d: training in %s", seed, run_dir)
    result = run_trial_process(
        command,
        run_dir,
        cwd=plan.project_root,
        env=env,
        stop=stop,
        timeout_s=plan.trial_timeout_s,
        on_started=lambda pid: record_launch(run_dir, digest, process_identity(pid)),
    )
    fault_point("after_results")
    # A seed stopped after it wrote its final results.json did finish.
    finished = result.exit_code == 0 or result.interrupted
    status = read_status(run_dir) if finished else None
    if status == "completed":
        log.info("seed %d: completed in %.0f s", seed, result.wall_s)
        return status
    reason = "interrupted" if result.interrupted else f"exit code {result.exit_code}"
    log.error("seed %d: %s; log tail:\n%s", seed, reason, log_tail(run_dir))
    return "interrupted" if result.interrupted else "failed"


def summarise(plan: EvalPlan, statuses: dict[int, str]) -> dict[str, Any]:
    """eval_summary.json and the tables, from what the seeds' results.json files say."""
    runs: dict[str, Any] = {}
    completed: list[dict[str, float]] = []
    class_names = None
    for seed in plan.seeds:
        run_dir = plan.run_dir(seed)
        entry: dict[str, Any] = {"run_dir": str(run_dir), "status": statuses.get(seed, "not run")}
        if entry["status"] == "completed":
            results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
            metrics = {
                k: v for k, v in results["final_metrics"].items() if isinstance(v, int | float)
            }
            entry |= {"checkpoint": results.get("checkpoint"), "final_metrics": metrics}
            class_names = (results.get("data") or {}).get("class_names") or class_names
            completed.append(metrics)
        runs[str(seed)] = entry
    stats = group_stats(plan.name, completed)
    payload: dict[str, Any] = {
        "name": plan.name,
        "written_unix": time.time(),
        "source": plan.source,
        "overrides": list(plan.overrides),
        "overrides_line": shell_join(plan.overrides),
        "seeds": list(plan.seeds),
        "search_seed": plan.search_seed,
        "protocol": plan.protocol,
        "statistics": "mean and sample std (ddof=1) over the completed seeds",
        "completed_seeds": [s for s in plan.seeds if statuses.get(s) == "completed"],
        "incomplete_seeds": [s for s in plan.seeds if statuses.get(s) != "completed"],
        "runs": runs,
        "summary": {key: s.as_dict() for key, s in stats.stats.items()},
        "tables": {},
    }
    if completed:
        markdown, paths = write_tables(
            [stats],
            plan.root / TABLE_STEM,
            class_names=class_names,
            decimals=plan.decimals,
            group_title="evaluation",
        )
        payload["tables"] = {kind: str(path) for kind, path in paths.items()}
        print(markdown)
    write_json_atomic(plan.root / SUMMARY_FILE, payload)
    return payload


@reports_user_errors(prog="run_eval")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s [eval] %(message)s", datefmt="%H:%M:%S"
    )
    plan = plan_from_args(args)
    for seed in plan.seeds:
        check_same_configuration(plan, seed)
    log.info(
        "evaluation %s: seeds %s (search seed %s) in %s\n  overrides: %s",
        plan.name,
        ",".join(map(str, plan.seeds)),
        plan.search_seed if plan.search_seed is not None else "not recorded",
        plan.root,
        shell_join(plan.overrides) or "(none)",
    )
    statuses: dict[int, str] = {}
    stop = threading.Event()
    env = trial_environment()
    lock = exclusive_lock(plan.root / LOCK_FILE, f"another run_eval is running in {plan.root}")
    with lock, stop_on_signals(stop):
        for seed in plan.seeds:
            if stop.is_set():
                break
            statuses[seed] = run_seed(plan, seed, env, stop)
        payload = summarise(plan, statuses)
    log.info("summary: %s", plan.root / SUMMARY_FILE)
    if stop.is_set():
        log.warning("interrupted: run the same command again to resume")
        return EXIT_INTERRUPTED
    if payload["incomplete_seeds"]:
        log.error("seed(s) %s did not complete", payload["incomplete_seeds"])
        return EXIT_SOME_FAILED
    return 0

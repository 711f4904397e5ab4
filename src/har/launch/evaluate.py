"""Multi-seed evaluation: retrain one configuration with several seeds, report test metrics mean ± std.

    python experiments/run_eval.py --best experiments/hpo/<study>/best.json
    python experiments/run_eval.py --name sc2_beta0 --seeds 1,2,3 scenario.beta=0 data=mmfit
    python experiments/run_eval.py --name sc2_loso --folds loso data=mmfit   # participant folds

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
* `--folds loso|K` retrains over participant folds instead of one split (seeds default to 1):
  `fold_<k>[_seed_<s>]/` per run, statistics across folds; planning in har.launch.folds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from har.errors import ConfigError, reports_user_errors
from har.launch.eval_plan import EvalPlan, build_parser, plan_from_args
from har.launch.faults import fault_point
from har.launch.folds import summarise_folds
from har.launch.liveness import process_identity
from har.launch.overrides import override_key, shell_join
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
from har.reporting.tables import group_stats, write_tables

log = logging.getLogger("har.launch.evaluate")

SUMMARY_FILE = "eval_summary.json"
TABLE_STEM = "eval_table"
EXIT_SOME_FAILED = 1
LOCK_FILE = ".run_eval.lock"
# A seed process whose run_eval was killed gets SIGTERM from the kernel; it ends within seconds.
PREVIOUS_PROCESS_WAIT_S = 120.0


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
    plans = plan.fold_plans()
    for each in plans:
        for seed in each.seeds:
            check_same_configuration(each, seed)
    log.info(
        "evaluation %s: %sseeds %s (search seed %s) in %s\n  overrides: %s",
        plan.name,
        f"{len(plan.folds)} participant folds, " if plan.folds else "",
        ",".join(map(str, plan.seeds)),
        plan.search_seed if plan.search_seed is not None else "not recorded",
        plan.root,
        shell_join(plan.overrides) or "(none)",
    )
    statuses: dict[tuple[int, int], str] = {}  # (fold index, or -1 without folds; seed)
    stop = threading.Event()
    env = trial_environment()
    lock = exclusive_lock(plan.root / LOCK_FILE, f"another run_eval is running in {plan.root}")
    with lock, stop_on_signals(stop):
        for each in plans:
            for seed in each.seeds:
                if stop.is_set():
                    break
                if each.fold is not None:
                    log.info("fold %d: test participants %s", each.fold.index, list(each.fold.test))
                statuses[(-1 if each.fold is None else each.fold.index, seed)] = run_seed(
                    each, seed, env, stop
                )
        # The summary is written under the lock too: one writer per output folder.
        if plan.folds:
            payload = summarise_folds(
                plan.name,
                plan.root,
                {"source": plan.source, "overrides": list(plan.overrides), "seeds": list(plan.seeds),
                 "search_seed": plan.search_seed, "protocol": plan.protocol},
                plan.folds,
                {(p.fold.index, s): p.run_dir(s) for p in plans if p.fold for s in p.seeds},
                statuses,
                plan.decimals,
            )  # fmt: skip
            incomplete = payload["incomplete_runs"]
        else:
            payload = summarise(plan, {seed: status for (_, seed), status in statuses.items()})
            incomplete = payload["incomplete_seeds"]
    log.info("summary: %s", plan.root / SUMMARY_FILE)
    if stop.is_set():
        log.warning("interrupted: run the same command again to resume")
        return EXIT_INTERRUPTED
    if incomplete:
        log.error("%s did not complete", incomplete)
        return EXIT_SOME_FAILED
    return 0

"""`experiments/run_hpo.py`: search hyperparameters by running `run_trial` once per Optuna trial.

    python experiments/run_hpo.py --n-trials 10 --metric val_f1 --direction maximize \\
        --study-name mmfit_sc2_debug --space-config conf/hpo/scenario2_mmfit.yaml \\
        data=mmfit_debug trainer.epochs=5

Arguments after the options are Hydra overrides forwarded to every trial.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from har.errors import reports_user_errors
from har.hpo.outputs import print_summary, write_summaries
from har.hpo.parallel import configure_logging, quiet_optuna, run_search
from har.hpo.plan_from_args import SPACE_ENV, plan_from_args
from har.hpo.pruner_choice import PRUNER_NAMES, PrunerSettings
from har.hpo.search_plots import write_plots
from har.hpo.study import count_started, prepare_study
from har.launch.signals import EXIT_INTERRUPTED
from har.launch.trial_process import OBJECTIVE_KEYS

log = logging.getLogger("har.hpo.cli")

EXIT_NO_RESULT = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_hpo.py",
        description=__doc__.split("\n\n")[0],
        epilog="Search space grammar and the three-pass recipe: see README, 'Hyperparameter search'.",
    )
    parser.add_argument(
        "--n-trials", type=int, default=10, help="trials this invocation adds (default 10)"
    )
    parser.add_argument(
        "--total-trials",
        type=int,
        help="instead of --n-trials: run until the study holds this many trials (for SLURM arrays "
        "of orchestrators sharing one study: together they run exactly this many)",
    )
    parser.add_argument("--metric", choices=sorted(OBJECTIVE_KEYS), default="val_f1")
    parser.add_argument(
        "--direction",
        choices=("maximize", "minimize"),
        help="default: maximize for val_f1, minimize for val_loss",
    )
    parser.add_argument("--study-name", help=f"default: ${SPACE_ENV}, else the space file's name")
    parser.add_argument(
        "--storage",
        help="study.db / sqlite:///... (default for one worker), study.journal / journal:PATH "
        "(default for several), or a database URL (postgresql://...)",
    )
    parser.add_argument(
        "--space-config",
        type=Path,
        help=f"search space YAML (hydra.sweeper.params); default conf/hpo/${SPACE_ENV}.yaml",
    )
    parser.add_argument("--output-root", type=Path, help="default: experiments/hpo/<study_name>/")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sampler and every trial")
    parser.add_argument(
        "--n-workers", type=int, default=1, help="local worker processes (default 1)"
    )
    parser.add_argument(
        "--worker-index",
        type=int,
        default=0,
        help="this orchestrator's index among several sharing the study (a SLURM array task id): "
        "it decorrelates their samplers, which would otherwise propose the same points",
    )
    parser.add_argument("--pruner", choices=PRUNER_NAMES, default="median")
    parser.add_argument(
        "--pruner-startup-trials",
        type=int,
        default=PrunerSettings.startup_trials,
        help="median: trials finished before any pruning (default %(default)s)",
    )
    parser.add_argument(
        "--pruner-warmup-epochs",
        type=int,
        default=PrunerSettings.warmup_epochs,
        help="median: epochs of each trial never pruned (default %(default)s)",
    )
    parser.add_argument(
        "--fix-from",
        type=Path,
        action="append",
        default=[],
        metavar="BEST_JSON",
        help="pin an earlier pass's winners (its best.json); repeatable",
    )
    parser.add_argument(
        "--trial-timeout", type=float, metavar="SECONDS", help="FAIL a trial after this long"
    )
    parser.add_argument(
        "--stop-grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on Ctrl-C/SIGTERM, time a trial gets to exit before SIGKILL (default %(default)s)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides forwarded to every trial")
    return parser


@reports_user_errors(prog="run_hpo")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    quiet_optuna()
    return run(args)


def run(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    study = prepare_study(plan)
    started = count_started(study)
    target = args.total_trials if args.total_trials is not None else started + args.n_trials
    plan = replace(plan, started_before=started, target_total=target)
    log.info(
        "study %s: %d trial(s) so far, running up to %d in all; storage %s; outputs in %s",
        plan.study_name,
        started,
        target,
        plan.storage,
        plan.output_root,
    )
    finished = run_search(
        plan, args.n_workers, first_worker_index=args.worker_index * args.n_workers
    )
    write_summaries(study, plan)
    plots = [] if args.no_plots else write_plots(study, plan.output_root)
    has_best = print_summary(study, plan, plots)
    if not finished:
        return EXIT_INTERRUPTED
    return 0 if has_best else EXIT_NO_RESULT


if __name__ == "__main__":
    sys.exit(main())

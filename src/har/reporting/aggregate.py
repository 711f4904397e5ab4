"""Aggregate any finished runs into a mean ± std table, grouped by config keys.

    python -m har.reporting.aggregate 'experiments/**/results.json' --by scenario
    python -m har.reporting.aggregate experiments/eval --by scenario.alpha scenario.beta \\
        --baseline 'alpha=1.0, beta=0.0' --out results/tables/alpha_beta

Quote the pattern so the shell leaves ``**`` to this command (recursive glob); directories are
searched for results.json. Only ``completed`` runs count. Prints the Markdown table and writes
``<out>.md``, ``<out>.csv`` and ``<out>.tex``.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from har.errors import ConfigError, reports_user_errors
from har.reporting.paired import DEFAULT_PAIR_BY, paired_differences
from har.reporting.runs import RunRecord, find_results, group_runs, load_runs
from har.reporting.tables import (
    HEADLINE_METRICS,
    GroupStats,
    Metric,
    group_stats,
    metric_by_key,
    write_tables,
)

log = logging.getLogger("har.reporting")

DEFAULT_OUT_DIR = Path("results") / "tables"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m har.reporting.aggregate",
        description="Mean ± sample std (ddof=1) of test metrics over runs, grouped by config keys.",
    )
    parser.add_argument("patterns", nargs="+", help="results.json globs (quote them) or run dirs")
    parser.add_argument(
        "--by",
        nargs="+",
        default=["scenario"],
        metavar="KEY",
        help="dotted config keys to group by (a group such as `scenario` goes by its name); "
        "default: scenario",
    )
    parser.add_argument(
        "--baseline", help="the group the Δ column is relative to (default: the first row)"
    )
    parser.add_argument(
        "--delta-metric", default="test_f1", help="the metric of the Δ column (default test_f1)"
    )
    parser.add_argument(
        "--pair-by",
        nargs="+",
        default=list(DEFAULT_PAIR_BY),
        metavar="KEY",
        help="config keys that match a run to its baseline partner; the Δ column is the mean "
        "paired difference with its 95%% t interval and paired t-test p-value "
        f"(default: {' '.join(DEFAULT_PAIR_BY)})",
    )
    parser.add_argument(
        "--cluster-by",
        metavar="KEY",
        help="one of the --pair-by keys (e.g. data.imu_subjects_seed): average the pairs of each "
        "of its values first, so the interval is over those means (n = its values, not runs)",
    )
    parser.add_argument(
        "--metrics",
        help="comma-separated final_metrics keys for the main table "
        f"(default: {','.join(m.key for m in HEADLINE_METRICS)})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"output path without suffix (default: {DEFAULT_OUT_DIR}/by_<keys>)",
    )
    parser.add_argument("--decimals", type=int, default=3)
    return parser


def aggregate(
    runs: Sequence[RunRecord], by: Sequence[str]
) -> tuple[list[GroupStats], tuple[str, ...] | None]:
    """Per-group statistics, and the class names the runs agree on (None if they do not)."""
    groups = group_runs(runs, by)
    for label, members in groups.items():
        repeated = [s for s, count in Counter(r.seed for r in members).items() if count > 1]
        if repeated:
            log.warning(
                "group %s: several runs share seed(s) %s, so its std is not a spread over seeds",
                label,
                repeated,
            )
    stats = [group_stats(label, [r.metrics for r in members]) for label, members in groups.items()]
    names = {r.class_names for r in runs if r.class_names is not None}
    return stats, names.pop() if len(names) == 1 else None


@reports_user_errors(prog="aggregate")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    return run(args)


def run(args: argparse.Namespace) -> int:
    paths = find_results(args.patterns)
    if not paths:
        raise ConfigError(f"no results.json matches {' '.join(args.patterns)}")
    runs, skipped = load_runs(paths)
    for path, reason in skipped:
        log.info("skipped %s: %s", path, reason)
    if not runs:
        raise ConfigError(f"none of the {len(paths)} results.json files is a completed run")
    metrics = _metrics(args.metrics)
    groups, class_names = aggregate(runs, args.by)
    baseline = args.baseline or groups[0].label
    members = group_runs(runs, args.by)
    if baseline not in members:
        labels = ", ".join(repr(g.label) for g in groups)
        raise ConfigError(f"--baseline {baseline!r} is not one of the groups: {labels}")
    paired = paired_differences(members, baseline, args.delta_metric, args.pair_by, args.cluster_by)
    out = args.out or DEFAULT_OUT_DIR / ("by_" + "_".join(_slug(k) for k in args.by))
    try:
        markdown, written = write_tables(
            groups,
            out,
            metrics=metrics,
            class_names=class_names,
            baseline=baseline,
            delta_metric=metric_by_key(args.delta_metric),
            decimals=args.decimals,
            group_title=", ".join(args.by),
            paired=paired,
        )
    except KeyError as error:
        labels = ", ".join(repr(g.label) for g in groups)
        raise ConfigError(f"--baseline {error} is not one of the groups: {labels}") from None
    print(markdown)
    log.info(
        "%d run(s) in %d group(s), %d skipped; wrote %s",
        len(runs),
        len(groups),
        len(skipped),
        ", ".join(str(p) for p in written.values()),
    )
    return 0


def _metrics(text: str | None) -> tuple[Metric, ...]:
    if not text:
        return HEADLINE_METRICS
    return tuple(metric_by_key(key.strip()) for key in text.split(",") if key.strip())


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)


if __name__ == "__main__":
    sys.exit(main())

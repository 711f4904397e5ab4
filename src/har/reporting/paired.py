"""Paired differences against a baseline: the statistic a comparison of training recipes needs.

Two recipes run on the same (seed, subject draw) pairs share most of their run-to-run noise (the
same IMU subjects, the same initialisation stream), so the honest question is the mean of the
per-pair differences, not the difference of two means with their pooled spread. For each group,
runs are matched to baseline runs on the values of ``pair_by`` config keys (default: ``seed`` and
``data.imu_subjects_seed``); the mean difference gets a Student-t 95 % confidence interval and the
two-sided p-value of the paired t-test (``scipy.stats.ttest_rel``). Unmatched runs are left out and
counted; with fewer than two pairs there is no interval.

With ``cluster_by`` (one of the ``pair_by`` keys, e.g. the subject draw), the pairs of each value of
that key are averaged first and the interval is taken over those cluster means: the runs of one draw
share who wears the watch, so they are not independent evidence about a new draw, and n counts
draws, not runs. It is the conservative reading when few draws carry many seeds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

from har.errors import ConfigError
from har.reporting.runs import RunRecord, config_value

DEFAULT_PAIR_BY = ("seed", "data.imu_subjects_seed")
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedDifference:
    mean: float
    low: float | None  # the 95 % interval; None with fewer than two pairs
    high: float | None
    p_value: float | None
    n_pairs: int  # pairs, or cluster means with cluster_by
    unmatched: int  # runs of the group with no baseline partner (or vice versa)
    cluster_by: str | None = None  # the key whose values the interval is over

    def text(self, decimals: int) -> str:
        n = f"n={self.n_pairs}" + (f" {self.cluster_by} means" if self.cluster_by else "")
        head = f"{self.mean:+.{decimals}f}"
        if self.low is None or self.high is None or self.p_value is None:
            return f"{head} ({n})"
        return (
            f"{head} [{self.low:+.{decimals}f}, {self.high:+.{decimals}f}] "
            f"p={_p_text(self.p_value)} ({n})"
        )


def paired_difference(values: Sequence[float], baseline: Sequence[float]) -> PairedDifference:
    """Mean of ``values[i] - baseline[i]`` with its t interval and paired t-test p-value."""
    differences = [v - b for v, b in zip(values, baseline, strict=True)]
    n = len(differences)
    mean = math.fsum(differences) / n
    if n < 2:
        return PairedDifference(mean, None, None, None, n, 0)
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in differences) / (n - 1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    p = float(stats.ttest_rel(values, baseline).pvalue) if sd > 0 else (0.0 if mean else 1.0)
    return PairedDifference(mean, mean - half, mean + half, p, n, 0)


def paired_differences(
    groups: Mapping[str, Sequence[RunRecord]],
    baseline: str,
    metric: str,
    pair_by: Sequence[str] = DEFAULT_PAIR_BY,
    cluster_by: str | None = None,
) -> dict[str, PairedDifference | None]:
    """Each group's paired difference in ``metric`` against the ``baseline`` group (KeyError if
    there is no such group); None where no run pairs up. ``cluster_by``: see the module doc."""
    if baseline not in groups:
        raise KeyError(baseline)
    if cluster_by is not None and cluster_by not in pair_by:
        raise ConfigError(
            f"--cluster-by {cluster_by}: clusters are values of a pairing key, so add it to "
            f"--pair-by (now: {' '.join(pair_by)})"
        )
    reference = _by_pair(groups[baseline], metric, pair_by)
    out: dict[str, PairedDifference | None] = {}
    for label, runs in groups.items():
        own = _by_pair(runs, metric, pair_by)
        common = sorted(set(own) & set(reference), key=repr)
        if not common:
            out[label] = None
            continue
        if cluster_by is None:
            result = paired_difference([own[k] for k in common], [reference[k] for k in common])
        else:
            at = list(pair_by).index(cluster_by)
            clusters = sorted({k[at] for k in common})
            result = paired_difference(
                [statistics.fmean(own[k] for k in common if k[at] == c) for c in clusters],
                [statistics.fmean(reference[k] for k in common if k[at] == c) for c in clusters],
            )
        unmatched = len(set(own) ^ set(reference))
        out[label] = PairedDifference(
            **{**result.__dict__, "unmatched": unmatched, "cluster_by": cluster_by}
        )
    return out


def _by_pair(runs: Sequence[RunRecord], metric: str, pair_by: Sequence[str]) -> dict:
    """``{pair key: metric}``; a key seen twice is ambiguous and refused."""
    values: dict[tuple, float] = {}
    for run in runs:
        if metric not in run.metrics:
            continue
        key = tuple(repr(config_value(run.config, k)) for k in pair_by)
        if key in values:
            raise ConfigError(
                f"{run.path}: another run of its group has the same {', '.join(pair_by)} "
                f"({', '.join(key)}), so runs cannot be paired: add the key that tells them apart "
                "to --pair-by or --by"
            )
        values[key] = run.metrics[metric]
    return values


def _p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"

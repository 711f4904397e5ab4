"""Mean ± std tables over runs (seeds), written as Markdown, CSV and LaTeX.

Statistics: the mean and the *sample* standard deviation (ddof=1, the unbiased variance's root),
over the runs in a group that have the metric as a finite number; with one run the std is undefined
and left blank. The Δ column is the difference of means, ``group - baseline``, of one chosen metric.

Two display tables: the headline one (groups as rows, metrics as columns) and per-class F1 (classes
as rows, groups as columns, since there are more classes than groups). The CSV holds every
statistic as plain numbers, one row per group, for further processing.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from har.reporting.paired import PairedDifference
from har.reporting.results import write_text_atomic


@dataclass(frozen=True)
class Metric:
    key: str  # the final_metrics key in results.json
    label: str  # Markdown and CSV readers
    latex: str


HEADLINE_METRICS: tuple[Metric, ...] = (
    Metric("test_f1", "macro-F1", "macro-F1"),
    Metric("test_acc", "accuracy", "accuracy"),
    Metric("test_kappa", "Cohen's κ", r"Cohen's $\kappa$"),
    Metric("test_sim_f1", "sim macro-F1", "sim macro-F1"),
    Metric("test_mse", "MSE (sim)", "MSE (sim)"),
    Metric("test_mae", "MAE (sim)", "MAE (sim)"),
    Metric("test_pearson_x", "r_x (sim)", "$r_x$ (sim)"),
    Metric("test_pearson_y", "r_y (sim)", "$r_y$ (sim)"),
    Metric("test_pearson_z", "r_z (sim)", "$r_z$ (sim)"),
)
PER_CLASS_PREFIX = "test_f1_class"


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float | None  # sample std (ddof=1); None with a single value
    n: int
    values: tuple[float, ...]

    def as_dict(self) -> dict[str, object]:
        return {"mean": self.mean, "std": self.std, "n": self.n, "values": list(self.values)}


def summarise(values: Sequence[float]) -> Summary | None:
    finite = tuple(float(v) for v in values if math.isfinite(v))
    if not finite:
        return None
    std = statistics.stdev(finite) if len(finite) > 1 else None
    return Summary(mean=statistics.fmean(finite), std=std, n=len(finite), values=finite)


@dataclass
class GroupStats:
    label: str
    n_runs: int
    stats: dict[str, Summary] = field(default_factory=dict)


def group_stats(label: str, per_run_metrics: Sequence[Mapping[str, float]]) -> GroupStats:
    """Summaries of every metric key that any run of the group has."""
    keys = sorted({key for metrics in per_run_metrics for key in metrics})
    stats = {}
    for key in keys:
        summary = summarise([m[key] for m in per_run_metrics if key in m])
        if summary is not None:
            stats[key] = summary
    return GroupStats(label=label, n_runs=len(per_run_metrics), stats=stats)


def per_class_keys(groups: Sequence[GroupStats]) -> list[str]:
    keys = {k for g in groups for k in g.stats if k.startswith(PER_CLASS_PREFIX)}
    return sorted(keys, key=lambda k: int(k[len(PER_CLASS_PREFIX) :]))


# ---- display cells -------------------------------------------------------------------------------
def mean_std_text(summary: Summary | None, decimals: int, pm: str = "±") -> str:
    if summary is None:
        return "–"
    if summary.std is None:
        return f"{summary.mean:.{decimals}f}"
    return f"{summary.mean:.{decimals}f} {pm} {summary.std:.{decimals}f}"


def deltas(groups: Sequence[GroupStats], metric: str, baseline: str) -> dict[str, float | None]:
    """Mean of ``metric`` in each group minus the baseline group's mean."""
    base = next((g for g in groups if g.label == baseline), None)
    if base is None:
        raise KeyError(baseline)
    reference = base.stats.get(metric)
    out: dict[str, float | None] = {}
    for g in groups:
        own = g.stats.get(metric)
        out[g.label] = None if own is None or reference is None else own.mean - reference.mean
    return out


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    latex_header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    latex_rows: tuple[tuple[str, ...], ...]


def headline_table(
    groups: Sequence[GroupStats],
    metrics: Sequence[Metric],
    decimals: int,
    baseline: str | None,
    delta_metric: Metric | None,
    group_title: str = "group",
    paired: Mapping[str, PairedDifference | None] | None = None,
) -> Table:
    """Mean ± std per metric, and the Δ column against ``baseline``: paired differences with their
    95 % interval and p-value when ``paired`` is given (``har.reporting.paired``), else the
    difference of the group means."""
    show_delta = baseline is not None and delta_metric is not None and len(groups) > 1
    delta = deltas(groups, delta_metric.key, baseline) if show_delta else {}  # type: ignore[arg-type, union-attr]
    header = [group_title, "n", *(m.label for m in metrics)]
    latex_header = [latex_escape(group_title), "$n$", *(m.latex for m in metrics)]
    if show_delta:
        kind = " (paired, 95 % CI)" if paired is not None else ""
        header.append(f"Δ {delta_metric.label} vs {baseline}{kind}")  # type: ignore[union-attr]
        latex_header.append(f"$\\Delta$ {delta_metric.latex}{kind.replace('%', chr(92) + '%')}")  # type: ignore[union-attr]
    rows, latex_rows = [], []
    for g in groups:
        cells = [mean_std_text(g.stats.get(m.key), decimals) for m in metrics]
        latex_cells = [mean_std_text(g.stats.get(m.key), decimals, r"$\pm$") for m in metrics]
        row = [g.label, str(g.n_runs), *cells]
        latex_row = [latex_escape(g.label), str(g.n_runs), *latex_cells]
        if show_delta:
            if paired is not None and g.label != baseline:
                difference = paired.get(g.label)
                text = "–" if difference is None else difference.text(decimals)
            else:
                text = _delta_text(delta[g.label], decimals, is_baseline=g.label == baseline)
            row.append(text)
            latex_row.append(latex_escape(text).replace("p=<", "p$<$"))
        rows.append(tuple(row))
        latex_rows.append(tuple(latex_row))
    title = "Test metrics, mean ± sample std over runs"
    return Table(title, tuple(header), tuple(latex_header), tuple(rows), tuple(latex_rows))


def per_class_table(
    groups: Sequence[GroupStats], class_names: Sequence[str] | None, decimals: int
) -> Table | None:
    keys = per_class_keys(groups)
    if not keys:
        return None
    rows, latex_rows = [], []
    for key in keys:
        index = int(key[len(PER_CLASS_PREFIX) :])
        name = class_names[index] if class_names and index < len(class_names) else f"class {index}"
        rows.append((name, *(mean_std_text(g.stats.get(key), decimals) for g in groups)))
        latex_rows.append(
            (
                latex_escape(name),
                *(mean_std_text(g.stats.get(key), decimals, r"$\pm$") for g in groups),
            )
        )
    header = ("class", *(g.label for g in groups))
    latex_header = ("class", *(latex_escape(g.label) for g in groups))
    title = "Per-class test F1, mean ± sample std over runs"
    return Table(title, header, latex_header, tuple(rows), tuple(latex_rows))


def _delta_text(value: float | None, decimals: int, is_baseline: bool) -> str:
    if is_baseline:
        return "baseline"
    if value is None:
        return "–"
    return f"{value:+.{decimals}f}"


# ---- renderers -----------------------------------------------------------------------------------
def to_markdown(table: Table) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"

    aligns = ["---"] + ["---:"] * (len(table.header) - 1)
    body = [line(table.header), line(aligns), *(line(r) for r in table.rows)]
    return f"**{table.title}**\n\n" + "\n".join(body) + "\n"


def to_latex(table: Table, label: str) -> str:
    """A booktabs table (``\\usepackage{booktabs}``) with a caption and a label."""
    spec = "l" + "r" * (len(table.header) - 1)
    caption = latex_escape(table.title).replace("±", r"$\pm$")
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        f"\\caption{{{caption}}}",
        f"\\label{{{label}}}",
        f"\\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(table.latex_header) + r" \\",
        r"\midrule",
        *(" & ".join(row) + r" \\" for row in table.latex_rows),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    for char, escaped in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
    ):
        text = text.replace(char, escaped)
    return text


def to_csv(
    groups: Sequence[GroupStats],
    keys: Sequence[str],
    delta: Mapping[str, float | None] | None = None,
    delta_metric: str | None = None,
    paired: Mapping[str, PairedDifference | None] | None = None,
) -> str:
    """One row per group: n_runs, then ``<key>_mean``, ``<key>_std``, ``<key>_n`` per metric; the
    difference of means ``delta_<metric>`` and, with ``paired``, the paired difference with its
    interval, p-value and number of pairs (``paired_delta_<metric>*``) last."""
    header = ["group", "n_runs"]
    for key in keys:
        header += [f"{key}_mean", f"{key}_std", f"{key}_n"]
    if delta is not None:
        header.append(f"delta_{delta_metric}")
    if paired is not None:
        header += [
            f"paired_delta_{delta_metric}{c}" for c in ("", "_ci_low", "_ci_high", "_p", "_pairs")
        ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for g in groups:
        row: list[object] = [g.label, g.n_runs]
        for key in keys:
            s = g.stats.get(key)
            row += ["", "", 0] if s is None else [repr(s.mean), _blank(s.std), s.n]
        if delta is not None:
            row.append(_blank(delta.get(g.label)))
        if paired is not None:
            d = paired.get(g.label)
            row += ["", "", "", "", 0] if d is None else [
                repr(d.mean), _blank(d.low), _blank(d.high), _blank(d.p_value), d.n_pairs
            ]  # fmt: skip
        writer.writerow(row)
    return buffer.getvalue()


def _blank(value: float | None) -> str:
    return "" if value is None else repr(value)


# ---- all three files -----------------------------------------------------------------------------
def write_tables(
    groups: Sequence[GroupStats],
    stem: Path,
    *,
    metrics: Sequence[Metric] = HEADLINE_METRICS,
    class_names: Sequence[str] | None = None,
    baseline: str | None = None,
    delta_metric: Metric | None = None,
    decimals: int = 3,
    group_title: str = "group",
    paired: Mapping[str, PairedDifference | None] | None = None,
) -> tuple[str, dict[str, Path]]:
    """Write ``<stem>.md``, ``<stem>.csv`` and ``<stem>.tex``; returns the Markdown and the paths.
    ``paired`` (per group, against ``baseline``) turns the Δ column into paired differences.

    ``baseline`` defaults to the first group; a baseline that is not a group raises KeyError.
    """
    if baseline is None and groups:
        baseline = groups[0].label
    if baseline is not None and baseline not in {g.label for g in groups}:
        raise KeyError(baseline)
    delta_metric = delta_metric or metrics[0]
    tables = [
        headline_table(groups, metrics, decimals, baseline, delta_metric, group_title, paired)
    ]
    per_class = per_class_table(groups, class_names, decimals)
    if per_class is not None:
        tables.append(per_class)

    markdown = "\n".join(to_markdown(t) for t in tables)
    label_stem = latex_escape(stem.name).replace("\\", "")
    latex = "\n".join(to_latex(t, f"tab:{label_stem}-{i}") for i, t in enumerate(tables))
    csv_keys = [m.key for m in metrics]
    csv_keys += [k for k in sorted({k for g in groups for k in g.stats}) if k not in csv_keys]
    delta = deltas(groups, delta_metric.key, baseline) if baseline is not None else None
    # "--out t.md" and "--out t" both mean t.*, but "--out sim_imu0.2" is sim_imu0.2.*, not sim_imu0.*
    if stem.suffix in (".md", ".csv", ".tex"):
        stem = stem.with_suffix("")
    paths = {
        kind: stem.with_name(stem.name + suffix)
        for kind, suffix in (("markdown", ".md"), ("csv", ".csv"), ("latex", ".tex"))
    }
    write_text_atomic(paths["markdown"], markdown)
    write_text_atomic(paths["csv"], to_csv(groups, csv_keys, delta, delta_metric.key, paired))
    write_text_atomic(paths["latex"], latex)
    return markdown, paths


def metric_by_key(key: str) -> Metric:
    known = {m.key: m for m in HEADLINE_METRICS}
    return known.get(key, Metric(key, key, latex_escape(key)))

"""Mean ± std statistics and the three table formats, against hand-computed values."""

from __future__ import annotations

import csv
import math

import pytest

from har.reporting.tables import (
    GroupStats,
    group_stats,
    metric_by_key,
    summarise,
    write_tables,
)


def test_summary_is_mean_and_sample_std():
    s = summarise([0.5, 0.7, 0.9])
    assert s.mean == pytest.approx(0.7)
    # ddof=1: sqrt((0.2² + 0² + 0.2²) / 2) = 0.2 (the population std would be 0.1633)
    assert s.std == pytest.approx(0.2)
    assert s.n == 3


def test_one_value_has_no_std_and_non_finite_values_are_left_out():
    assert summarise([0.4]).std is None
    s = summarise([0.2, math.nan, 0.4])
    assert (s.n, s.mean, s.std) == (2, pytest.approx(0.3), pytest.approx(math.sqrt(0.02)))
    assert summarise([math.nan]) is None


def test_group_stats_use_the_runs_that_have_each_metric():
    g = group_stats("a", [{"test_f1": 0.6, "test_mse": 1.0}, {"test_f1": 0.8}])
    assert g.n_runs == 2
    assert g.stats["test_f1"].n == 2 and g.stats["test_mse"].n == 1


def two_groups() -> list[GroupStats]:
    return [
        group_stats("base", [{"test_f1": 0.5, "test_f1_class0": 0.4, "test_f1_class1": 0.6}]),
        group_stats(
            "new_model",
            [
                {"test_f1": 0.6, "test_f1_class0": 0.5, "test_f1_class1": 0.7},
                {"test_f1": 0.8, "test_f1_class0": 0.7, "test_f1_class1": 0.9},
            ],
        ),
    ]


def test_three_formats_hold_the_same_numbers(tmp_path):
    markdown, paths = write_tables(
        two_groups(),
        tmp_path / "t",
        metrics=[metric_by_key("test_f1")],
        class_names=["squats", "lunges"],
        baseline="base",
    )
    std = math.sqrt(0.02)  # sample std of 0.6 and 0.8
    assert f"| new_model | 2 | 0.700 ± {std:.3f} | +0.200 |" in markdown
    assert "| base | 1 | 0.500 | baseline |" in markdown
    assert "| squats | 0.400 | 0.600 ± 0.141 |" in markdown
    assert (tmp_path / "t.md").read_text() == markdown

    rows = list(csv.DictReader(paths["csv"].open()))
    assert [r["group"] for r in rows] == ["base", "new_model"]
    assert float(rows[1]["test_f1_mean"]) == pytest.approx(0.7)
    assert float(rows[1]["test_f1_std"]) == pytest.approx(std)
    assert rows[0]["test_f1_std"] == ""  # one run: undefined, not 0
    assert float(rows[1]["delta_test_f1"]) == pytest.approx(0.2)
    assert float(rows[1]["test_f1_class1_mean"]) == pytest.approx(0.8)

    latex = paths["latex"].read_text()
    assert r"new\_model & 2 & 0.700 $\pm$ 0.141 & +0.200 \\" in latex
    assert latex.count(r"\begin{tabular}") == 2 and r"\toprule" in latex
    assert r"\label{tab:t-0}" in latex


def test_baseline_defaults_to_the_first_row_and_must_exist(tmp_path):
    markdown, _ = write_tables(two_groups(), tmp_path / "t", metrics=[metric_by_key("test_f1")])
    assert "Δ macro-F1 vs base" in markdown
    with pytest.raises(KeyError):
        write_tables(two_groups(), tmp_path / "t", baseline="nope")

"""`python -m har.reporting.aggregate` over prepared run directories, against hand-computed values."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from har.reporting.aggregate import main
from har.reporting.runs import RunRecord, config_value, find_results, group_runs

REPO = Path(__file__).resolve().parents[2]


def write_run(
    root: Path, name: str, scenario: str, alpha: float, seed: int, status="completed", **metrics
):
    run_dir = root / name
    run_dir.mkdir(parents=True)
    payload = {
        "status": status,
        "config": {"seed": seed, "scenario": {"name": scenario, "alpha": alpha}},
        "final_metrics": metrics,
        "data": {"class_names": ["squats", "lunges"]},
    }
    (run_dir / "results.json").write_text(json.dumps(payload))
    return run_dir


@pytest.fixture
def three_runs(tmp_path):
    runs = tmp_path / "runs"
    write_run(
        runs,
        "a/1",
        "sc2",
        1.0,
        1,
        test_f1=0.60,
        test_acc=0.70,
        test_f1_class0=0.5,
        test_f1_class1=0.7,
    )
    write_run(
        runs,
        "a/2",
        "sc2",
        1.0,
        2,
        test_f1=0.80,
        test_acc=0.90,
        test_f1_class0=0.7,
        test_f1_class1=0.9,
    )
    write_run(
        runs,
        "b/1",
        "base",
        0.0,
        1,
        test_f1=0.50,
        test_acc=0.55,
        test_f1_class0=0.4,
        test_f1_class1=0.6,
    )
    write_run(runs, "c/1", "sc2", 1.0, 3, status="failed", test_f1=0.0)  # never averaged in
    return runs


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    return {row["group"]: row for row in csv.DictReader(path.open())}


def test_groups_reproduce_hand_computed_means_and_stds(three_runs, tmp_path, capsys):
    out = tmp_path / "tables" / "by_scenario"
    pattern = str(three_runs / "**" / "results.json")
    assert main([pattern, "--by", "scenario", "--baseline", "base", "--out", str(out)]) == 0

    rows = read_csv(out.with_suffix(".csv"))
    assert set(rows) == {"base", "sc2"}
    sc2 = rows["sc2"]
    assert sc2["n_runs"] == "2"
    assert float(sc2["test_f1_mean"]) == pytest.approx(0.70)
    assert float(sc2["test_f1_std"]) == pytest.approx(
        math.sqrt(((0.6 - 0.7) ** 2 + (0.8 - 0.7) ** 2) / 1)
    )
    assert float(sc2["test_acc_mean"]) == pytest.approx(0.80)
    assert float(sc2["test_f1_class1_mean"]) == pytest.approx(0.80)
    assert float(sc2["delta_test_f1"]) == pytest.approx(0.20)
    assert rows["base"]["test_f1_std"] == "" and float(rows["base"]["delta_test_f1"]) == 0.0

    printed = capsys.readouterr().out
    assert "| sc2 | 2 | 0.700 ± 0.141 | 0.800 ± 0.141 |" in printed
    assert "| lunges | 0.600 | 0.800 ± 0.141 |" in printed  # per-class table, class names
    assert out.with_suffix(".md").read_text() == printed.rstrip("\n") + "\n"
    assert r"sc2 & 2 & 0.700 $\pm$ 0.141" in out.with_suffix(".tex").read_text()


def test_several_keys_and_nested_keys(three_runs, tmp_path):
    out = tmp_path / "t"
    assert main([str(three_runs), "--by", "scenario.alpha", "seed", "--out", str(out)]) == 0
    rows = read_csv(out.with_suffix(".csv"))
    assert list(rows) == [
        "scenario.alpha=0.0, seed=1",
        "scenario.alpha=1.0, seed=1",
        "scenario.alpha=1.0, seed=2",
    ]
    assert float(rows["scenario.alpha=1.0, seed=2"]["delta_test_f1"]) == pytest.approx(0.30)


def test_unknown_baseline_and_empty_match_are_user_errors(three_runs, tmp_path, capsys):
    assert main([str(three_runs), "--baseline", "nope", "--out", str(tmp_path / "t")]) == 2
    assert "'base', 'sc2'" in capsys.readouterr().err
    assert main([str(tmp_path / "nothing" / "**" / "results.json")]) == 2


def test_config_groups_go_by_their_name():
    config = {"scenario": {"name": "sc2", "alpha": 1.0}, "data": {"dataset_name": "mmfit"}}
    assert config_value(config, "scenario") == "sc2"
    assert config_value(config, "data") == "mmfit"
    assert config_value(config, "scenario.alpha") == 1.0
    assert config_value(config, "scenario.nope") == "(unset)"


def test_a_list_setting_groups_as_one_value():
    runs = [RunRecord(Path(f"r{i}"), {"data": {"sensors": sensors}}, {}, i, None) for i, sensors in
            enumerate((["acc"], ["acc", "gyr"], ["acc", "gyr"]))]  # fmt: skip
    groups = group_runs(runs, ["data.sensors"])
    assert {label: len(members) for label, members in groups.items()} == {
        "[acc]": 1,
        "[acc, gyr]": 2,
    }


def test_runs_as_a_module(three_runs, tmp_path):
    out = tmp_path / "m"
    proc = subprocess.run(
        [sys.executable, "-m", "har.reporting.aggregate", str(three_runs / "**" / "results.json"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "| sc2 | 2 | 0.700 ± 0.141 |" in proc.stdout
    assert "3 run(s) in 2 group(s), 1 skipped" in proc.stderr
    assert len(find_results([three_runs])) == 4


def write_paired(root: Path, scenario: str, seed: int, draw: int, f1: float) -> None:
    run_dir = root / f"{scenario}_s{seed}_d{draw}"
    run_dir.mkdir(parents=True)
    config = {"seed": seed, "scenario": {"name": scenario}, "data": {"imu_subjects_seed": draw}}
    payload = {"status": "completed", "config": config, "final_metrics": {"test_f1": f1}}
    (run_dir / "results.json").write_text(json.dumps(payload))


def test_the_delta_is_a_paired_difference_with_its_interval_and_p_value(tmp_path, capsys):
    """Pairs on (seed, imu_subjects_seed); checked against a hand computation: Student t with
    2 degrees of freedom has t_0.975 = 4.302653 and the closed form p = 1 - |t| / sqrt(2 + t²)."""
    base = {(1, 0): 0.50, (2, 0): 0.60, (1, 1): 0.70}
    new = {(1, 0): 0.55, (2, 0): 0.70, (1, 1): 0.72, (3, 0): 0.99}  # (3, 0) has no partner
    for (seed, draw), f1 in base.items():
        write_paired(tmp_path / "runs", "real_only", seed, draw, f1)
    for (seed, draw), f1 in new.items():
        write_paired(tmp_path / "runs", "virtual_imu", seed, draw, f1)
    out = tmp_path / "t"
    assert main([str(tmp_path / "runs"), "--baseline", "real_only", "--out", str(out)]) == 0

    d = [0.05, 0.10, 0.02]
    mean = sum(d) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
    half = 4.302652729749464 * sd / math.sqrt(3)
    t_stat = mean / (sd / math.sqrt(3))
    p = 1 - abs(t_stat) / math.sqrt(2 + t_stat**2)
    row = read_csv(out.with_suffix(".csv"))["virtual_imu"]
    assert float(row["paired_delta_test_f1"]) == pytest.approx(mean)
    assert float(row["paired_delta_test_f1_ci_low"]) == pytest.approx(mean - half)
    assert float(row["paired_delta_test_f1_ci_high"]) == pytest.approx(mean + half)
    assert float(row["paired_delta_test_f1_p"]) == pytest.approx(p)
    assert row["paired_delta_test_f1_pairs"] == "3"
    printed = capsys.readouterr().out
    assert "(paired, 95 % CI)" in printed
    assert f"+{mean:.3f} [{mean - half:+.3f}, {mean + half:+.3f}] p={p:.3f} (n=3)" in printed
    assert "(paired, 95 \\% CI)" in out.with_suffix(".tex").read_text()


def test_cluster_by_takes_the_interval_over_cluster_means(tmp_path, capsys):
    """Two seeds in each of three draws: the per-draw mean differences 0.05, 0.03, 0.11 are the
    three observations (hand computation as above, t with 2 degrees of freedom)."""
    base = {(1, 0): 0.5, (2, 0): 0.6, (1, 1): 0.7, (2, 1): 0.6, (1, 2): 0.4, (2, 2): 0.5}
    gain = {(1, 0): 0.10, (2, 0): 0.00, (1, 1): 0.02, (2, 1): 0.04, (1, 2): 0.10, (2, 2): 0.12}
    for (seed, draw), f1 in base.items():
        write_paired(tmp_path / "runs", "real_only", seed, draw, f1)
        write_paired(tmp_path / "runs", "virtual_imu", seed, draw, f1 + gain[seed, draw])
    out = tmp_path / "t"
    argv = [str(tmp_path / "runs"), "--baseline", "real_only", "--out", str(out)]
    assert main([*argv, "--cluster-by", "data.imu_subjects_seed"]) == 0

    d = [0.05, 0.03, 0.11]
    mean = sum(d) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
    half = 4.302652729749464 * sd / math.sqrt(3)
    row = read_csv(out.with_suffix(".csv"))["virtual_imu"]
    assert float(row["paired_delta_test_f1"]) == pytest.approx(mean)
    assert float(row["paired_delta_test_f1_ci_low"]) == pytest.approx(mean - half)
    assert float(row["paired_delta_test_f1_ci_high"]) == pytest.approx(mean + half)
    assert row["paired_delta_test_f1_pairs"] == "3"  # draws, not the 6 runs
    assert "(n=3 data.imu_subjects_seed means)" in capsys.readouterr().out

    assert main([*argv, "--pair-by", "seed", "--cluster-by", "data.imu_subjects_seed"]) == 2
    assert "add it to --pair-by" in capsys.readouterr().err


def test_runs_that_cannot_be_paired_are_a_user_error(tmp_path, capsys):
    for draw in (0, 1):  # the same seed twice, told apart only by a key outside --pair-by
        write_paired(tmp_path / "runs", "real_only", 1, draw, 0.5)
    write_paired(tmp_path / "runs", "x", 1, 0, 0.6)
    argv = [str(tmp_path / "runs"), "--baseline", "real_only", "--out", str(tmp_path / "t")]
    assert main([*argv, "--pair-by", "seed"]) == 2
    assert "cannot be paired" in capsys.readouterr().err


def test_an_out_path_with_a_dot_keeps_its_name(three_runs, tmp_path):
    for out, stem in ((tmp_path / "imu0.25", "imu0.25"), (tmp_path / "named.md", "named")):
        assert main([str(three_runs), "--out", str(out)]) == 0
        assert {p.name for p in tmp_path.glob(f"{stem}.*")} == {
            f"{stem}.{s}" for s in ("md", "csv", "tex")
        }

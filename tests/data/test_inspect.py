"""``python -m har.data.inspect``: its figures against counts computed here without the DataModule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mmfit_writer import TINY_SPLIT, write_tiny_dataset

from har.data.inspect import main
from har.data.sources.mmfit import reader as mmfit
from har.data.sources.mmfit.align import align
from har.data.sources.mmfit.format import CLASS_NAMES, PARTICIPANT_OF
from tests.conftest import TEST_CACHE_DIR, TEST_DATA_DIR

SPLIT_KEYS = {"train": "train_workouts", "val": "val_workouts", "test": "test_workouts"}


def independent_figures(
    root: Path, splits: dict[str, list[str]], rate: float, window: int, stride_s: float
) -> dict:
    """Per split: subjects, hours, windows per class by a plain loop over every window position
    (valid throughout, label of the centre sample); IMU mean/std of the training samples."""
    stride = round(stride_s * rate)
    figures: dict = {"splits": {}}
    train_acc = []
    for split, workouts in splits.items():
        counts = np.zeros(len(CLASS_NAMES), dtype=int)
        samples = 0
        for workout in workouts:
            session = align(mmfit.read_workout(root, workout), rate)
            samples += len(session)
            for start in range(0, len(session) - window + 1, stride):
                if session.valid[start : start + window].all():
                    counts[session.labels[start + window // 2]] += 1
            if split == "train":
                train_acc.append(session.acc[session.valid].astype(np.float64))
        figures["splits"][split] = {
            "subjects": sorted({PARTICIPANT_OF[w] for w in workouts}),
            "sessions": list(workouts),
            "hours": samples / rate / 3600,
            "windows_per_class": dict(zip(CLASS_NAMES, counts.tolist(), strict=True)),
        }
    acc = np.concatenate(train_acc)
    figures["acc_mean"], figures["acc_std"] = acc.mean(axis=0), acc.std(axis=0)
    return figures


def check_against(summary: dict, expected: dict) -> None:
    for split, figures in expected["splits"].items():
        got = summary["splits"][split]
        assert got["subjects"] == figures["subjects"]
        assert got["sessions"] == figures["sessions"]
        assert got["hours"] == pytest.approx(figures["hours"], rel=1e-9)
        assert got["windows_per_class"] == figures["windows_per_class"]
        assert got["windows"] == sum(figures["windows_per_class"].values())
        assert got["skipped_sessions"] == []
    norm = summary["normalisation"]
    np.testing.assert_allclose(norm["acc_mean"], expected["acc_mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm["acc_std"], expected["acc_std"], rtol=1e-5)
    assert summary["modalities"] == ["pose", "imu"] and summary["missing_modalities"] is None


def test_figures_on_a_tiny_mmfit_tree_match_an_independent_count(tmp_path, capsys):
    write_tiny_dataset(tmp_path / "raw")
    splits = {split: TINY_SPLIT[key] for split, key in SPLIT_KEYS.items()}
    overrides = [
        "data=mmfit", f"data.data_dir={tmp_path / 'raw'}", f"data.cache_dir={tmp_path / 'cache'}",
        "data.sampling_rate_hz=50", "data.sensor_window_length=32", "data.stride_seconds=0.2",
        *(f"data.{key}=[{','.join(TINY_SPLIT[key])}]" for key in SPLIT_KEYS.values()),
    ]  # fmt: skip
    assert main([*overrides, "--out", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    check_against(summary, independent_figures(tmp_path / "raw", splits, 50.0, 32, 0.2))
    printed = capsys.readouterr().out
    assert "squats" in printed and "imu mean" in printed and "subjects: 0, 1" in printed
    png = (tmp_path / "out" / "segments.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_a_user_error_is_one_line_and_exit_code_2(tmp_path, capsys):
    assert main(["data=utd", f"data.data_dir={tmp_path / 'nowhere'}", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: UTD-MHAD folder") and err.count("\n") == 1


@pytest.mark.slow
def test_figures_on_the_mmfit_twin_match_an_independent_count(tmp_path):
    overrides = [
        "data=mmfit_debug",
        "scenario=debug",
        f"env.data_dir={TEST_DATA_DIR}",
        f"env.cache_dir={TEST_CACHE_DIR}",
    ]
    assert main([*overrides, "--out", str(tmp_path), "--no-plot"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    root = Path(summary["data_dir"])
    splits = {"train": ["w01"], "val": ["w14"], "test": ["w09"]}  # conf/data/mmfit_debug.yaml
    # scenario=debug strides windows by 0.5 s; the twin's windows are 256 samples at 100 Hz.
    check_against(summary, independent_figures(root, splits, 100.0, 256, 0.5))
    assert all(count > 0 for count in summary["splits"]["train"]["windows_per_class"].values())

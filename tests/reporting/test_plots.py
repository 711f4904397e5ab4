"""Each plot rendered from a fixed small input: valid PNGs of a readable size, the right windows."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pytest
import torch

from har.reporting.trial_plots import (
    PLOT_FILES,
    TestOutputs,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_per_class_f1,
    plot_sim_vs_real,
    representative_windows,
    write_trial_plots,
)

CLASSES = ["squats", "lunges", "bicep_curls", "non_activity"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "epoch": [0, 1, 2],
    "train_loss": [3.0, 2.0, 1.5],
    "val_loss": [3.1, 2.2, 1.9],
    "val_mse": [0.8, 0.6, 0.5],
    "train_f1": [0.1, 0.3, 0.5],
    "val_f1": [0.1, 0.4, 0.35],
    "val_sim_f1": [0.05, 0.2, 0.3],
}


def fixed_outputs() -> TestOutputs:
    """Three windows per class; the sim error of window k in its class is k (0, 1, 2) in size."""
    label = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    pred = torch.tensor([0, 0, 1, 1, 1, 1, 2, 0, 2, 3, 3, 2])
    t = torch.linspace(0, 6.28, 64)
    acc = torch.stack([torch.stack([torch.sin(t + c), torch.cos(t), t / 6]) for c in range(12)])
    offset = torch.tensor([0.0, 1.0, 2.0]).repeat(4).view(12, 1, 1)
    return TestOutputs(
        label=label, pred=pred, pred_sim=label.flip(0), acc=acc, sim_acc=acc + offset
    )


def png_shape(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width = matplotlib.image.imread(path).shape[:2]
    return height, width


@pytest.mark.parametrize(
    "render",
    [
        lambda path: plot_learning_curves(HISTORY, "run X", path),
        lambda path: plot_confusion_matrix(fixed_outputs(), CLASSES, "run X", path),
        lambda path: plot_per_class_f1(fixed_outputs(), CLASSES, "run X", path),
        lambda path: plot_sim_vs_real(fixed_outputs(), CLASSES, 25.0, "run X", path),
    ],
    ids=["learning_curves", "confusion_matrix", "per_class_f1", "sim_vs_real"],
)
def test_each_plot_renders_a_readable_png(render, tmp_path):
    path = tmp_path / "plot.png"
    render(path)
    height, width = png_shape(path)
    assert 400 <= width <= 3000 and 300 <= height <= 3000


def test_sim_vs_real_shows_the_median_error_window_of_each_class():
    # Within each class the errors are 0, 1, 4 (offsets 0, 1, 2 squared): the median is the middle.
    assert representative_windows(fixed_outputs(), len(CLASSES)) == {0: 1, 1: 4, 2: 7, 3: 10}


def test_a_class_without_test_windows_gets_no_row():
    outputs = fixed_outputs()
    assert 4 not in representative_windows(outputs, 5)


def test_trial_plots_from_per_batch_outputs(tmp_path):
    full = fixed_outputs()
    batches = {
        "label": [full.label[:5], full.label[5:]],
        "pred": [full.pred[:5], full.pred[5:]],
        "pred_sim": [full.pred_sim[:5], full.pred_sim[5:]],
        "acc": [full.acc[:5], full.acc[5:]],
        "sim_acc": [full.sim_acc[:5], full.sim_acc[5:]],
    }
    outputs = TestOutputs.from_batches(batches)
    assert torch.equal(outputs.sim_acc, full.sim_acc)
    written = write_trial_plots(tmp_path / "plots", HISTORY, outputs, CLASSES, 25.0, "run X")
    assert {k: p.name for k, p in written.items()} == PLOT_FILES
    assert TestOutputs.from_batches({}) is None
    only_curves = write_trial_plots(tmp_path / "p2", HISTORY, None, CLASSES, 25.0, "run X")
    assert list(only_curves) == ["learning_curves"]

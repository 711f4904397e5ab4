"""Per-run PNG plots: learning curves, confusion matrix, per-class F1, simulated vs real waveforms.

Figures are built with matplotlib's object API (``Figure``, rendered by Agg), never pyplot: no
global state, no display needed, safe on a cluster node. File names are stable so that scripts and
papers can point at them: ``plots/learning_curves.png``, ``confusion_matrix.png``,
``per_class_f1.png``, ``sim_vs_real.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor
from torchmetrics.functional.classification import (
    multiclass_confusion_matrix,
    multiclass_f1_score,
)

PLOT_FILES = {
    "learning_curves": "learning_curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "per_class_f1": "per_class_f1.png",
    "sim_vs_real": "sim_vs_real.png",
}
DPI = 110
REAL_COLOUR, SIM_COLOUR = "#1f4e79", "#e07b00"


@dataclass(frozen=True)
class TestOutputs:
    """The test split as the model saw it: real-path and sim-path predictions, signals (N, C, T)."""

    __test__ = False  # a data holder, not a pytest test class

    label: Tensor
    pred: Tensor
    pred_sim: Tensor | None = None
    acc: Tensor | None = None
    sim_acc: Tensor | None = None

    @classmethod
    def from_batches(cls, kept: Mapping[str, Sequence[Tensor]]) -> TestOutputs | None:
        """From ``JointHARModule.test_outputs`` (lists of per-batch tensors); None if empty."""
        if not kept.get("label"):
            return None
        joined = {key: torch.cat(list(parts)) for key, parts in kept.items() if parts}
        return cls(
            label=joined["label"],
            pred=joined["pred"],
            pred_sim=joined.get("pred_sim"),
            acc=joined.get("acc"),
            sim_acc=joined.get("sim_acc"),
        )


def write_trial_plots(
    plot_dir: Path,
    history: Mapping[str, Sequence[float]],
    outputs: TestOutputs | None,
    class_names: Sequence[str],
    sampling_rate_hz: float,
    run_title: str,
) -> dict[str, Path]:
    """Every plot the inputs allow; returns {kind: path}."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: plot_dir / name for kind, name in PLOT_FILES.items()}
    written: dict[str, Path] = {}
    if history.get("epoch"):
        plot_learning_curves(history, run_title, paths["learning_curves"])
        written["learning_curves"] = paths["learning_curves"]
    if outputs is None:
        return written
    plot_confusion_matrix(outputs, class_names, run_title, paths["confusion_matrix"])
    plot_per_class_f1(outputs, class_names, run_title, paths["per_class_f1"])
    written |= {k: paths[k] for k in ("confusion_matrix", "per_class_f1")}
    if outputs.acc is not None and outputs.sim_acc is not None:
        plot_sim_vs_real(outputs, class_names, sampling_rate_hz, run_title, paths["sim_vs_real"])
        written["sim_vs_real"] = paths["sim_vs_real"]
    return written


# ---- learning curves -----------------------------------------------------------------------------
def plot_learning_curves(
    history: Mapping[str, Sequence[float]], run_title: str, path: Path
) -> None:
    epochs = list(history["epoch"])
    panels = [
        ("Objective (total loss)", "loss", ("train_loss", "val_loss")),
        ("Simulated-signal error (val)", "error", ("val_mse", "val_mae")),
        ("Macro-F1", "macro-F1", ("train_f1", "val_f1", "val_sim_f1")),
    ]
    panels = [p for p in panels if any(history.get(k) for k in p[2])]
    fig = Figure(figsize=(4.6 * len(panels), 4.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, ylabel, keys) in zip(axes, panels, strict=True):
        for key in keys:
            values = history.get(key)
            if values and len(values) == len(epochs):
                ax.plot(epochs, values, marker="o", markersize=3, label=_series_label(key))
        ax.set(title=title, xlabel="epoch", ylabel=ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    val_f1 = history.get("val_f1")
    if val_f1 and len(val_f1) == len(epochs):
        best = int(np.nanargmax(np.asarray(val_f1, dtype=float)))
        for ax in axes:
            ax.axvline(epochs[best], color="grey", linestyle=":", linewidth=1)
        axes[-1].annotate(
            f"best val_f1 {val_f1[best]:.3f}\n(epoch {epochs[best]})",
            (epochs[best], val_f1[best]),
            textcoords="offset points",
            xytext=(6, -24),
            fontsize="small",
        )
    fig.suptitle(f"Learning curves — {run_title}")
    fig.savefig(path, dpi=DPI)


def _series_label(key: str) -> str:
    stage, _, name = key.partition("_")
    names = {"loss": "loss", "f1": "F1 (real IMU)", "sim_f1": "F1 (simulated IMU)"}
    return f"{stage} {names.get(name, name.upper() if name in ('mse', 'mae') else name)}"


# ---- classification ------------------------------------------------------------------------------
def plot_confusion_matrix(
    outputs: TestOutputs, class_names: Sequence[str], run_title: str, path: Path
) -> None:
    """Rows normalised to 1 (recall per true class); a class without test windows stays empty."""
    n = len(class_names)
    counts = multiclass_confusion_matrix(outputs.pred, outputs.label, n).double()
    support = counts.sum(dim=1)
    matrix = (counts / support.clamp(min=1).unsqueeze(1)).numpy()
    matrix[support.numpy() == 0] = np.nan
    size = max(6.0, 0.62 * n + 2.5)
    fig = Figure(figsize=(size + 1.2, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if not np.isnan(matrix[i, j]) and matrix[i, j] >= 0.005:
                    ax.text(
                        j,
                        i,
                        f"{matrix[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize="x-small",
                        color="white" if matrix[i, j] > 0.55 else "black",
                    )
    ax.set_xticks(range(n), list(class_names), rotation=45, ha="right")
    ax.set_yticks(
        range(n), [f"{c} (n={int(s)})" for c, s in zip(class_names, support, strict=True)]
    )
    ax.set(xlabel="predicted class", ylabel="true class (test windows)")
    ax.set_title(f"Test confusion matrix, real IMU, row-normalised\n{run_title}")
    fig.savefig(path, dpi=DPI)


def plot_per_class_f1(
    outputs: TestOutputs, class_names: Sequence[str], run_title: str, path: Path
) -> None:
    n = len(class_names)
    series = [("real IMU (deployed model)", outputs.pred, REAL_COLOUR)]
    if outputs.pred_sim is not None:
        series.append(("simulated IMU", outputs.pred_sim, SIM_COLOUR))
    support = torch.bincount(outputs.label, minlength=n)
    fig = Figure(figsize=(9.0, max(4.0, 0.42 * n + 1.5)), layout="constrained")
    ax = fig.subplots()
    height = 0.8 / len(series)
    positions = np.arange(n)
    for k, (name, pred, colour) in enumerate(series):
        per_class = multiclass_f1_score(pred, outputs.label, n, average="none").numpy()
        macro = float(multiclass_f1_score(pred, outputs.label, n, average="macro"))
        offset = (k - (len(series) - 1) / 2) * height
        ax.barh(
            positions + offset, per_class, height, color=colour, label=f"{name}: macro {macro:.3f}"
        )
        ax.axvline(macro, color=colour, linestyle="--", linewidth=1)
    ax.set_yticks(
        positions, [f"{c} (n={int(s)})" for c, s in zip(class_names, support, strict=True)]
    )
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="F1 on the test split")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=len(series), fontsize="small")
    ax.set_title(f"Per-class test F1 (dashed: macro-F1) — {run_title}")
    fig.savefig(path, dpi=DPI)


# ---- simulated vs real ---------------------------------------------------------------------------
def representative_windows(outputs: TestOutputs, n_classes: int) -> dict[int, int]:
    """For each class with test windows: the window whose sim-vs-real MSE is the class median
    (a typical example, neither the best nor the worst)."""
    assert outputs.acc is not None and outputs.sim_acc is not None
    errors = ((outputs.sim_acc.float() - outputs.acc.float()) ** 2).mean(dim=(1, 2))
    chosen = {}
    for c in range(n_classes):
        indices = torch.nonzero(outputs.label == c).flatten()
        if len(indices):
            order = torch.argsort(errors[indices])
            chosen[c] = int(indices[order[(len(indices) - 1) // 2]])
    return chosen


def plot_sim_vs_real(
    outputs: TestOutputs,
    class_names: Sequence[str],
    sampling_rate_hz: float,
    run_title: str,
    path: Path,
) -> None:
    assert outputs.acc is not None and outputs.sim_acc is not None
    chosen = representative_windows(outputs, len(class_names))
    channels, length = outputs.acc.shape[1], outputs.acc.shape[2]
    axis_names = (
        [f"{a} axis" for a in "xyz"] if channels == 3 else [f"channel {i}" for i in range(channels)]
    )
    seconds = np.arange(length) / sampling_rate_hz
    rows = max(1, len(chosen))
    fig = Figure(figsize=(4.2 * channels, 1.55 * rows + 1.2), layout="constrained")
    axes = fig.subplots(rows, channels, squeeze=False, sharex=True)
    for row, (c, index) in enumerate(chosen.items()):
        for ch in range(channels):
            ax: Axes = axes[row, ch]
            ax.plot(
                seconds,
                outputs.acc[index, ch].numpy(),
                color=REAL_COLOUR,
                linewidth=1.0,
                label="real",
            )
            ax.plot(
                seconds,
                outputs.sim_acc[index, ch].float().numpy(),
                color=SIM_COLOUR,
                linewidth=1.0,
                linestyle="--",
                label="simulated",
            )
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize="x-small")
            if row == 0:
                ax.set_title(axis_names[ch])
            if ch == 0:
                ax.set_ylabel(f"{class_names[c]}\n(window {index})", fontsize="small")
    for ax in axes[-1]:
        ax.set_xlabel("time in window [s]")
    axes[0, -1].legend(loc="upper right", fontsize="x-small")
    fig.suptitle(
        "Simulated vs real wrist accelerometer (standardised units), one test window per class "
        f"(median error)\n{run_title}"
    )
    fig.savefig(path, dpi=DPI)

"""Callbacks owned by the trial: per-epoch history, a one-line epoch summary, first-step timing,
and the validation predictions file.

``ValidationPredictions``: ``val_predictions.npz`` (arrays ``pred``, ``label``, scalar ``epoch``) lets anyone recompute the
validation metrics offline (confusion matrices, per-class errors) and check that the logged
``val_f1`` (torchmetrics, reduced across DDP processes) is the F1 of all processes' windows, not of
rank 0's share. Predictions come from ``forward`` (F + C on real IMU, in eval mode), exactly what
``val_f1`` scores; the file is rewritten after every validation epoch, by rank 0 only.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor

log = logging.getLogger("har")

# Series kept per epoch in results.json (those that were logged; missing ones are skipped).
HISTORY_KEYS = (
    "train_loss_epoch", "train_f1", "train_acc", "val_loss", "val_f1", "val_acc", "val_sim_f1",
    "val_mse", "val_mae", "val_ce_real", "val_ce_sim", "val_similarity",
)  # fmt: skip


class EpochHistory(pl.Callback):
    """Records the epoch's metrics after validation and prints one summary line per epoch.

    Runs in ``on_train_epoch_end``: by then validation of the epoch has finished and the training
    metrics of the epoch are reduced (Lightning calls this before its monitoring callbacks).
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {"epoch": [], "lr": [], "epoch_seconds": []}
        self.first_step_unix: float | None = None
        self._epoch_start = 0.0

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if self.first_step_unix is None:
            self.first_step_unix = time.time()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # A run resumed from a mid-epoch checkpoint (SLURM requeue) enters its first epoch without
        # on_train_epoch_start: time that epoch's remainder from here.
        self._epoch_start = time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        seconds = time.perf_counter() - self._epoch_start
        self.history["epoch"].append(trainer.current_epoch)
        self.history["lr"].append(float(trainer.optimizers[0].param_groups[0]["lr"]))
        self.history["epoch_seconds"].append(seconds)
        for key in HISTORY_KEYS:
            if key in metrics:
                name = "train_loss" if key == "train_loss_epoch" else key
                self.history.setdefault(name, []).append(metrics[key])
        # Sent to every logger (CSV, TensorBoard, W&B) with the epoch's other metrics.
        logged = {"lr": self.history["lr"][-1]}
        best_val_f1 = self.best("val_f1", "max")
        if best_val_f1 is not None:
            logged["best_val_f1"] = best_val_f1
        pl_module.log_dict(logged, on_step=False, on_epoch=True)
        if trainer.is_global_zero:
            log.info(self.summary_line(seconds))

    def summary_line(self, seconds: float) -> str:
        h = self.history
        parts = [f"epoch {h['epoch'][-1]:>3}"]
        for key in ("train_loss", "val_loss", "val_f1", "val_sim_f1", "val_mse"):
            if h.get(key):
                parts.append(f"{key} {h[key][-1]:.4f}")
        if h.get("val_f1"):
            parts.append(f"best val_f1 {max(h['val_f1']):.4f}")
        parts.append(f"{seconds:.1f}s")
        return " | ".join(parts)

    def best(self, key: str, mode: str) -> float | None:
        values = [v for v in self.history.get(key, []) if not math.isnan(v)]
        if not values:
            return None
        return max(values) if mode == "max" else min(values)

    def last(self, key: str) -> float | None:
        values = self.history.get(key, [])
        return values[-1] if values else None

    # Kept in checkpoints so a resumed run continues the same history.
    def state_dict(self) -> dict[str, Any]:
        # first_step_unix stays out: it belongs to the process that is running now.
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = state_dict["history"]


VAL_PREDICTIONS_FILE = "val_predictions.npz"


class ValidationPredictions(pl.Callback):
    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / VAL_PREDICTIONS_FILE
        self._pred: list[Tensor] = []
        self._label: list[Tensor] = []

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._pred, self._label = [], []

    @torch.no_grad()
    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: dict[str, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._pred.append(pl_module(batch["acc"]).argmax(-1))
        self._label.append(batch["label"])

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not self._pred:
            return
        pred = gather_from_all_ranks(pl_module, torch.cat(self._pred))
        label = gather_from_all_ranks(pl_module, torch.cat(self._label))
        self._pred, self._label = [], []
        if trainer.is_global_zero:
            write_npz_atomic(
                self.path,
                pred=pred.cpu().numpy(),
                label=label.cpu().numpy(),
                epoch=np.int64(trainer.current_epoch),
            )


def gather_from_all_ranks(pl_module: pl.LightningModule, values: Tensor) -> Tensor:
    """Concatenate a 1-D tensor over the DDP processes (their lengths may differ)."""
    if pl_module.trainer.world_size == 1:
        return values
    # all_gather needs equal shapes: pad every rank to the longest, then cut the padding off.
    length = torch.tensor(values.numel(), device=values.device)
    lengths = pl_module.all_gather(length).reshape(-1).tolist()
    padded = values.new_full((max(lengths),), -1)
    padded[: values.numel()] = values
    gathered = pl_module.all_gather(padded).reshape(len(lengths), -1)
    return torch.cat([row[:n] for row, n in zip(gathered, lengths, strict=True)])


def write_npz_atomic(path: Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from collaborators
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""The deployed model's validation predictions of the latest epoch, gathered from every process.

``val_predictions.npz`` (arrays ``pred``, ``label``, scalar ``epoch``) lets anyone recompute the
validation metrics offline (confusion matrices, per-class errors) and check that the logged
``val_f1`` (torchmetrics, reduced across DDP processes) is the F1 of all processes' windows, not of
rank 0's share. Predictions come from ``forward`` (F + C on real IMU, in eval mode), exactly what
``val_f1`` scores; the file is rewritten after every validation epoch, by rank 0 only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor

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

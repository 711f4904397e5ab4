"""The global random number generators' states, kept in each checkpoint so a resumed run is the same run.

Restarting from ``last.ckpt`` restores weights, optimiser and loop counters, but not the random
streams: python ``random``, NumPy's global generator and torch's CPU (and CUDA) generators, which
drive dropout and anything else drawn during training. Checkpoints are written at the end of an
epoch, and nothing draws from these streams between that moment and the next epoch's first batch,
nor between Lightning restoring callback states on resume and the first batch, so restoring them
then makes the resumed run draw exactly what the uninterrupted run drew.

The train DataLoader's own shuffling generator is not global: the DataModule that creates it keeps
its state (``SessionDataModule.state_dict``), because only it can apply that state before the
first resumed epoch's iterator is built.

Every state is stored as tensors, lists and numbers, so the checkpoint loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.trainer.states import TrainerFn


def capture_rng_states() -> dict[str, Any]:
    """The global generators' states, in types that weights-only loading accepts."""
    version, mt_state, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    states: dict[str, Any] = {
        "python": [version, list(mt_state), gauss],
        "numpy": [np_name, np_keys.tolist(), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Inverse of ``capture_rng_states``."""
    version, mt_state, gauss = states["python"]
    random.setstate((version, tuple(mt_state), gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = states["numpy"]
    np.random.set_state(
        (np_name, np.asarray(np_keys, dtype=np.uint32), np_pos, np_has_gauss, np_gauss)
    )
    torch.set_rng_state(states["torch"])
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


class RNGStateCheckpoint(pl.Callback):
    """Saves the global RNG states in each checkpoint and restores them when training resumes."""

    def __init__(self) -> None:
        self._trainer: pl.Trainer | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # load_state_dict() is given no trainer; Lightning calls setup() before restoring states.
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        return capture_rng_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Testing a checkpoint restores callback states too; only a resumed fit continues the streams.
        if self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING:
            restore_rng_states(state_dict)

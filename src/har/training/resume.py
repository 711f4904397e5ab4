"""Continuing a killed run from its ``last.ckpt``, refusing a checkpoint of another configuration.

``resume=true`` with the killed run's ``hydra.run.dir`` continues that run: Lightning restores
weights, optimiser, loops and callback states (with ``RNGStateCheckpoint``, the random streams
too). Before any data is read, the checkpoint is loaded with ``torch.load(weights_only=True)``
(plain tensors and values only, never arbitrary pickled objects) and the settings recorded in it
by ``RunSettingsRecord`` are compared with the current config; every differing key is named.
Once the model is built, the shapes of the saved weights are compared with it as well, which
also covers checkpoints without a settings record.

The random streams: restarting from ``last.ckpt`` restores weights, optimiser and loop counters,
but not the global random streams (python ``random``, NumPy's global generator and torch's CPU (and CUDA) generators, which
drive dropout and anything else drawn during training); ``RNGStateCheckpoint`` keeps them in each
checkpoint. Checkpoints are written at the end of an
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

import logging
import pickle
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.trainer.states import TrainerFn
from omegaconf import DictConfig, OmegaConf
from torch import nn

from har.errors import ConfigError, DataError

log = logging.getLogger("har")

LAST_CHECKPOINT = "last.ckpt"
# Lightning's SLURMEnvironment saves hpc_ckpt_<n>.ckpt into the run dir when SLURM warns of the time
# limit (USR1) and requeues the job: newer than last.ckpt, which is saved at epoch ends.
SLURM_REQUEUE_CHECKPOINTS = "hpc_ckpt_*.ckpt"
# The settings that define what is trained; a resumed run must match them all.
RECORDED_SECTIONS = ("seed", "data", "model", "scenario", "optim")
# Where the files live and how they are loaded may change between the killed and the resumed
# process (another node, another mount point) without changing the run.
MAY_DIFFER = frozenset({"data.data_dir", "data.cache_dir", "data.num_workers"})
SHOWN_MISMATCHES = 8
_ABSENT = "<absent>"


def run_settings(cfg: DictConfig) -> dict[str, Any]:
    """The resolved settings of ``RECORDED_SECTIONS`` as ``{dotted.key: value}``."""
    container = OmegaConf.to_container(cfg, resolve=True)
    flat: dict[str, Any] = {}
    for section in RECORDED_SECTIONS:
        _flatten(section, container.get(section), flat)
    return {key: value for key, value in flat.items() if key not in MAY_DIFFER}


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, into)
    else:
        into[prefix] = value


class RunSettingsRecord(pl.Callback):
    """Writes the run's settings into every checkpoint, so that a resume can check them."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def state_dict(self) -> dict[str, Any]:
        return {"settings": self.settings}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Nothing to restore: ``ResumePoint`` compared the record with the config before fitting."""


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with one-line errors for a damaged or foreign file."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).splitlines()[0]
        raise DataError(
            f"{path} holds pickled objects that weights-only loading refuses ({reason}): it was not "
            "written by this project's trainer; start a new run dir without resume=true"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(
            f"{path} is unreadable ({reason}), probably cut short while being written: delete it "
            "to start this run again from scratch, or start a new run dir"
        ) from None
    if not isinstance(content, dict) or "state_dict" not in content:
        raise DataError(
            f"{path} is not a Lightning checkpoint (no state_dict): start a new run dir"
        )
    return content


def regressor_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """R's weights (``regressor.*``) from a run's checkpoint, keyed for ``Regressor.load_state_dict``."""
    state = load_checkpoint(Path(path))["state_dict"]
    prefix = "regressor."
    weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise DataError(f"{path} holds no regressor weights (regressor.*): not a run that trains R")
    return weights


@dataclass(frozen=True)
class ResumePoint:
    """What the checks need from a checkpoint: its recorded settings and its weights' shapes.

    Only these are kept: Lightning reads the file again itself, and holding the weights and
    optimiser state through the whole run would double their memory.
    """

    path: Path
    epoch: int | None
    global_step: int | None  # the CSV log keeps the killed attempt's rows before it
    settings: dict[str, Any] | None  # None: written without RunSettingsRecord
    shapes: dict[str, tuple[int, ...]]

    @classmethod
    def from_checkpoint(cls, path: Path, checkpoint: dict[str, Any]) -> ResumePoint:
        recorded = checkpoint.get("callbacks", {}).get(RunSettingsRecord.__qualname__) or {}
        return cls(
            path=path,
            epoch=checkpoint.get("epoch"),
            global_step=checkpoint.get("global_step"),
            settings=recorded.get("settings"),
            shapes={key: tuple(value.shape) for key, value in checkpoint["state_dict"].items()},
        )

    def check_settings(self, settings: dict[str, Any]) -> None:
        if self.settings is None:
            log.warning(
                "%s records no configuration: only the shapes of its weights are checked",
                self.path,
            )
            return
        saved = self.settings
        mismatched = sorted(
            key
            for key in saved.keys() | settings.keys()
            if saved.get(key, _ABSENT) != settings.get(key, _ABSENT)
        )
        if mismatched:
            described = [
                f"{key} (checkpoint {saved.get(key, _ABSENT)!r}, now {settings.get(key, _ABSENT)!r})"
                for key in mismatched[:SHOWN_MISMATCHES]
            ]
            raise ConfigError(
                f"resume=true: {self.path} was written with a different configuration; mismatched "
                f"keys: {'; '.join(described)}{_more(mismatched)}: resume with the checkpoint's "
                "values, or start a new run dir without resume=true"
            )

    def check_weights_fit(self, module: nn.Module) -> None:
        saved = self.shapes
        expected = {key: tuple(value.shape) for key, value in module.state_dict().items()}
        mismatched = sorted(
            key for key in saved.keys() | expected.keys() if saved.get(key) != expected.get(key)
        )
        if mismatched:
            described = [
                f"{key} (checkpoint {_shape(saved.get(key))}, model {_shape(expected.get(key))})"
                for key in mismatched[:SHOWN_MISMATCHES]
            ]
            raise ConfigError(
                f"resume=true: the weights in {self.path} do not fit the model this config builds; "
                f"mismatched parameters: {'; '.join(described)}{_more(mismatched)}: resume with the "
                "checkpoint's configuration, or start a new run dir without resume=true"
            )


def _more(keys: list[str]) -> str:
    return f" and {len(keys) - SHOWN_MISMATCHES} more" if len(keys) > SHOWN_MISMATCHES else ""


def _shape(shape: tuple[int, ...] | None) -> str:
    return _ABSENT if shape is None else str(shape)


def latest_checkpoint(run_dir: Path, checkpoint_dir: str) -> Path:
    """The newest of ``last.ckpt`` and the SLURM requeue checkpoints (``last.ckpt``'s path when
    there is none)."""
    last = Path(run_dir) / checkpoint_dir / LAST_CHECKPOINT
    existing = [p for p in (last, *Path(run_dir).glob(SLURM_REQUEUE_CHECKPOINTS)) if p.exists()]
    return max(existing, key=lambda p: p.stat().st_mtime_ns) if existing else last


def find_resume_point(cfg: DictConfig, run_dir: Path) -> ResumePoint | None:
    """With ``resume=true``: the run dir's latest checkpoint, loaded and checked; else None."""
    if not cfg.resume:
        return None
    path = latest_checkpoint(run_dir, cfg.trainer.checkpoint.dirpath)
    if not path.exists():
        # A first SLURM attempt runs with resume=true too, before any checkpoint exists.
        log.warning("resume=true but %s does not exist: starting from scratch", path)
        return None
    point = ResumePoint.from_checkpoint(path, load_checkpoint(path))
    point.check_settings(run_settings(cfg))
    log.info("resuming from %s (epoch %s)", path, point.epoch)
    return point


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

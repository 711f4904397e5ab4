"""Making a trial fast on the machine it runs on: CPU threads, ``torch.compile``, data on the device.

``trainer.threads``: torch's intra-op threads for this process. Null keeps torch's default (one per
core, or ``OMP_NUM_THREADS``). Several trials sharing a machine (HPO workers) should split the cores:
with more busy threads than cores, OpenMP's spinning threads wait on each other and a step gets
several times slower (benchmarks/README.md, "Threads"), so the HPO orchestrator passes
``cores // n_workers`` to each trial it launches.

With ``trainer.deterministic``, torch's NaN-filling of new tensors is switched off
(``configure_torch``): it costs about 5 % of a CPU step and our ops never read unwritten memory.

``trainer.compile``: ``torch.compile`` of each network (regressor, feature extractors, classifiers)
through ``nn.Module.compile()``, which compiles the module's call in place: the module is not wrapped,
so parameter names, ``state_dict`` keys and checkpoints stay those of the eager model and load either
way. The objective around the networks (logging, metrics) stays eager.

``trainer.data_on_device``: with an accelerator, each split's window tensors (a few hundred MB at the
real data set's scale) are moved to the device once, in the ``setup`` hook of the ``DataOnDevice``
callback (where Lightning already knows the device: ``trainer.strategy.root_device``, per process
under DDP). ``WindowDataset.__getitems__`` then gathers every batch on the device, and Lightning's
per-batch ``transfer_batch_to_device`` finds the batch already there (a no-op), so no batch crosses
the PCIe bus. When the window set does not fit in half the device's free memory it stays in host
memory (pinned, one batch copied per step) and a log line says so.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from har.errors import ConfigError

log = logging.getLogger("har")

# Children of the LightningModule left eager, and why.
NOT_COMPILED = {
    "adversary": "the signal critic's gradient penalty needs double backward, "
    "which compiled graphs do not support",
}
# Share of the device's free memory the window tensors may take (the rest is the model's).
MAX_DEVICE_MEMORY_SHARE = 0.5


def configure_torch(threads: Any) -> None:
    """Process-wide torch settings of a trial: ``trainer.threads``, and no filling of fresh memory.

    With ``trainer.deterministic`` (Lightning's ``torch.use_deterministic_algorithms(True)``), torch
    also fills every new tensor's memory with NaN, a guard against ops that read memory before
    writing it. Our ops never do; the fill cost about 5 % of a training step on the CPU (profile in
    benchmarks/README.md). The deterministic algorithms themselves stay on.
    """
    apply_threads(threads)
    torch.utils.deterministic.fill_uninitialized_memory = False


def apply_threads(threads: Any) -> None:
    """``torch.set_num_threads(threads)``; null leaves torch's default."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"trainer.threads must be null or an integer >= 1, got {threads!r}")
    torch.set_num_threads(threads)


def compile_networks(module: nn.Module) -> list[str]:
    """Compile, in place, every direct child of ``module`` that holds parameters (the networks;
    metric containers hold none). Returns the names of the compiled children."""
    compiled = []
    for name, child in module.named_children():
        if name in NOT_COMPILED or next(child.parameters(), None) is None:
            continue
        child.compile()
        compiled.append(name)
    skipped = [name for name in NOT_COMPILED if getattr(module, name, None) is not None]
    for name in skipped:
        log.info("trainer.compile: %s stays eager (%s)", name, NOT_COMPILED[name])
    log.info("trainer.compile: compiled %s", ", ".join(compiled) or "nothing")
    return compiled


def free_memory_bytes(device: torch.device) -> int | None:
    """Free memory of an accelerator, or None where torch cannot tell."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    return None


class DataOnDevice(pl.Callback):
    """Moves the datamodule's window tensors to the accelerator once, before the first loader is
    built; they stay there for the later stages (validation, test) of the same process.

    Works on any datamodule whose ``datasets`` values offer ``nbytes``, ``device`` and ``to(device)``
    (``har.data.window_dataset.WindowDataset``); others are left alone.
    """

    def __init__(self, enabled: bool = True) -> None:
        if not isinstance(enabled, bool):
            raise ConfigError(f"trainer.data_on_device must be true or false, got {enabled!r}")
        self.enabled = enabled

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        device = trainer.strategy.root_device
        if not self.enabled or device.type == "cpu":
            return
        moving = [d for d in self._datasets(trainer) if d.device != device]
        if not moving:
            return
        needed = sum(dataset.nbytes for dataset in moving)
        free = free_memory_bytes(device)
        if free is not None and needed > MAX_DEVICE_MEMORY_SHARE * free:
            log.info(
                "data stays in host memory: its windows need %.0f MB, %s has %.0f MB free",
                needed / 1e6, device, free / 1e6,
            )  # fmt: skip
            return
        for dataset in moving:
            dataset.to(device)
        log.info("data on %s: %.0f MB of windows, batches gathered there", device, needed / 1e6)

    @staticmethod
    def _datasets(trainer: pl.Trainer) -> list[Any]:
        # The trial's datamodule, and its pose-only secondary one if any (har.data.with_secondary).
        primary = trainer.datamodule
        modules = [primary, getattr(primary, "secondary", None)]
        found = [d for m in modules for d in (getattr(m, "datasets", None) or {}).values()]
        return [d for d in found if all(hasattr(d, a) for a in ("nbytes", "device", "to"))]

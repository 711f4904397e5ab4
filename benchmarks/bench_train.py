"""Training throughput of the default model on the twin, and where a step's time goes.

    python benchmarks/bench_train.py [--batches 150] [--warmup 10] [hydra overrides ...]

Prints one table: windows/s of the real Lightning loop (the trial's own Trainer: loggers, callbacks,
precision, data placement, with validation and checkpoints switched off); the split of a hand-timed
step into batch fetch, forward, backward and optimiser; Lightning's own overhead (its step time
minus the hand-timed one); and the ceiling: the same forward+backward+step on one batch already in
memory. Every figure is the median over steps, so a step delayed by another process on a shared
machine does not move it; the header holds the load average before and after.

The twin of the test suite (.cache/test-data) is reused when present; Hydra overrides pick another
data set, model or batch size (e.g. ``data.batch_size=256 trainer.compile=true device=cuda``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import lightning.pytorch as pl
import torch
from machine import compose_config, describe_machine, twin_overrides
from omegaconf import DictConfig, OmegaConf

from har.data.with_secondary import build_datamodule
from har.training.acceleration import compile_networks, configure_torch
from har.training.callbacks import EpochHistory
from har.training.module import JointHARModule
from har.training.trainer import build_trainer
from har.training.trial import build_module

PARTS = ("fetch", "forward", "backward", "optimiser")


class _StepClock(pl.Callback):
    """Time between consecutive batch ends: fetch, step and every hook Lightning runs around it."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.last, self.steps = warmup, 0.0, []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if batch_idx >= self.warmup:
            self.steps.append(now - self.last)
        self.last = now


def _device(cfg: DictConfig) -> torch.device:
    wants_gpu = cfg.device in ("auto", "cuda", "gpu")
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")


def _autocast(cfg: DictConfig, device: torch.device) -> Callable[[], AbstractContextManager]:
    """The hand loops compute in the precision the Trainer uses."""
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(
        str(cfg.trainer.precision)
    )
    if dtype is None:
        return nullcontext
    return lambda: torch.autocast(device.type, dtype=dtype)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _module(cfg: DictConfig, class_names: list[str], device: torch.device) -> JointHARModule:
    module = build_module(cfg, class_names).to(device)
    if cfg.trainer.compile:
        compile_networks(module)
    return module.train()


def _optimizer(module: JointHARModule) -> torch.optim.Optimizer:
    configured = module.configure_optimizers()
    return configured["optimizer"] if isinstance(configured, dict) else configured


def _batches(loader) -> Iterator[dict[str, torch.Tensor]]:
    while True:
        yield from loader


def hand_timed(cfg, module, loader, device, batches: int, warmup: int) -> dict[str, float]:
    """Median seconds per step of each part, timed around the module's own training step."""
    opt, autocast = _optimizer(module), _autocast(cfg, device)
    samples: dict[str, list[float]] = {part: [] for part in PARTS}
    source = _batches(loader)
    for i in range(batches + warmup):
        t0 = time.perf_counter()
        batch = {k: v.to(device, non_blocking=True) for k, v in next(source).items()}
        _sync(device)
        t1 = time.perf_counter()
        with autocast():
            loss = module.training_step(batch, i)
        _sync(device)
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        _sync(device)
        t3 = time.perf_counter()
        opt.step()
        _sync(device)
        t4 = time.perf_counter()
        if i >= warmup:
            for part, dt in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                samples[part].append(dt)
    return {part: statistics.median(values) for part, values in samples.items()}


def ceiling(cfg, module, batch, device, batches: int, warmup: int) -> float:
    """Median seconds of forward + backward + step on one batch that never leaves memory."""
    opt, autocast = _optimizer(module), _autocast(cfg, device)
    batch = {k: v.to(device) for k, v in batch.items()}
    steps = []
    for i in range(batches + warmup):
        t0 = time.perf_counter()
        with autocast():
            loss = module.training_step(batch, i)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        if i >= warmup:
            steps.append(time.perf_counter() - t0)
    return statistics.median(steps)


def profile_step(cfg, module, batch, device, top: int) -> str:
    """Where the in-memory step's time goes, by operator: what bounds the ceiling itself."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    ceiling(cfg, module, batch, device, batches=5, warmup=5)  # warm, outside the profile
    with profile(activities=activities) as prof:
        ceiling(cfg, module, batch, device, batches=20, warmup=0)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=top)


def lightning_step(cfg, module, datamodule, batches: int, warmup: int) -> float:
    """Median seconds per step of the trial's Trainer on one epoch of ``batches + warmup`` steps."""
    bench_cfg = OmegaConf.merge(
        cfg,
        {
            "trainer": {
                "epochs": 1, "limit_train_batches": batches + warmup, "limit_val_batches": 0,
                "enable_checkpointing": False, "progress_bar": False,
                "early_stopping": {"enabled": False},
            }
        },
    )  # fmt: skip
    clock = _StepClock(warmup)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as run_dir:
        trainer = build_trainer(bench_cfg, Path(run_dir), [EpochHistory(), clock])
        trainer.fit(module, datamodule=datamodule)
    return statistics.median(clock.steps)


def main() -> None:
    # The hand-timed loops call the module's step outside a Trainer, where self.log is a no-op.
    warnings.filterwarnings("ignore", message=".*self.trainer. reference is not registered.*")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=150, help="timed steps per measure")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps before each measure")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N",
        help="also print the top N operators of the in-memory step (torch.profiler)",
    )  # fmt: skip
    args, overrides = parser.parse_known_args()
    cfg = compose_config([*twin_overrides(), *overrides])
    configure_torch(cfg.trainer.threads)  # as run_trial does
    # As the trial's Trainer will (Lightning's deterministic flag), so all three loops run alike.
    if cfg.trainer.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(bool(cfg.trainer.deterministic))
    machine_before = describe_machine()
    device = _device(cfg)

    pl.seed_everything(0, verbose=False)
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    names = list(datamodule.class_names)
    on_device = cfg.trainer.data_on_device and device.type != "cpu"
    for dataset in datamodule.datasets.values() if on_device else ():
        dataset.to(device)  # as the trial's DataOnDevice callback does
    parts = hand_timed(
        cfg, _module(cfg, names, device), datamodule.train_dataloader(), device,
        args.batches, args.warmup,
    )  # fmt: skip
    first_batch = next(iter(datamodule.train_dataloader()))
    ceil_step = ceiling(
        cfg, _module(cfg, names, device), first_batch, device, args.batches, args.warmup
    )
    light_step = lightning_step(
        cfg, _module(cfg, names, device), datamodule, args.batches, args.warmup
    )
    print_table(cfg, args, parts, ceil_step, light_step, machine_before, device, on_device)
    if args.profile:
        print(profile_step(cfg, _module(cfg, names, device), first_batch, device, args.profile))


def print_table(cfg, args, parts, ceil_step, light_step, machine_before, device, on_device) -> None:
    bs = cfg.data.batch_size
    hand_step = sum(parts.values())
    print(f"# bench_train: {machine_before}")
    print(f"# load average after: {describe_machine().rsplit('load average ', 1)[1]}")
    print(f"# device {device}{' (windows on device)' if on_device else ''}, precision "
          f"{cfg.trainer.precision}, compile {cfg.trainer.compile}, batch {bs}, window "
          f"{cfg.data.sensor_window_length}, {args.batches} timed steps after {args.warmup}; "
          "medians per step")  # fmt: skip
    print("| measure | ms / step | share of Lightning step | windows/s |")
    print("|---|---|---|---|")
    for name, seconds in parts.items():
        print(f"| {name} | {seconds * 1e3:.2f} | {seconds / light_step:.1%} | |")
    overhead = light_step - hand_step
    print(
        f"| framework overhead (Lightning − hand loop) | {overhead * 1e3:.2f} | {overhead / light_step:.1%} | |"
    )
    print(
        f"| **Lightning training step** | {light_step * 1e3:.2f} | 100% | {bs / light_step:.0f} |"
    )
    print(f"| ceiling (batch in memory) | {ceil_step * 1e3:.2f} | | {bs / ceil_step:.0f} |")
    print(f"| **loop / ceiling** | | | {ceil_step / light_step:.1%} |")


if __name__ == "__main__":
    main()

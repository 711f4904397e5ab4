"""Several trials on one machine: torch threads per process against throughput (trainer.threads).

    python benchmarks/bench_threads.py [--processes 2] [--steps 60] [hydra overrides ...]

Starts ``--processes`` concurrent processes (as ``run_hpo.py --n-workers`` does), each training the
default model on one in-memory batch (bench_train's ceiling loop), first with torch's default of one
thread per core in every process, then with ``trainer.threads = cores // processes``, and prints the
step time of each process and the windows/s of all of them together. With more busy OpenMP threads
than cores, the threads of one step wait for each other while another process holds a core; this
measures what that costs and whether the HPO orchestrator's split of the cores pays.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

from machine import REPO, compose_config, describe_machine


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def child(threads: int, steps: int, warmup: int, overrides: list[str]) -> dict[str, float]:
    """One process: the ceiling loop of bench_train with ``threads`` torch threads."""
    import torch
    from bench_train import ceiling

    from har.data.sources.mmfit.format import CLASS_NAMES
    from har.training.trial import build_module

    warnings.filterwarnings("ignore", message=".*self.trainer. reference is not registered.*")
    torch.set_num_threads(threads)
    cfg = compose_config(overrides)
    d = cfg.data
    generator = torch.Generator().manual_seed(0)
    batch = {
        "pose": torch.randn(d.batch_size, len(d.joints), 3, d.sensor_window_length, generator=generator),
        "acc": torch.randn(d.batch_size, d.imu_channels, d.sensor_window_length, generator=generator),
        "label": torch.randint(0, len(CLASS_NAMES), (d.batch_size,), generator=generator),
    }  # fmt: skip
    module = build_module(cfg, list(CLASS_NAMES))
    step = ceiling(cfg, module, batch, torch.device("cpu"), steps, warmup)
    return {"step_s": step, "batch": d.batch_size}


def concurrent(threads: int, processes: int, steps: int, warmup: int, overrides: list[str]):
    command = [sys.executable, __file__, "--child", str(threads), "--steps", str(steps),
               "--warmup", str(warmup), *overrides]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    procs = [
        subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    outputs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a child failed: exit codes {[p.returncode for p in procs]}")
    results = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # threads of one child
    args, overrides = parser.parse_known_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.steps, args.warmup, overrides)))
        return
    machine = describe_machine()
    n = cores()
    settings = [n, max(1, n // args.processes)]
    rows = []
    for threads in dict.fromkeys(settings):  # once each, in order
        results, wall = concurrent(threads, args.processes, args.steps, args.warmup, overrides)
        steps = [r["step_s"] for r in results]
        total = sum(r["batch"] / r["step_s"] for r in results)
        rows.append((threads, statistics.median(steps), total, wall))
    print(f"# bench_threads: {machine}")
    print(f"# load average after: {describe_machine().rsplit('load average ', 1)[1]}")
    print(f"# {args.processes} concurrent processes, default model, one in-memory batch, "
          f"{args.steps} timed steps each; medians per step")  # fmt: skip
    print(
        "| threads per process | ms / step (median of processes) | windows/s, all processes | wall s |"
    )
    print("|---|---|---|---|")
    for threads, step, total, wall in rows:
        print(f"| {threads} | {step * 1e3:.1f} | {total:.0f} | {wall:.1f} |")


if __name__ == "__main__":
    main()

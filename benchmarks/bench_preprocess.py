"""Preprocessing: raw MM-Fit files -> cached, windowed training data, cold and with a warm cache.

    python benchmarks/bench_preprocess.py [--minutes 30] [--warm-runs 3] [hydra overrides ...]

Measures what a trial does before its first step with the data: ``prepare_data()`` (read the raw
files, align pose and IMU on one clock, write the session cache) and ``setup("fit")`` (load the
cache memory-mapped, fit normalisation on the training sessions, build the window index and one
contiguous tensor per split). All 21 workouts of the twin are used (the default split plus w12,
which no default split holds). ``--minutes 30`` is the real data set's scale (about 4 million IMU
rows); the twin is generated first if missing (not timed: it stands for the download).

Cold: an empty cache folder. Warm: the same folder again, ``--warm-runs`` times (median). Each
measure runs in a fresh process, so nothing is reused in memory; imports are not timed (they are
part of bench_hpo_overhead's per-trial overhead).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import REPO, compose_config, describe_machine

ALL_WORKOUTS = [
    "data.train_workouts=[w00,w01,w02,w03,w04,w05,w06,w07,w08,w12,w16,w17,w18]",
    "data.val_workouts=[w14,w15,w19,w20]",
    "data.test_workouts=[w09,w10,w11,w13]",
]


def measure(overrides: list[str]) -> dict[str, float]:
    """In this process: build the data module and time prepare_data + setup."""
    from har.data.with_secondary import build_datamodule

    cfg = compose_config(overrides)
    datamodule = build_datamodule(cfg.data)
    started, cpu_started = time.perf_counter(), time.process_time()
    datamodule.prepare_data()
    prepared = time.perf_counter()
    datamodule.setup("fit")
    done, cpu_done = time.perf_counter(), time.process_time()
    sessions = [s for group in datamodule.sessions.values() for s in group]
    return {
        "prepare_s": prepared - started,
        "setup_s": done - prepared,
        "total_s": done - started,
        # CPU seconds of this process: on a machine shared with other work, what the wall-clock
        # figure would be on a quiet one (the work is single-threaded numpy and file reads).
        "cpu_s": cpu_done - cpu_started,
        "sessions": len(sessions),
        "imu_rows": sum(len(s) for s in sessions),
        "windows": sum(len(d) for d in datamodule.datasets.values()),
        "window_mb": sum(d.nbytes for d in datamodule.datasets.values()) / 1e6,
    }


def measure_in_child(overrides: list[str]) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", json.dumps(overrides)]
    out = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def generate_twin(overrides: list[str]) -> float:
    """Make sure the twin exists (generating it if needed); returns the seconds it took."""
    from har.data.sources.base import plain
    from har.data.twin.mmfit import ensure_mmfit_twin

    data = compose_config(overrides).data
    started = time.perf_counter()
    # The preset too: the tree the DataModule then checks for (else it would regenerate, timed).
    ensure_mmfit_twin(Path(data.data_dir), **plain(data.synthetic), twin=data.twin)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of each twin workout")
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # JSON overrides: measure and print
    args, overrides = parser.parse_known_args()
    if args.child is not None:
        print(json.dumps(measure(json.loads(args.child))))
        return
    machine = describe_machine()
    # The config's env.data_dir (HAR_DATA_DIR, else datasets/), not the test suite's folder.
    base = ["data=mmfit_synth", f"data.synthetic.minutes={args.minutes:g}"]
    base += [*ALL_WORKOUTS, *overrides]
    generated_s = generate_twin(base)
    with tempfile.TemporaryDirectory(prefix="bench_preprocess_") as cache:
        run = [*base, f"env.cache_dir={cache}"]
        cold = measure_in_child(run)
        warm = [measure_in_child(run) for _ in range(args.warm_runs)]
        cache_mb = sum(f.stat().st_size for f in Path(cache).rglob("*") if f.is_file()) / 1e6
    print(f"# bench_preprocess: {machine}")
    print(f"# load average after: {describe_machine().rsplit('load average ', 1)[1]}")
    print(f"# twin: {cold['sessions']} workouts x {args.minutes:g} min, {cold['imu_rows']:,} IMU "
          f"rows at the aligned rate, {cold['windows']:,} windows ({cold['window_mb']:.0f} MB of "
          f"tensors), cache {cache_mb:.0f} MB; twin generation (untimed below) {generated_s:.1f} s")  # fmt: skip
    print("| measure | prepare_data s | setup s | total s | CPU s |")
    print("|---|---|---|---|---|")
    print(f"| cold (empty cache) | {cold['prepare_s']:.2f} | {cold['setup_s']:.2f} | **{cold['total_s']:.2f}** | {cold['cpu_s']:.2f} |")  # fmt: skip
    keys = ("prepare_s", "setup_s", "total_s", "cpu_s")
    med = {k: statistics.median(w[k] for w in warm) for k in keys}
    print(f"| warm cache, median of {len(warm)} | {med['prepare_s']:.2f} | {med['setup_s']:.2f} | **{med['total_s']:.2f}** | {med['cpu_s']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()

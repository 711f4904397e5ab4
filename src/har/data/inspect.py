"""Check a data set before training on it: ``python -m har.data.inspect data=<name> [overrides]``.

Prints, per split: the subjects, sessions, hours (all and valid), windows per class (and how many
were edge-padded), the sessions left out for a missing modality, per session the samples dropped
as non-finite, and the normalisation statistics
fitted on the training split (IMU mean/std per channel, body scale). Writes ``summary.json`` (the
same figures) and ``segments.png`` (for each class one aligned window: the regressor's pose input
above the IMU the feature extractor sees, exactly as batched) into ``--out`` (default:
``<env.output_root>/inspect/<data.dataset_name>``).

``--estimate-lag`` also estimates, per workout, how far the pose trails the IMU (cross-correlating
the physics output of the watch arm with the accelerometer, ``har.data.pose_lag``) and prints the
``data.pose_lag_ms`` to set: the median over the TRAINING split's workouts, added to the current
value (the sessions are already shifted by it).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from har.config import CONF_DIR
from har.data.datamodule import SessionDataModule
from har.data.pose_lag import estimate_pose_lag_ms
from har.errors import ConfigError, DataError, reports_user_errors


def compose(overrides: list[str]) -> DictConfig:
    """The project's config with command-line overrides (Hydra's compose API)."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return hydra_compose("conf", overrides=list(overrides))


def summarise(dm: SessionDataModule) -> dict[str, Any]:
    """The figures of the report, from a DataModule after ``setup()``."""
    names = list(dm.class_names)
    splits: dict[str, Any] = {}
    for split, sessions in dm.sessions.items():
        index = dm.windows[split]
        samples = sum(len(s) for s in sessions)
        valid = sum(int(s.valid.sum()) for s in sessions)
        splits[split] = {
            "subjects": sorted({s.participant for s in sessions}, key=str),
            "sessions": [s.workout for s in sessions],
            "hours": samples / dm.sampling_rate_hz / 3600.0,
            "valid_hours": valid / dm.sampling_rate_hz / 3600.0,
            "windows": len(index),
            "windows_per_class": dict(zip(names, dm.window_counts[split], strict=True)),
            "padded_windows": dm.padded_windows[split],
            "skipped_sessions": list(dm.source.skipped.get(split, [])),
            # per session: samples holding NaN/inf, left out of every window
            "nonfinite_samples": {
                s.workout: int(s.report.get("samples_nonfinite", 0)) for s in sessions
            },
        }
    scales = [x for group in dm.body_scales.values() for x in group]
    normalisation: dict[str, Any] = {}
    if scales:  # none without pose
        normalisation |= {
            "body_scale": {
                "median": float(np.median(scales)),
                "min": min(scales),
                "max": max(scales),
            },
            "body_scale_joints": [dm.source.joint_names[j] for j in dm.source.torso],
        }
    if dm.acc_stats is not None:
        normalisation |= {
            "acc_mean": dm.acc_stats.mean.tolist(),
            "acc_std": dm.acc_stats.std.tolist(),
            "fitted_on": list(dm.acc_stats.workouts),
        }
    return {
        "dataset": getattr(dm, "dataset_name", dm.source.cache_namespace),
        "data_dir": str(dm.data_dir),
        "class_names": names,
        "joints": {str(j): dm.source.joint_names[j] for j in dm.joints} if dm.has_pose else {},
        "sensors": list(getattr(dm, "sensors", ())),
        "sampling_rate_hz": dm.sampling_rate_hz,
        "window_length": dm.sensor_window_length,
        "modalities": ["pose"] * dm.has_pose + ["imu"] * (not dm.pose_only),
        "missing_modalities": _missing_modalities(dm),
        "splits": splits,
        "normalisation": normalisation,
    }


def _missing_modalities(dm: SessionDataModule) -> str | None:
    if dm.pose_only:
        return "imu: every session (pose-only data set)"
    without, total = dm.sessions_without_pose, sum(len(g) for g in dm.sessions.values())
    if not without:
        return None
    named = ", ".join(without[:5]) + (" ..." if len(without) > 5 else "")
    return f"pose: {len(without)} of {total} sessions (IMU-only: real_only trains) - {named}"


def report(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['dataset']}  ({summary['data_dir']})",
        f"modalities: {', '.join(summary['modalities'])}"
        + (f" (streams {', '.join(summary['sensors'])})" if summary["sensors"] else "")
        + f"; rate {summary['sampling_rate_hz']:g} Hz; window {summary['window_length']} samples; "
        f"regressor joints {summary['joints'] or 'none (no pose)'}",
    ]
    splits = summary["splits"]
    lines.append(
        f"\n{'split':6} {'subjects':>9} {'sessions':>9} {'hours':>8} {'valid h':>8} {'windows':>8} {'padded':>7}"
    )
    for split, s in splits.items():
        lines.append(
            f"{split:6} {len(s['subjects']):9d} {len(s['sessions']):9d} {s['hours']:8.3f} "
            f"{s['valid_hours']:8.3f} {s['windows']:8d} {s['padded_windows']:7d}"
        )
        lines.append(f"       subjects: {', '.join(map(str, s['subjects']))}")
    width = max(len(name) for name in summary["class_names"])
    lines.append(f"\n{'windows per class':{width}} " + " ".join(f"{split:>7}" for split in splits))
    for name in summary["class_names"]:
        counts = " ".join(f"{s['windows_per_class'][name]:7d}" for s in splits.values())
        lines.append(f"{name:{width}} {counts}")
    lines.append("\nmissing modalities:")
    if summary["missing_modalities"]:
        lines.append(f"  {summary['missing_modalities']}")
    for split, s in splits.items():
        left_out = s["skipped_sessions"]
        lines.append(f"  {split}: {', '.join(left_out) if left_out else 'none'} left out")
    lines.append("\nsamples dropped as non-finite (NaN/inf; no window touches them):")
    for split, s in splits.items():
        dropped = {name: n for name, n in s["nonfinite_samples"].items() if n}
        listed = ", ".join(f"{name} {n}" for name, n in dropped.items())
        lines.append(f"  {split}: {listed or 'none'}")
    norm = summary["normalisation"]
    lines.append("\nnormalisation (training split):")
    if "acc_mean" in norm:
        lines.append(f"  imu mean {np.round(norm['acc_mean'], 4).tolist()}")
        lines.append(f"  imu std  {np.round(norm['acc_std'], 4).tolist()}")
    if "body_scale" in norm:
        scale = norm["body_scale"]
        lines.append(
            f"  body scale ({' -> '.join(norm['body_scale_joints'])}): median {scale['median']:.3f}, "
            f"range {scale['min']:.3f}..{scale['max']:.3f} (pose units per session)"
        )
    return "\n".join(lines)


def plot_segments(dm: SessionDataModule, path: Path) -> Path:
    """One batched window per class: pose input (top) and IMU input (bottom), padding shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = []
    for c, name in enumerate(dm.class_names):
        for split in ("train", "val", "test"):
            hits = np.flatnonzero(dm.windows[split].label == c)
            if len(hits):
                picks.append((name, split, int(hits[len(hits) // 2])))  # mid-class
                break
    cols = min(4, max(len(picks), 1))
    rows = math.ceil(len(picks) / cols)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(4.2 * cols, 4.4 * rows), squeeze=False)
    t = np.arange(dm.sensor_window_length) / dm.sampling_rate_hz
    for k, (name, split, i) in enumerate(picks):
        top, bottom = axes[2 * (k // cols), k % cols], axes[2 * (k // cols) + 1, k % cols]
        batch = dm.datasets[split].__getitems__([i])
        if "pose" in batch:
            joint = dm.source.joint_names[dm.joints[-1]]
            for axis, label in enumerate("xyz"):
                top.plot(t, batch["pose"][0, -1, axis].numpy(), label=f"{joint} {label}")
        else:
            top.text(0.5, 0.5, "no pose (IMU-only)", ha="center", transform=top.transAxes)
        session = dm.sessions[split][int(dm.windows[split].session[i])].workout
        top.set_title(f"{name}\n{split}/{session}", fontsize=8)
        if "acc" in batch:
            for channel, values in enumerate(batch["acc"][0].numpy()):
                bottom.plot(t, values, label=f"imu {channel}")
        else:  # pose-only: the first selected joint below the last one
            first = dm.source.joint_names[dm.joints[0]]
            for axis, label in enumerate("xyz"):
                bottom.plot(t, batch["pose"][0, 0, axis].numpy(), label=f"{first} {label}")
            bottom.set_title("no IMU (pose-only)", fontsize=7)
        if "mask" in batch and not bool(batch["mask"].all()):
            for ax in (top, bottom):
                ax.fill_between(
                    t,
                    0,
                    1,
                    where=~batch["mask"][0].numpy(),
                    color="0.85",
                    transform=ax.get_xaxis_transform(),
                    label="padding",
                )
        bottom.set_xlabel("s")
        if k == 0:
            for ax in (top, bottom) if "pose" in batch else (bottom,):
                ax.legend(fontsize=6)
    for k in range(len(picks), rows * cols):
        axes[2 * (k // cols), k % cols].axis("off")
        axes[2 * (k // cols) + 1, k % cols].axis("off")
    below = "pose" if dm.pose_only else "standardised IMU"
    fig.suptitle(f"one window per class: pose input (body-scaled, root-centred) / {below}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def lag_report(dm: SessionDataModule, current_ms: float) -> tuple[str, dict[str, Any]]:
    """Per-workout lag estimates and the value to set (median of the training split)."""
    if len(dm.joints) != 3 or dm.pose_only:
        raise ConfigError(
            "--estimate-lag needs data.joints = [shoulder, elbow, wrist] of the watch's arm and IMU"
        )
    lines, found = ["\npose lag (ms; positive: the pose is early, move it later):"], {}
    for split, sessions in dm.sessions.items():
        for session in sessions:
            lag = estimate_pose_lag_ms(session, dm.joints)
            found.setdefault(split, {})[session.workout] = lag
            shown = "n/a (too little valid signal)" if lag is None else f"{lag:+.1f}"
            lines.append(f"  {split:5} {session.workout}: {shown}")
    train = [v for v in found.get("train", {}).values() if v is not None]
    if not train:
        raise DataError("--estimate-lag: no training workout gave an estimate")
    value = round(current_ms + float(np.median(train)), 1)
    lines.append(
        f"set data.pose_lag_ms={value:g}  (median of the training split, current {current_ms:g})"
    )
    return "\n".join(lines), {"per_workout_ms": found, "pose_lag_ms": value}


@reports_user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m har.data.inspect", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data=utd_synth")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for summary.json and segments.png"
    )
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--estimate-lag",
        action="store_true",
        help="estimate the pose-IMU lag per workout and print the data.pose_lag_ms to set",
    )
    args = parser.parse_args(argv)
    cfg = compose(args.overrides)
    dm = instantiate(cfg.data, _recursive_=False)
    dm.prepare_data()
    dm.setup()
    out = args.out or Path(cfg.env.output_root) / "inspect" / str(cfg.data.dataset_name)
    summary = summarise(dm)
    if not args.no_plot:
        summary["figure"] = str(plot_segments(dm, out / "segments.png"))
    out.mkdir(parents=True, exist_ok=True)
    lag_text = None
    if args.estimate_lag:
        lag_text, summary["pose_lag"] = lag_report(dm, float(cfg.data.get("pose_lag_ms", 0.0)))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(report(summary))
    if lag_text:
        print(lag_text)
    print(
        f"\nwritten: {out / 'summary.json'}"
        + (f", {summary['figure']}" if "figure" in summary else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The synthetic MM-Fit twin: a complete MM-Fit-format data set from a simulated person.

    python -m har.data.twin.mmfit OUT_DIR --workouts 21 --minutes 4 --seed 0

Per workout ``wXX/``: ``wXX_pose_3d.npy``, ``wXX_pose_2d.npy``, ``wXX_sw_{l,r}_{acc,gyr}.npy`` and
``wXX_labels.csv``, exactly as published (see ``shared/reference/dataset-formats.md``). A kinematic
skeleton (``skeleton_motion``) performs the ten exercises and rests (``exercise_motion``,
``workout_timeline``) at ``INTERNAL_FS``; the watches are computed physically from the CLEAN wrist
trajectory (``har.physics``) and sampled at their own jittered clocks, the camera at 30 fps with
pose-estimation noise on top. The watch sees the true motion, the camera a noisy estimate of it.

Pose frame: camera coordinates in mm, x right, y DOWN, z forward (away from the camera); gravity
is +y. Watch axes are the forearm frame of ``har.physics`` rolled by an unobserved mounting angle,
slow drift and the forearm's supination (see ``watch_roll``).

Deterministic: the same arguments give the same bytes. Workout ``wXX`` depends only on (seed, XX,
minutes) and its participant's style on (seed, participant), so a twin of 3 workouts holds the
same w00..w02 as one of 21, except for the streams a quirk touches (see ``quirk_workouts``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har import physics
from har.data.sources.mmfit.format import (
    COCO_JOINTS,
    H36M_JOINTS,
    PARTICIPANT_OF,
    POSE_FPS,
    WORKOUTS,
    file_name,
)
from har.data.twin import camera, watch
from har.data.twin import skeleton as sk
from har.data.twin.exercises import Style
from har.data.twin.presets import EASY, PRESETS, TwinPreset, preset
from har.data.twin.store import MANIFEST, ensure_twin, write_twin
from har.data.twin.variation import WatchRoll, arm_gains, modulate_arms, spread_style
from har.data.twin.workout_timeline import Segment, plan_workout, render_channels
from har.errors import reports_user_errors

INTERNAL_FS = 7 * POSE_FPS  # 210 Hz: every 7th sample is a camera frame
IMU_CUTOFF_HZ = 25.0  # smooths the landing kinks of jumps the way a watch's own filter would
_PARTICIPANT_STREAM, _WORKOUT_STREAM = 1, 2  # SeedSequence branches
_PARTICIPANT_EXTRA_STREAM, _WORKOUT_EXTRA_STREAM = 3, 4  # what realistic/hard add
# COCO-18 joints taken straight from Human3.6M (COCO index -> H36M index); eyes/ears are derived.
_H36M_NAME_OF_COCO = {"nose": "neck", "neck": "thorax", "r_ankle": "r_foot", "l_ankle": "l_foot"}
_COCO_FROM_H36M = {
    c: H36M_JOINTS.index(_H36M_NAME_OF_COCO.get(name, name))
    for c, name in enumerate(COCO_JOINTS)
    if _H36M_NAME_OF_COCO.get(name, name) in H36M_JOINTS
}
_CAMERA_F_PX, _CAMERA_C_PX = 1150.0, (960.0, 540.0)

__all__ = ["MANIFEST", "ensure_mmfit_twin", "generate_mmfit_twin", "quirk_workouts"]


@dataclass
class WorkoutArrays:
    """Everything written for one workout (arrays exactly as stored)."""

    pose_3d: np.ndarray  # (3, F, 18)
    pose_2d: np.ndarray  # (2, F, 19)
    imu: dict[str, np.ndarray]  # stream -> (N, 5)
    labels: list[tuple[int, int, int, str]]
    truth: dict  # what the files do not say: the pose lag per watch, gravity in the camera frame


def quirk_workouts(workouts: int) -> dict[str, str]:
    """Where the twin reproduces the real data's oddities (w05 and w07 when they exist)."""
    return {
        "no_right_watch": WORKOUTS[min(5, workouts - 1)],
        "imu_gap": WORKOUTS[min(7, max(workouts - 2, 0))],
    }


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


def participant_style(seed: int, participant: int) -> Style:
    return Style.draw(_rng(seed, _PARTICIPANT_STREAM, participant))


def simulate_workout(
    workout: str, minutes: float, seed: int, quirks: dict[str, str], preset: TwinPreset = EASY
) -> WorkoutArrays:
    index = WORKOUTS.index(workout)
    participant = PARTICIPANT_OF[workout]
    style = participant_style(seed, participant)
    # Independent streams per component, so a quirk (a dropped watch, a gap) changes nothing else.
    streams = np.random.SeedSequence([seed, _WORKOUT_STREAM, index]).spawn(5)
    scene, clocks, camera_rng, *watch_rngs = (np.random.default_rng(s) for s in streams)
    # What realistic adds draws from streams of its own: easy's bytes stay what they were.
    person_extra = _rng(seed, _PARTICIPANT_EXTRA_STREAM, participant)
    extra = np.random.default_rng(np.random.SeedSequence([seed, _WORKOUT_EXTRA_STREAM, index]))
    style = spread_style(style, person_extra, preset.style_spread)
    n_frames = max(round(minutes * 60 * POSE_FPS), 2)
    duration = n_frames / POSE_FPS
    t = np.arange(7 * n_frames) / INTERNAL_FS

    segments = plan_workout(style, duration, scene)
    channels = render_channels(segments, t, style, scene)
    if preset.arm_gain != (1.0, 1.0) or preset.asymmetry > 0:
        channels = modulate_arms(channels, segments, t, arm_gains(person_extra, preset))
    if preset is EASY:
        station = np.array([scene.uniform(-0.3, 0.3), scene.uniform(3.6, 4.2)])
        floor_y, tilt = scene.uniform(0.9, 1.3), np.eye(3)
    else:
        station, floor_y, tilt = camera.placement(preset, extra)
    joints = sk.joints_from_channels(channels, style.body, station, floor_y=floor_y)

    frame0 = int(scene.integers(200, 2000))
    frames = frame0 + np.arange(n_frames)
    epoch_ms = float(np.round(1.5e12 + scene.uniform(0, 6e10)))
    clock_offset_ms = scene.uniform(-60.0, 60.0)
    acc_t, gyr_t = watch.sample_times(duration - 1.0 / INTERNAL_FS, clocks)
    if workout == quirks["imu_gap"]:
        gap_start = clocks.uniform(0.3, 0.7) * duration
        gap_end = gap_start + clocks.uniform(0.5, 1.0)
        acc_t, gyr_t = (ts[(ts < gap_start) | (ts >= gap_end)] for ts in (acc_t, gyr_t))

    imu, lags = {}, {}
    for side, rng, (sh, el, wr) in (
        ("l", watch_rngs[0], (sk.L_SHOULDER, sk.L_ELBOW, sk.L_WRIST)),
        ("r", watch_rngs[1], (sk.R_SHOULDER, sk.R_ELBOW, sk.R_WRIST)),
    ):
        if side == "r" and workout == quirks["no_right_watch"]:
            continue
        if preset.sensor_model == "rigid_body":
            acc, gyr = _rigid_body_watch(
                joints, (sh, el, wr), channels, side, style, segments, t, preset, rng
            )
        else:
            roll = watch_roll(channels, side, style, rng.normal(0, 4.0)) + _roll_drift(t, rng)
            acc, gyr = physics.virtual_imu(
                joints[:, sh],
                joints[:, el],
                joints[:, wr],
                INTERNAL_FS,
                IMU_CUTOFF_HZ,
                roll=np.deg2rad(roll),
            )
        noise = _WatchNoise.draw(rng)
        logger = watch.Logger.draw(preset, rng) if preset.frame_column == "logger" else None
        for kind, signal, ts in (("acc", acc, acc_t), ("gyr", gyr, gyr_t)):
            values = _interp_rows(t, signal, ts) + noise.for_kind(kind, len(ts), rng)
            if logger is None:
                # Each row carries the NEAREST camera frame and the clock offset shifts the stamps
                # only (easy: the two cancel in the aligner, no lag to find).
                frame = frame0 + np.clip(np.rint(ts * POSE_FPS), 0, n_frames - 1)
                stamp = np.round(epoch_ms + 1000.0 * ts + clock_offset_ms)
            else:
                frame = frame0 + logger.frames(ts, POSE_FPS, n_frames, rng)
                stamp = logger.stamps(ts, epoch_ms)
            imu[f"sw_{side}_{kind}"] = np.column_stack([frame, stamp, values])
        lags[f"sw_{side}"] = (
            0.0 if logger is None else round(logger.expected_pose_lag_ms(POSE_FPS), 3)
        )

    # The camera sees the same motion, tilted, through a pose estimator: errors added only here.
    truth = joints[::7] @ tilt.T  # metres, (F, 17, 3), camera frame
    if preset.pose_error == "monocular":
        estimate, kept = camera.monocular_pose(truth, preset, camera_rng)
        pixels = _project(_coco_from_h36m(estimate)) + camera_rng.normal(0, 3.0, (n_frames, 18, 2))
    else:
        estimate, kept = truth + _pose_noise(truth.shape, camera_rng), np.ones(n_frames, dtype=bool)
        pixels = _project(_coco_from_h36m(estimate)) + camera_rng.normal(0, 1.5, (n_frames, 18, 2))
    pose_3d = np.empty((3, n_frames, 18))
    pose_3d[:, :, 0] = frames
    pose_3d[:, :, 1:] = (estimate * 1000.0).transpose(2, 0, 1)
    pose_2d = np.empty((2, n_frames, 19))
    pose_2d[:, :, 0] = frames
    pose_2d[:, :, 1:] = pixels.transpose(2, 0, 1)
    truth_facts = {
        "pose_lag_ms": lags,
        "gravity_camera": [round(float(v), 6) for v in camera.gravity_in_camera(tilt)],
        "pose_mpjpe_m": round(camera.mpjpe(estimate[kept], truth[kept]), 5),
    }
    return WorkoutArrays(
        pose_3d[:, kept], pose_2d[:, kept], imu, _labels(segments, frame0, n_frames), truth_facts
    )


def _rigid_body_watch(joints, arm, channels, side, style, segments, t, preset, rng):
    """One watch through the rigid-body sensor model, with its strap, grip and supination."""
    strap = WatchRoll(segments, t, preset, rng)
    supination = channels[:, getattr(sk.C, f"{side}_supination")]
    mount = style.mount_roll_deg[0 if side == "l" else 1] + rng.normal(0, 4.0)
    roll = strap.roll_deg(supination, side, mount, preset.supination_share) + _roll_drift(t, rng)
    offset = strap.offset_m(preset.watch_offset_cm, rng)
    sh, el, wr = (joints[:, j] for j in arm)
    return watch.rigid_body_imu(sh, el, wr, INTERNAL_FS, roll, offset, IMU_CUTOFF_HZ)


def watch_roll(channels: np.ndarray, side: str, style: Style, remount_deg: float) -> np.ndarray:
    """Roll (degrees, (T,)) of the watch about the forearm: mounting + re-mounting + supination.

    Supination turns the palm forwards, which is a negative rotation about the hand-pointing x axis
    on the left forearm and a positive one on the right (mirror images).
    """
    mount = style.mount_roll_deg[0 if side == "l" else 1] + remount_deg
    supination = channels[:, getattr(sk.C, f"{side}_supination")]
    return mount + (-supination if side == "l" else supination)


def _roll_drift(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slow wandering of the strap around the wrist (degrees)."""
    periods = rng.uniform(20.0, 120.0, 3)
    amps, phases = rng.uniform(1.0, 4.0, 3), rng.uniform(0, 2 * np.pi, 3)
    return np.sum(amps * np.sin(2 * np.pi * t[:, None] / periods + phases), axis=1)


def _interp_rows(t: np.ndarray, signal: np.ndarray, at: np.ndarray) -> np.ndarray:
    return np.column_stack([np.interp(at, t, signal[:, k]) for k in range(signal.shape[1])])


@dataclass
class _WatchNoise:
    acc_sigma: float
    gyr_sigma: float
    acc_bias: np.ndarray
    gyr_bias: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _WatchNoise:
        return cls(
            rng.uniform(0.05, 0.2),
            rng.uniform(0.01, 0.03),
            rng.normal(0, 0.08, 3),
            rng.normal(0, 0.01, 3),
        )

    def for_kind(self, kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
        sigma, bias = (
            (self.acc_sigma, self.acc_bias) if kind == "acc" else (self.gyr_sigma, self.gyr_bias)
        )
        return bias + sigma * rng.standard_normal((n, 3))


def _pose_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Pose-estimation error (m): white jitter + a slow wobble, depth worse, rare outlier joints."""
    sigma = rng.uniform(0.010, 0.020)
    scale = np.array([1.0, 1.0, 1.5]) * sigma
    white = rng.standard_normal(shape) * scale
    slow = physics.lowpass(rng.standard_normal(shape), POSE_FPS, 2.0) * 2.5 * scale
    outlier_frames = rng.random(shape[0]) < 0.004
    n_out = int(outlier_frames.sum())
    outliers = np.zeros(shape)
    joints_hit = rng.random((n_out, shape[1])) < 0.15
    outliers[outlier_frames] = joints_hit[..., None] * rng.normal(0, 0.07, (n_out, shape[1], 3))
    return white + slow + outliers


def _coco_from_h36m(joints: np.ndarray) -> np.ndarray:
    """COCO-18 joints (F, 18, 3) from Human3.6M ones; eyes and ears placed around the nose."""
    coco = np.empty((joints.shape[0], len(COCO_JOINTS), 3))
    for c, h in _COCO_FROM_H36M.items():
        coco[:, c] = joints[:, h]
    nose, head = joints[:, sk.NOSE], joints[:, sk.HEAD]
    left = _unit(joints[:, sk.L_SHOULDER] - joints[:, sk.R_SHOULDER])
    up = _unit(head - joints[:, sk.THORAX])
    back = np.cross(up, left)  # = -forward
    for side, sign in (("r", -1.0), ("l", 1.0)):
        coco[:, COCO_JOINTS.index(f"{side}_eye")] = nose + 0.03 * up + sign * 0.032 * left
        coco[:, COCO_JOINTS.index(f"{side}_ear")] = (
            nose + 0.01 * up + sign * 0.075 * left + 0.06 * back
        )
    return coco


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _project(points: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points (..., 3) in metres to pixels (..., 2)."""
    z = np.maximum(points[..., 2], 0.1)
    return np.stack(
        [
            _CAMERA_F_PX * points[..., 0] / z + _CAMERA_C_PX[0],
            _CAMERA_F_PX * points[..., 1] / z + _CAMERA_C_PX[1],
        ],
        axis=-1,
    )


def _labels(segments: list[Segment], frame0: int, n_frames: int) -> list[tuple[int, int, int, str]]:
    rows = []
    for seg in segments:
        if seg.activity == "non_activity":
            continue
        start = frame0 + min(round(seg.reps_start * POSE_FPS), n_frames - 1)
        end = frame0 + min(round(seg.reps_end * POSE_FPS), n_frames - 1)
        rows.append((start, end, len(seg.periods), seg.activity))
    return rows


def _write_workout(folder: Path, workout: str, arrays: WorkoutArrays) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / file_name(workout, "pose_3d"), arrays.pose_3d)
    np.save(folder / file_name(workout, "pose_2d"), arrays.pose_2d)
    for stream, rows in arrays.imu.items():
        np.save(folder / file_name(workout, stream), rows)
    text = "".join(f"{s},{e},{r},{a}\n" for s, e, r, a in arrays.labels)
    (folder / file_name(workout, "labels", "csv")).write_text(text)
    return len(arrays.imu["sw_l_acc"])


def _settings(workouts: int, minutes: float, seed: int, twin: str = "easy") -> dict:
    if not 1 <= int(workouts) <= len(WORKOUTS):
        raise ValueError(f"workouts must be 1..{len(WORKOUTS)}, got {workouts}")
    if not float(minutes) > 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    settings = {"workouts": int(workouts), "minutes": float(minutes), "seed": int(seed)}
    chosen = preset(twin)
    if chosen is not EASY:  # easy's manifest keeps its first keys: trees made before presets match
        settings |= {"twin": chosen.name, "twin_settings": chosen.table()}
    return settings


def _generate_into(folder: Path, settings: dict) -> dict:
    """Write every workout into ``folder``; returns extra manifest entries."""
    quirks = quirk_workouts(settings["workouts"])
    chosen = preset(settings.get("twin", "easy"))
    rows, truth = 0, {}
    for workout in WORKOUTS[: settings["workouts"]]:
        arrays = simulate_workout(workout, settings["minutes"], settings["seed"], quirks, chosen)
        rows += _write_workout(folder / workout, workout, arrays)
        truth[workout] = arrays.truth
    return {"quirks": quirks, "sw_l_acc_rows": rows, "truth": truth}


def generate_mmfit_twin(
    out_dir: str | Path, workouts: int = 21, minutes: float = 4.0, seed: int = 0, twin: str = "easy"
) -> Path:
    """(Re)generate the twin in ``out_dir`` atomically, replacing an older twin there.

    Raises ``DataError`` if ``out_dir`` holds anything that is not a twin (it may be real data).
    """
    return write_twin(Path(out_dir), _settings(workouts, minutes, seed, twin), _generate_into)


def ensure_mmfit_twin(
    out_dir: str | Path, workouts: int = 21, minutes: float = 4.0, seed: int = 0, twin: str = "easy"
) -> Path:
    """Return ``out_dir`` holding the twin for these settings, generating it only if needed."""
    return ensure_twin(Path(out_dir), _settings(workouts, minutes, seed, twin), _generate_into)


@reports_user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m har.data.twin.mmfit", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--workouts", type=int, default=len(WORKOUTS), help="count N: writes w00..w{N-1}"
    )
    parser.add_argument("--minutes", type=float, default=4.0, help="length of each workout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--twin", choices=list(PRESETS), default="easy", help="preset (har.data.twin.presets)"
    )
    parser.add_argument(
        "--force", action="store_true", help="regenerate even if an identical twin exists"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    make = generate_mmfit_twin if args.force else ensure_mmfit_twin
    try:
        path = make(args.out_dir, args.workouts, args.minutes, args.seed, args.twin)
    except ValueError as exc:
        parser.error(str(exc))
    manifest = json.loads((path / MANIFEST).read_text())
    print(
        f"{path}: {manifest.get('twin', 'easy')} twin, "
        f"{manifest['workouts']} workouts x {manifest['minutes']:g} min, "
        f"{manifest['sw_l_acc_rows']} sw_l_acc rows, {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A synthetic UTD-MHAD tree: the published files, from simulated people performing the 27 actions.

    python -m har.data.twin.utd OUT_DIR --subjects 8 --trials 4 --seed 0

Writes ``Inertial/a{a}_s{s}_t{t}_inertial.mat`` (``d_iner`` (T, 6): acc in g, gyro in deg/s, 50 Hz)
and ``Skeleton/a{a}_s{s}_t{t}_skeleton.mat`` (``d_skel`` (20, 3, T_s): Kinect v1 camera space,
metres, 29-31 fps), leaving out the three clips the real data set lacks. The twin's kinematic
skeleton performs each action (``action_motion``) at ``INTERNAL_FS``; the inertial sensor is
computed physically (``har.physics``) from the CLEAN right forearm (actions 1-21) or right thigh
(22-27), with mounting roll, noise and bias; the Kinect sees the same motion with estimation noise,
over a span a few milliseconds shorter than the inertial one (the lengths are not exactly 50:30,
as in the real files). Deterministic for a seed; generated once and recognised by its manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from har import physics
from har.data.sources.base import kinect_to_pose_frame
from har.data.sources.utd import (
    ACTION_SETS,
    INERTIAL_HZ,
    KINECT_V1_JOINTS,
    KNOWN_MISSING,
    clip_name,
)
from har.data.twin import skeleton as sk
from har.data.twin.actions import action_duration, kinect_joints, perform
from har.data.twin.exercises import Motion, Style
from har.data.twin.store import ensure_twin, twin_cli

INTERNAL_FS = 300.0  # 6 x the inertial rate
_STYLE, _CLIP = 11, 12  # SeedSequence branches


def simulate_clip(
    action: int, subject: int, trial: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``d_iner`` (T, 6) and ``d_skel`` (20, 3, T_s) of one clip, exactly as stored."""
    style = Style.draw(np.random.default_rng(np.random.SeedSequence([seed, _STYLE, subject])))
    rng = np.random.default_rng(np.random.SeedSequence([seed, _CLIP, action, subject, trial]))
    duration = action_duration(action, style.tempo) * float(np.exp(rng.normal(0.0, 0.08)))
    t = np.arange(int(duration * INTERNAL_FS) + 1) / INTERNAL_FS
    motion = Motion(
        t=t,
        phase=np.zeros(len(t)),
        rep=np.zeros(len(t), int),
        amp=np.ones(len(t)),
        style=style,
        rng=rng,
    )
    channels = perform(action, motion, amplitude=float(rng.uniform(0.85, 1.1)))
    station = np.array([rng.uniform(-0.2, 0.2), rng.uniform(2.6, 3.2)])  # metres from the Kinect
    joints = sk.joints_from_channels(channels, style.body, station, floor_y=rng.uniform(0.7, 1.0))

    if action in ACTION_SETS["thigh"]:  # sensor on the right thigh, x along it
        mid_thigh = 0.5 * (joints[:, sk.R_HIP] + joints[:, sk.R_KNEE])
        segment, roll = (joints[:, sk.L_HIP], joints[:, sk.R_HIP], mid_thigh), 0.0
    else:  # sensor on the right wrist
        segment = (joints[:, sk.R_SHOULDER], joints[:, sk.R_ELBOW], joints[:, sk.R_WRIST])
        roll = style.mount_roll_deg[1] + channels[:, sk.C.r_supination]
    acc, gyr = physics.virtual_imu(*segment, INTERNAL_FS, 20.0, roll=np.deg2rad(roll))
    step = round(INTERNAL_FS / INERTIAL_HZ)
    inertial = np.column_stack([acc[::step] / physics.G, np.rad2deg(gyr[::step])])
    inertial += np.concatenate([rng.normal(0, 0.02, 3), rng.normal(0, 1.0, 3)])  # bias
    inertial += rng.standard_normal(inertial.shape) * np.array([0.01] * 3 + [1.5] * 3)

    span = (len(inertial) - 1) / INERTIAL_HZ
    start, end = rng.uniform(0.0, 0.03), span - rng.uniform(0.0, 0.03)
    frames = np.arange(start, end, 1.0 / rng.uniform(29.0, 31.0))
    kinect = kinect_joints(joints, KINECT_V1_JOINTS)
    sampled = np.stack(
        [np.interp(frames, t, kinect[:, j, a]) for j in range(kinect.shape[1]) for a in range(3)],
        axis=-1,
    ).reshape(len(frames), -1, 3)
    sampled += rng.normal(0.0, 0.012, sampled.shape)  # Kinect v1 joint noise
    skeleton = kinect_to_pose_frame(sampled).transpose(1, 2, 0)  # its own inverse
    return inertial, skeleton


def _generate_into(folder: Path, settings: dict[str, Any]) -> dict[str, Any]:
    (folder / "Inertial").mkdir()
    (folder / "Skeleton").mkdir()
    written = 0
    for action in ACTION_SETS["all"]:
        for subject in range(1, settings["subjects"] + 1):
            for trial in range(1, settings["trials"] + 1):
                if (action, subject, trial) in KNOWN_MISSING:
                    continue
                inertial, skeleton = simulate_clip(action, subject, trial, settings["seed"])
                name = clip_name((action, subject, trial))
                scipy.io.savemat(folder / "Inertial" / f"{name}_inertial.mat", {"d_iner": inertial})
                scipy.io.savemat(folder / "Skeleton" / f"{name}_skeleton.mat", {"d_skel": skeleton})
                written += 1
    return {"generator": "har.data.twin.utd", "clips": written}


def _settings(subjects: int, trials: int, seed: int) -> dict[str, Any]:
    if not 1 <= int(subjects) <= 8 or not 1 <= int(trials) <= 4:
        raise ValueError(f"subjects must be 1..8 and trials 1..4, got {subjects} and {trials}")
    return {"kind": "utd-mhad", "subjects": int(subjects), "trials": int(trials), "seed": int(seed)}


def ensure_utd_twin(out_dir: str | Path, subjects: int = 8, trials: int = 4, seed: int = 0) -> Path:
    """Return ``out_dir`` holding the synthetic tree for these settings, generating it if needed."""
    return ensure_twin(Path(out_dir), _settings(subjects, trials, seed), _generate_into)


def main(argv: list[str] | None = None) -> int:
    return twin_cli(argv, ensure_utd_twin)


if __name__ == "__main__":
    raise SystemExit(main())

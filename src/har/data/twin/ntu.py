"""A small synthetic NTU RGB+D tree: ``.skeleton`` text files in the published format.

    python -m har.data.twin.ntu OUT_DIR --performers 6 --setups 1 --seed 0

Writes ``nturgb+d_skeletons/SsssCcccPpppRrrrAaaa.skeleton`` for the NTU actions in ``MOTIONS``
(performed by the twin's skeleton with the UTD action library), three cameras (the person turned by
-45, 0, +45 degrees), two replications, and the format's quirks: frames with no body at the start
and now and then in the middle, a second "body" in some files (a still bystander, or a piece of
furniture Kinect mistakes for a person: wider than tall), joints tracked (2), inferred (1, noisier)
or not tracked (0, wrong positions), and two samples whose skeletons are missing (every frame
body-less) listed in ``missing_skeletons.txt`` like the official lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from har.data.sources.base import kinect_to_pose_frame
from har.data.sources.ntu.skeleton_file import FPS, KINECT_V2_JOINTS
from har.data.twin import skeleton as sk
from har.data.twin.actions import action_duration, kinect_joints, perform
from har.data.twin.exercises import Motion, Style
from har.data.twin.store import ensure_twin, twin_cli

# NTU action -> the action_motion (UTD numbering) that performs it.
MOTIONS = {7: 5, 8: 25, 9: 24, 10: 4, 23: 3, 40: 6}
CAMERA_YAW = {1: -45.0, 2: 0.0, 3: 45.0}
MISSING_LIST = "missing_skeletons.txt"
FOLDER = "nturgb+d_skeletons"
_STYLE, _SAMPLE = 21, 22
_BODY_ID = 72057594037927936  # Kinect tracking ids are large integers like this one


def sample_name(setup: int, camera: int, performer: int, replication: int, action: int) -> str:
    return f"S{setup:03d}C{camera:03d}P{performer:03d}R{replication:03d}A{action:03d}"


def simulate_sample(
    setup: int, camera: int, performer: int, replication: int, action: int, seed: int
) -> list[list[tuple[int, np.ndarray, np.ndarray]]]:
    """Per frame, the bodies seen: (tracking id, joints (25, 3) Kinect space, states (25,))."""
    style = Style.draw(np.random.default_rng(np.random.SeedSequence([seed, _STYLE, performer])))
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, _SAMPLE, setup, camera, performer, replication, action])
    )
    duration = action_duration(MOTIONS[action], style.tempo) * float(np.exp(rng.normal(0, 0.08)))
    t = np.arange(int(duration * FPS) + 1) / FPS
    motion = Motion(
        t=t,
        phase=np.zeros(len(t)),
        rep=np.zeros(len(t), int),
        amp=np.ones(len(t)),
        style=style,
        rng=rng,
    )
    channels = perform(MOTIONS[action], motion, amplitude=float(rng.uniform(0.85, 1.1)))
    channels[:, sk.C.yaw] += CAMERA_YAW[camera] + (20.0 if replication == 1 else -20.0)
    station = np.array([rng.uniform(-0.3, 0.3), rng.uniform(2.5, 3.5)])
    h36m = sk.joints_from_channels(channels, style.body, station, floor_y=rng.uniform(0.6, 0.9))
    actor = kinect_to_pose_frame(kinect_joints(h36m, KINECT_V2_JOINTS))
    actor += rng.normal(0.0, 0.01, actor.shape)
    states = np.where(rng.random(actor.shape[:2]) < 0.03, 1, 2)
    actor += (states == 1)[..., None] * rng.normal(0.0, 0.03, actor.shape)  # inferred: noisier
    lost = rng.random(actor.shape[:2]) < 0.005
    states[lost] = 0
    actor[lost] += 0.3  # not tracked: Kinect still reports a (wrong) position

    actor_id = _BODY_ID + int(rng.integers(1000, 9999))
    frames = [[(actor_id, actor[k], states[k])] for k in range(len(t))]
    extra = rng.random()
    if extra < 0.15:  # a bystander standing still in the background
        still = np.repeat(actor[:1] + np.array([1.2, 0.0, 1.0]), len(t), axis=0)
        still += rng.normal(0.0, 0.004, still.shape)
        for k in range(len(t)):
            frames[k].append((actor_id + 1, still[k], np.full(25, 2)))
    elif extra < 0.3:  # furniture: wider than tall, motionless, seen in most frames
        box = np.column_stack(
            [np.linspace(-0.5, 0.5, 25), rng.uniform(-0.1, 0.1, 25), np.full(25, 3.8)]
        )
        for k in range(len(t)):
            if rng.random() < 0.9:
                frames[k].append(
                    (actor_id + 7, box + rng.normal(0, 0.005, box.shape), np.ones(25, int))
                )
    if rng.random() < 0.25:  # Kinect loses everyone for one frame
        frames[int(rng.integers(len(t) // 3, 2 * len(t) // 3))] = []
    return [[] for _ in range(int(rng.integers(0, 4)))] + frames  # body-less frames before


def skeleton_text(frames: list[list[tuple[int, np.ndarray, np.ndarray]]]) -> str:
    """The published text layout (depth/colour pixels projected, orientations left at zero)."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for body_id, joints, states in bodies:
            out.append(f"{body_id} 0 1 1 1 1 0 0.01 -0.02 2")
            out.append(str(len(joints)))
            z = np.maximum(joints[:, 2], 0.1)
            depth = np.column_stack(
                [256 + 365.5 * joints[:, 0] / z, 212 - 365.5 * joints[:, 1] / z]
            )
            color = np.column_stack(
                [960 + 1081.4 * joints[:, 0] / z, 540 - 1081.4 * joints[:, 1] / z]
            )
            for j in range(len(joints)):
                x, y, zz = joints[j]
                out.append(
                    f"{x:.7g} {y:.7g} {zz:.7g} {depth[j, 0]:.7g} {depth[j, 1]:.7g} "
                    f"{color[j, 0]:.7g} {color[j, 1]:.7g} 0 0 0 0 {states[j]}"
                )
    return "\n".join(out) + "\n"


def _generate_into(folder: Path, settings: dict[str, Any]) -> dict[str, Any]:
    (folder / FOLDER).mkdir()
    performers = range(1, settings["performers"] + 1)
    missing = {sample_name(1, 1, performers[-1], 1, a) for a in list(MOTIONS)[:2]}
    written = 0
    for setup in range(1, settings["setups"] + 1):
        for camera in CAMERA_YAW:
            for performer in performers:
                for replication in (1, 2):
                    for action in MOTIONS:
                        name = sample_name(setup, camera, performer, replication, action)
                        frames = simulate_sample(
                            setup, camera, performer, replication, action, settings["seed"]
                        )
                        if name in missing:
                            frames = [[] for _ in frames]
                        (folder / FOLDER / f"{name}.skeleton").write_text(skeleton_text(frames))
                        written += 1
    header = (
        "# samples of this synthetic tree whose skeletons are missing (every frame body-less)\n"
    )
    (folder / MISSING_LIST).write_text(header + "".join(f"{n}\n" for n in sorted(missing)))
    return {"generator": "har.data.twin.ntu", "samples": written}


def _settings(performers: int, setups: int, seed: int) -> dict[str, Any]:
    if not 1 <= int(performers) <= 40 or not 1 <= int(setups) <= 17:
        raise ValueError(f"performers must be 1..40 and setups 1..17, got {performers}, {setups}")
    return {"kind": "ntu", "performers": int(performers), "setups": int(setups), "seed": int(seed)}


def ensure_ntu_twin(
    out_dir: str | Path, performers: int = 6, setups: int = 1, seed: int = 0
) -> Path:
    """Return ``out_dir`` holding the synthetic tree for these settings, generating it if needed."""
    return ensure_twin(Path(out_dir), _settings(performers, setups, seed), _generate_into)


def main(argv: list[str] | None = None) -> int:
    return twin_cli(argv, ensure_ntu_twin)


if __name__ == "__main__":
    raise SystemExit(main())

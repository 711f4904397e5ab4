"""The NTU RGB+D ``.skeleton`` text format, and which of a sample's bodies is the performer.

Text: the frame count; per frame a body count (0 happens); per body a line of 10 values (tracking
id first), the joint count (25) and one line per joint: x y z (metres, Kinect v2 camera space),
depthX depthY, colorX colorY, orientation w x y z, tracking state (0 not tracked, 1 inferred,
2 tracked).

Main body (the NTU authors' heuristic): the body whose joints move most (sum of the x, y and z
variances over its frames), among bodies that are not noise; a body is noise when it is seen in
fewer than ``MIN_BODY_FRAMES`` frames or is wider than tall (x spread > 0.8 y spread) in most of
its frames — Kinect's furniture "skeletons".
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from har.errors import DataError

KINECT_V2_JOINTS: tuple[str, ...] = (
    "spine_base", "spine_mid", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "l_hand",
    "r_shoulder", "r_elbow", "r_wrist", "r_hand", "l_hip", "l_knee", "l_ankle", "l_foot",
    "r_hip", "r_knee", "r_ankle", "r_foot", "spine_shoulder", "l_hand_tip", "l_thumb",
    "r_hand_tip", "r_thumb",
)  # fmt: skip
FPS = 30.0
MIN_BODY_FRAMES = 11
NOISE_SPREAD_RATIO, NOISE_FRAME_SHARE = 0.8, 0.69


@dataclass
class BodyTrack:
    frames: np.ndarray  # (F,) frame indices where this body is seen
    joints: np.ndarray  # (F, 25, 3) Kinect camera space, metres
    tracking: np.ndarray  # (F, 25) int tracking state

    def motion(self) -> float:
        return float(self.joints.reshape(len(self.frames), -1).var(axis=0).sum())

    def is_noise(self) -> bool:
        if len(self.frames) < MIN_BODY_FRAMES:
            return True
        spread = self.joints.max(axis=1) - self.joints.min(axis=1)  # (F, 3)
        wide = spread[:, 0] > NOISE_SPREAD_RATIO * spread[:, 1]
        return float(wide.mean()) > NOISE_FRAME_SHARE


def parse_skeleton(path: Path) -> tuple[int, dict[str, BodyTrack]]:
    """Frame count and every body's track. The text is walked once for its structure and all
    joint lines are converted to numbers in one call (the slow part of reading NTU)."""
    try:
        lines = path.read_text(encoding="ascii").split("\n")  # the format is plain ASCII
    except (OSError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0]
        raise DataError(
            f"{path} is not a readable .skeleton text file ({reason}): re-extract it"
        ) from None
    pos = 0
    try:
        n_frames, pos = int(lines[0]), 1
        joint_lines: list[str] = []
        owners: list[tuple[str, int]] = []  # (body id, frame) per body-frame, in file order
        for frame in range(n_frames):
            n_bodies, pos = int(lines[pos]), pos + 1
            for _ in range(n_bodies):
                body_id = lines[pos].split(maxsplit=1)[0]
                n_joints = int(lines[pos + 1])
                if n_joints != len(KINECT_V2_JOINTS):
                    raise DataError(
                        f"{path}: frame {frame} has a body with {n_joints} joints, expected 25"
                    )
                block = lines[pos + 2 : pos + 2 + n_joints]
                if len(block) < n_joints:
                    raise IndexError  # the file ends inside a body
                joint_lines.extend(block)
                owners.append((body_id, frame))
                pos += 2 + n_joints
    except (ValueError, IndexError):
        raise DataError(
            f"{path} is truncated or not an NTU .skeleton file (stopped near line {pos + 1}): re-extract it"
        ) from None
    if not joint_lines:
        return n_frames, {}
    try:  # pandas' C parser reads numbers several times faster than numpy's text parsers
        values = pd.read_csv(
            io.StringIO("\n".join(joint_lines)), sep=r"\s+", header=None, dtype=np.float64
        ).to_numpy()
    except ValueError:
        values = np.zeros((0, 0))
    if values.shape != (len(joint_lines), 12):
        raise DataError(f"{path}: joint lines must hold 12 numbers each: re-extract the file")
    table = values.reshape(len(owners), len(KINECT_V2_JOINTS), 12)
    tracks: dict[str, BodyTrack] = {}
    for body_id in dict.fromkeys(b for b, _ in owners):
        rows = [i for i, (b, _) in enumerate(owners) if b == body_id]
        tracks[body_id] = BodyTrack(
            frames=np.array([owners[i][1] for i in rows]),
            joints=table[rows, :, :3],
            tracking=table[rows, :, 11].astype(np.int64),
        )
    return n_frames, tracks


def main_body(tracks: Mapping[str, BodyTrack]) -> BodyTrack | None:
    candidates = [t for t in tracks.values() if not t.is_noise()] or list(tracks.values())
    return max(candidates, key=BodyTrack.motion, default=None)

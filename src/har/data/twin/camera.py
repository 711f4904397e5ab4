"""The twin's camera: where it stands, how it is tilted, and what a monocular 3D pose estimator
makes of the person in front of it.

Placement (per workout): the person stands ``camera_distance_m`` away, the floor ``camera_height_m``
below the lens, and the camera is pitched and rolled, so gravity is NOT +y in the camera frame the
pose files are written in (the watch still feels true gravity: the IMU is computed in the level
world frame and only the pose is rotated into the camera's).

Pose error (``pose_error=monocular``), the failure modes of lifted monocular 3D pose:

- per-joint error, slowly correlated (a few Hz) plus white, ``depth_factor`` × larger along the
  camera's z; sized by ``pose_error_cm`` to a mean per-joint error (MPJPE) of about 4–5 cm;
- bone lengths that vary from frame to frame (``bone_jitter``, relative σ): the skeleton is rebuilt
  from the root along the kinematic tree with each bone stretched;
- short identity/limb swaps (``swaps_per_min``): the left and right arm (or leg) swap for 2–8 frames;
- dropped frames (``dropped_frames``, a share, in runs of 1–5): missing rows in the pose files.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from har import physics
from har.data.sources.mmfit.format import H36M_JOINTS, POSE_FPS
from har.data.twin.presets import TwinPreset

Array = np.ndarray
PARENT = {
    "l_hip": "hip", "l_knee": "l_hip", "l_foot": "l_knee", "r_hip": "hip", "r_knee": "r_hip",
    "r_foot": "r_knee", "spine": "hip", "thorax": "spine", "neck": "thorax", "head": "neck",
    "l_shoulder": "thorax", "l_elbow": "l_shoulder", "l_wrist": "l_elbow",
    "r_shoulder": "thorax", "r_elbow": "r_shoulder", "r_wrist": "r_elbow",
}  # fmt: skip
# Children after parents (H36M order already is: every parent precedes its children).
_TREE = [(H36M_JOINTS.index(c), H36M_JOINTS.index(p)) for c, p in PARENT.items()]
_TREE.sort(key=lambda cp: cp[0])
_LIMBS = {
    "arms": [("l_shoulder", "r_shoulder"), ("l_elbow", "r_elbow"), ("l_wrist", "r_wrist")],
    "legs": [("l_hip", "r_hip"), ("l_knee", "r_knee"), ("l_foot", "r_foot")],
}


def placement(preset: TwinPreset, rng: np.random.Generator) -> tuple[Array, float, Array]:
    """(station (x, z) of the person in metres, floor height below the lens, tilt rotation (3, 3)).

    The tilt maps level-world coordinates into the camera's: ``p_cam = tilt @ p_world``.
    """
    station = np.array([rng.uniform(-0.3, 0.3), rng.uniform(*preset.camera_distance_m)])
    floor_y = rng.uniform(*preset.camera_height_m)
    pitch = rng.normal(0.0, preset.camera_pitch_deg)
    roll = rng.normal(0.0, preset.camera_roll_deg)
    tilt = Rotation.from_euler("xz", [pitch, roll], degrees=True).as_matrix()
    return station, floor_y, tilt


def gravity_in_camera(tilt: Array) -> Array:
    """The direction of gravity in the camera frame (unit vector; +y for a level camera)."""
    return tilt @ np.array([0.0, 1.0, 0.0])


def monocular_pose(
    joints: Array, preset: TwinPreset, rng: np.random.Generator
) -> tuple[Array, Array]:
    """Estimated joints (F, 17, 3) in metres and the mask of frames kept (F,), from true ones."""
    n_frames = len(joints)
    estimate = _stretch_bones(joints, preset.bone_jitter, rng)
    sigma = 0.01 * preset.pose_error_cm
    axes = np.array([1.0, 1.0, preset.depth_factor]) * sigma
    slow = physics.lowpass(rng.standard_normal(joints.shape), POSE_FPS, 1.5) * 2.2
    white = 0.6 * rng.standard_normal(joints.shape)
    # A shared depth error of the whole body (the scale/depth ambiguity of one camera).
    body_depth = physics.lowpass(rng.standard_normal(n_frames), POSE_FPS, 0.5) * 3.0 * sigma
    estimate = estimate + (slow + white) * axes
    estimate[:, :, 2] += body_depth[:, None]
    estimate = _swap_limbs(estimate, preset.swaps_per_min, rng)
    return estimate, _kept_frames(n_frames, preset.dropped_frames, rng)


def _stretch_bones(joints: Array, jitter: float, rng: np.random.Generator) -> Array:
    if jitter <= 0:
        return joints.copy()
    out = joints.copy()
    n_frames = len(joints)
    # Per bone: a per-workout bias plus a per-frame wobble (slightly smoothed: estimators are).
    stretch = 1.0 + jitter * (
        0.5 * rng.standard_normal((1, len(_TREE)))
        + physics.lowpass(rng.standard_normal((n_frames, len(_TREE))), POSE_FPS, 6.0) * 1.6
    )
    for k, (child, parent) in enumerate(_TREE):
        bone = joints[:, child] - joints[:, parent]
        out[:, child] = out[:, parent] + bone * stretch[:, k : k + 1]
    return out


def _swap_limbs(joints: Array, per_min: float, rng: np.random.Generator) -> Array:
    n_frames = len(joints)
    n_swaps = rng.poisson(per_min * n_frames / POSE_FPS / 60.0)
    for _ in range(n_swaps):
        start = int(rng.integers(n_frames))
        stop = min(n_frames, start + int(rng.integers(2, 9)))
        for left, right in _LIMBS["arms" if rng.random() < 0.6 else "legs"]:
            li, ri = H36M_JOINTS.index(left), H36M_JOINTS.index(right)
            joints[start:stop, [li, ri]] = joints[start:stop, [ri, li]]
    return joints


def _kept_frames(n_frames: int, share: float, rng: np.random.Generator) -> Array:
    keep = np.ones(n_frames, dtype=bool)
    if share <= 0:
        return keep
    runs = rng.poisson(share * n_frames / 3.0)
    for start in rng.integers(1, n_frames - 1, runs):  # the first and last frames stay
        keep[start : min(n_frames - 1, start + int(rng.integers(1, 6)))] = False
    return keep


def mpjpe(estimate: Array, truth: Array) -> float:
    """Mean per-joint position error (metres), the usual figure of merit of a 3D pose estimator."""
    return float(np.linalg.norm(estimate - truth, axis=-1).mean())

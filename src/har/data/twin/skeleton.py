"""Kinematic skeleton of the synthetic twin: posture channels -> Human3.6M joints in the pose frame.

A posture is a row of named channels (``CHANNELS``): whole-body placement, trunk, legs and arms as
joint angles in DEGREES (lengths in metres). Rows are sampled in time and blended linearly, so
motions are written as channel time series and turned into 17 joint positions here, vectorised over
time. The forearm's supination is a channel too, but it moves no joint: it only rolls the watch
(``physics.apply_roll``), which is exactly why wrist roll is unobservable from pose.

Frames. The pose ("world") frame is camera-like: x right, y DOWN, z forward (away from the camera),
in metres here (the writer converts to mm). The body frame has axes L (the person's left), U (up),
F (forward, the way the chest faces); a person facing the camera (yaw 0) has L = +x, U = -y,
F = -z. Feet are kept on the floor: the root's height follows the lower foot (a soft minimum, so
there is no kink when the feet swap), and its horizontal position follows the feet (both, or the
anchor foot of a lunge), so squats, lunges and jumps move the whole body like real ones do.

Arm angles (left arm; the right arm is its mirror image): ``elev`` 0 = hanging, 90 = horizontal,
180 = overhead; ``plane`` 0 = raised sideways, 90 = raised forwards; ``rot`` humeral rotation,
positive = external (the forearm's bending direction turns outwards/upwards); ``elbow`` flexion,
0 = straight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from har.data.sources.mmfit.format import H36M_JOINTS

Array = NDArray[np.float64]


class C:
    """Posture channel indices, so motions read ``p[:, C.l_elbow]``."""

    yaw = 0  # facing direction about the vertical; 0 = facing the camera, 90 = facing image left
    pelvis_pitch = 1  # forward tilt of the pelvis; 90 = prone (chest down), -90 = supine
    pelvis_roll = 2  # sideways lean towards the person's left
    spine_flex = 3  # forward flexion of the thorax relative to the pelvis
    neck_flex = 4
    jump = 5  # metres above the feet-on-floor height
    shift_fwd = 6  # metres along the facing direction (walking)
    shift_side = 7  # metres towards the person's left
    anchor_left = 8  # 0..1: which foot holds its place forwards (0.5 = both; lunges pick one)
    l_hip_flex, l_hip_abd, l_knee = 9, 10, 11
    r_hip_flex, r_hip_abd, r_knee = 12, 13, 14
    l_elev, l_plane, l_rot, l_elbow, l_supination = 15, 16, 17, 18, 19
    r_elev, r_plane, r_rot, r_elbow, r_supination = 20, 21, 22, 23, 24


CHANNELS: tuple[str, ...] = tuple(
    sorted((k for k, v in vars(C).items() if isinstance(v, int)), key=lambda k: getattr(C, k))
)
assert [getattr(C, k) for k in CHANNELS] == list(range(len(CHANNELS))), (
    "channel indices must be 0..P-1"
)
N_CHANNELS = len(CHANNELS)

# Human3.6M joint indices of the shared joint order ("neck" is the neck/nose joint).
HIP, L_HIP, L_KNEE, L_FOOT, R_HIP, R_KNEE, R_FOOT, SPINE, THORAX, NOSE, HEAD = (
    H36M_JOINTS.index(name)
    for name in ("hip", "l_hip", "l_knee", "l_foot", "r_hip", "r_knee", "r_foot", "spine", "thorax", "neck", "head")
)  # fmt: skip
R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST = (
    H36M_JOINTS.index(name)
    for name in ("r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist")
)

_FOOT_SOFTMIN_M = 0.02  # width of the soft minimum over the two feet


@dataclass(frozen=True)
class Body:
    """Segment lengths in metres (anthropometric fractions of height, jittered per person)."""

    height: float
    hip_half_width: float
    thigh: float
    shank: float
    ankle_height: float
    lower_spine: float
    upper_spine: float
    shoulder_half_width: float
    shoulder_drop: float
    upper_arm: float
    forearm: float
    nose_up: float
    nose_fwd: float
    head_up: float

    @classmethod
    def from_height(cls, height: float, rng: np.random.Generator | None = None) -> Body:
        fractions = {
            "hip_half_width": 0.055, "thigh": 0.245, "shank": 0.246, "ankle_height": 0.039,
            "lower_spine": 0.13, "upper_spine": 0.158, "shoulder_half_width": 0.105,
            "shoulder_drop": 0.012, "upper_arm": 0.186, "forearm": 0.146,
            "nose_up": 0.10, "nose_fwd": 0.045, "head_up": 0.07,
        }  # fmt: skip
        jitter = (lambda: 1.0 + 0.03 * rng.standard_normal()) if rng is not None else (lambda: 1.0)
        return cls(height=height, **{k: f * height * jitter() for k, f in fractions.items()})

    @property
    def arm(self) -> float:
        return self.upper_arm + self.forearm

    @property
    def ankle_to_shoulder(self) -> float:
        """Length of a straight body (plank) from the ankles to the shoulders."""
        return self.thigh + self.shank + self.lower_spine + self.upper_spine - self.shoulder_drop


def _to_world(local: Array, L: Array, U: Array, F: Array) -> Array:
    """Body-frame coordinates (T, 3) as (L, U, F) components -> world vectors (T, 3)."""
    return local[:, :1] * L + local[:, 1:2] * U + local[:, 2:3] * F


def _leg_local(flex: Array, abd: Array, knee: Array, side: float) -> tuple[Array, Array]:
    """Thigh and shank unit directions in the pelvis frame (knee flexion bends the shank backwards)."""

    def direction(elev: Array) -> Array:
        return np.stack(
            [side * np.sin(abd), -np.cos(abd) * np.cos(elev), np.cos(abd) * np.sin(elev)], axis=-1
        )

    return direction(flex), direction(flex - knee)


def _arm_local(elev: Array, plane: Array, rot: Array, elbow: Array) -> tuple[Array, Array]:
    """Upper-arm and forearm unit directions of a LEFT arm in the thorax frame (L, U, F).

    The upper arm is elevated by ``elev`` from hanging in the vertical plane at ``plane`` from the
    side. The forearm bends by ``elbow`` towards n: the body's forward axis carried along by that
    elevation (so a hanging arm curls forwards and an overhead arm bends behind the head), turned
    about the upper arm by the humeral rotation.
    """
    st, ct, sp, cp = np.sin(elev), np.cos(elev), np.sin(plane), np.cos(plane)
    upper = np.stack([st * cp, -ct, st * sp], axis=-1)
    # F rotated about unit((-U) x h) by elev, h = (cos plane, 0, sin plane) (Rodrigues, expanded).
    n0 = np.stack([-sp * cp * (1 - ct), sp * st, ct + cp * cp * (1 - ct)], axis=-1)
    # Turn n0 about the upper arm by -rot (n0 ⟂ upper, so Rodrigues loses its last term).
    n = n0 * np.cos(rot)[:, None] - np.cross(upper, n0) * np.sin(rot)[:, None]
    fore = upper * np.cos(elbow)[:, None] + n * np.sin(elbow)[:, None]
    return upper, fore


def _softmin(a: Array, b: Array, width: float) -> Array:
    lo = np.minimum(a, b)
    return lo - width * np.log(np.exp((lo - a) / width) + np.exp((lo - b) / width))


def joints_from_channels(p: Array, body: Body, station: Array, floor_y: float) -> Array:
    """Human3.6M joints (T, 17, 3) in metres in the pose frame from posture channels (T, P).

    ``station`` is where the person stands (x, z of the root when the feet are under it) and
    ``floor_y`` the floor's height in the pose frame (positive: below the camera).
    """
    rad = np.deg2rad
    t_len = p.shape[0]
    yaw = rad(p[:, C.yaw])
    up = np.tile([0.0, -1.0, 0.0], (t_len, 1))
    F0 = np.stack([-np.sin(yaw), np.zeros(t_len), -np.cos(yaw)], axis=-1)
    L0 = np.cross(up, F0)

    def pitched(L: Array, U: Array, F: Array, angle: Array) -> tuple[Array, Array, Array]:
        c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
        return L, c * U + s * F, c * F - s * U

    pitch, roll = rad(p[:, C.pelvis_pitch]), rad(p[:, C.pelvis_roll])
    Lp, Up, Fp = pitched(L0, up, F0, pitch)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    Lp, Up = c * Lp - s * Up, c * Up + s * Lp
    spine = rad(p[:, C.spine_flex])
    _, Um, _ = pitched(Lp, Up, Fp, 0.5 * spine)  # mid-spine
    Lt, Ut, Ft = pitched(Lp, Up, Fp, spine)

    joints = np.empty((t_len, len(H36M_JOINTS), 3))
    # Legs relative to the root first: they decide where the root is.
    feet = []
    for side, (hip_j, knee_j, foot_j), prefix in (
        (1.0, (L_HIP, L_KNEE, L_FOOT), "l"),
        (-1.0, (R_HIP, R_KNEE, R_FOOT), "r"),
    ):
        ch = {k: rad(p[:, getattr(C, f"{prefix}_{k}")]) for k in ("hip_flex", "hip_abd", "knee")}
        thigh, shank = _leg_local(ch["hip_flex"], ch["hip_abd"], ch["knee"], side)
        joints[:, hip_j] = side * body.hip_half_width * Lp
        joints[:, knee_j] = joints[:, hip_j] + body.thigh * _to_world(thigh, Lp, Up, Fp)
        joints[:, foot_j] = joints[:, knee_j] + body.shank * _to_world(shank, Lp, Up, Fp)
        feet.append(joints[:, foot_j])
    joints[:, HIP] = 0.0

    foot_up = [-f[:, 1] for f in feet]
    root_up = body.ankle_height - _softmin(foot_up[0], foot_up[1], _FOOT_SOFTMIN_M) + p[:, C.jump]
    anchor = p[:, C.anchor_left][:, None]
    fwd_of = [np.sum(f * F0, axis=1, keepdims=True) for f in feet]
    side_of = [np.sum(f * L0, axis=1, keepdims=True) for f in feet]
    feet_fwd = anchor * fwd_of[0] + (1 - anchor) * fwd_of[1]
    feet_side = 0.5 * (side_of[0] + side_of[1])
    root = (
        np.array([station[0], floor_y, station[1]])
        + root_up[:, None] * up
        + (p[:, C.shift_fwd : C.shift_fwd + 1] - feet_fwd) * F0
        + (p[:, C.shift_side : C.shift_side + 1] - feet_side) * L0
    )
    joints[:, :7] += root[:, None, :]

    joints[:, SPINE] = root + body.lower_spine * Um
    joints[:, THORAX] = joints[:, SPINE] + body.upper_spine * Ut
    neck = rad(p[:, C.neck_flex])[:, None]
    head_up = np.cos(neck) * Ut + np.sin(neck) * Ft
    head_fwd = np.cos(neck) * Ft - np.sin(neck) * Ut
    joints[:, NOSE] = joints[:, THORAX] + body.nose_up * head_up + body.nose_fwd * head_fwd
    joints[:, HEAD] = joints[:, NOSE] + body.head_up * head_up - 0.4 * body.nose_fwd * head_fwd

    for side, (sh_j, el_j, wr_j), prefix in (
        (1.0, (L_SHOULDER, L_ELBOW, L_WRIST), "l"),
        (-1.0, (R_SHOULDER, R_ELBOW, R_WRIST), "r"),
    ):
        ch = {k: rad(p[:, getattr(C, f"{prefix}_{k}")]) for k in ("elev", "plane", "rot", "elbow")}
        upper, fore = _arm_local(ch["elev"], ch["plane"], ch["rot"], ch["elbow"])
        upper[:, 0] *= side  # the right arm is the left arm's mirror image
        fore[:, 0] *= side
        joints[:, sh_j] = (
            joints[:, THORAX] + side * body.shoulder_half_width * Lt - body.shoulder_drop * Ut
        )
        joints[:, el_j] = joints[:, sh_j] + body.upper_arm * _to_world(upper, Lt, Ut, Ft)
        joints[:, wr_j] = joints[:, el_j] + body.forearm * _to_world(fore, Lt, Ut, Ft)
    return joints

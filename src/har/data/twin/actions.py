"""Short single actions (UTD-MHAD's 27, reused for NTU) performed by the twin's kinematic skeleton.

An action is a few KEY postures on the action's own clock ``w`` (0 -> 1), written as values of
named posture channels (``skeleton_motion.C``, degrees or metres; the prefix ``b_`` means both
sides; ``yaw`` is relative to the way the person faces), starting from the person's relaxed
standing posture, plus optional OSCILLATIONS (waves, claps, punches, steps) that
fade in and out with the middle keys. A channel a key does not name keeps its previous key's
value; the action starts and ends standing unless its first/last key sits at w = 0 / w = 1
(sit to stand starts seated). Keys are blended with a smooth step, so joint angles have no kinks
(a kink would be an acceleration spike at the wrist). ``Motion``/``Style`` come from the MM-Fit
twin's motion library, so bodies, tempo and arm placement vary per person the same way.

``kinect_joints`` turns the twin's Human3.6M joints into a Kinect layout (v1: UTD, v2: NTU).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from har.data.twin import skeleton as sk
from har.data.twin.exercises import Motion, smootherstep, standing
from har.data.twin.skeleton import Array, C

Key = tuple[float, dict[str, float]]
# (channel, amplitude, cycles over the held part, phase in turns, kind): "swing" is ±amplitude,
# "pump" goes 0 -> amplitude -> 0 once per cycle.
Oscillation = tuple[str, float, float, float, str]

_ARM_UP = {"r_elev": 90.0, "r_plane": 90.0, "r_elbow": 15.0}
_SIT = {"b_hip_flex": 90.0, "b_knee": 95.0, "pelvis_pitch": 5.0, "b_elev": 10.0, "b_plane": 70.0}
_STAND_UP_LEAN = {"pelvis_pitch": 40.0, "b_hip_flex": 85.0, "b_knee": 80.0}
_LEGS_STRAIGHT = {"b_hip_flex": 0.0, "b_knee": 3.0, "pelvis_pitch": 0.0}

# action id (UTD-MHAD numbering) -> (seconds at tempo 1, keys, oscillations)
ACTIONS: dict[int, tuple[float, list[Key], list[Oscillation]]] = {
    1: (3.0, [(0.3, {"r_elev": 90, "r_plane": 5, "r_elbow": 15}), (0.7, {"r_plane": 125})], []),
    2: (3.0, [(0.3, {"r_elev": 90, "r_plane": 125, "r_elbow": 20}), (0.7, {"r_plane": 5})], []),
    3: (3.4, [(0.25, {"r_elev": 125, "r_plane": 20, "r_elbow": 75}), (0.75, {})], [("r_rot", 35, 4, 0, "swing")]),
    4: (3.2, [(0.25, {"b_elev": 75, "b_plane": 90, "b_elbow": 35}), (0.75, {})], [("b_plane", 15, 4, 0.25, "swing")]),
    5: (2.8, [(0.4, {"r_elev": 160, "r_plane": -10, "r_elbow": 100, "r_rot": 60}),
              (0.6, {"r_elev": 70, "r_plane": 90, "r_elbow": 10, "r_rot": 0})], []),
    6: (3.0, [(0.35, {"b_elev": 45, "b_plane": 120, "b_elbow": 115}), (0.65, {})], []),
    7: (3.0, [(0.35, {"b_elev": 55, "b_plane": 80, "b_elbow": 125, "b_hip_flex": 30, "b_knee": 35, "pelvis_pitch": 10}),
              (0.6, {"b_elev": 165, "b_elbow": 10, "b_hip_flex": 0, "b_knee": 3, "pelvis_pitch": 0})], []),
    8: (3.6, [(0.2, {"r_elev": 120, "r_plane": 40, "r_elbow": 15}), (0.4, {"r_elev": 60, "r_plane": 110}),
              (0.5, {"r_elev": 120}), (0.7, {"r_elev": 60, "r_plane": 40})], []),
    9: (3.6, [(0.25, _ARM_UP), (0.75, {})], [("r_elev", 25, 2, 0, "swing"), ("r_plane", 25, 2, 0.25, "swing")]),
    10: (3.6, [(0.25, _ARM_UP), (0.75, {})], [("r_elev", 25, 2, 0, "swing"), ("r_plane", 25, 2, 0.75, "swing")]),
    11: (3.6, [(0.2, {"r_elev": 125, "r_plane": 70, "r_elbow": 15}), (0.4, {"r_elev": 70, "r_plane": 100}),
               (0.6, {"r_plane": 40}), (0.8, {"r_elev": 125, "r_plane": 70})], []),
    12: (3.4, [(0.3, {"r_elev": 60, "r_plane": -80, "r_elbow": 10, "pelvis_pitch": 25, "l_hip_flex": 40, "l_knee": 50, "r_knee": 20}),
               (0.6, {"r_elev": 80, "r_plane": 95, "pelvis_pitch": 30}), (0.75, {"r_elev": 100, "pelvis_pitch": 10})], []),
    13: (3.5, [(0.2, {"b_elev": 70, "b_plane": 85, "b_elbow": 120}), (0.8, {})],
         [("r_elbow", -55, 3, 0, "pump"), ("l_elbow", -55, 3, 0.5, "pump"), ("r_elev", 15, 3, 0, "pump"), ("l_elev", 15, 3, 0.5, "pump")]),
    14: (3.0, [(0.35, {"b_elev": 80, "b_plane": -20, "b_elbow": 90, "yaw": -35}),
               (0.6, {"b_plane": 130, "b_elbow": 30, "yaw": 35}), (0.75, {"b_elev": 60, "yaw": 20})], []),
    15: (3.0, [(0.35, {"r_elev": 70, "r_plane": -40, "r_elbow": 30, "yaw": -30}), (0.6, {"r_elev": 80, "r_plane": 120, "r_elbow": 20, "yaw": 30})], []),
    16: (3.4, [(0.15, {"b_elev": 8}), (0.85, {})], [("b_elbow", 115, 2, 0, "pump"), ("b_supination", 60, 2, 0, "pump")]),
    17: (3.2, [(0.3, {"r_elev": 165, "r_plane": 30, "r_elbow": 130, "r_rot": -40, "l_elev": 150}),
               (0.55, {"r_elev": 170, "r_plane": 60, "r_elbow": 10, "r_rot": 0, "l_elev": 40}), (0.75, {"r_elev": 50, "r_plane": 110, "r_elbow": 20})], []),
    18: (3.2, [(0.2, {"b_elev": 70, "b_plane": 85, "b_elbow": 120}), (0.8, {})], [("b_elbow", -100, 2, 0, "pump")]),
    19: (3.0, [(0.25, {"r_elev": 75, "r_plane": 80, "r_elbow": 95}), (0.75, {})], [("r_elbow", 12, 3, 0, "swing"), ("r_rot", 15, 3, 0, "swing")]),
    20: (2.8, [(0.35, {"r_elev": 115, "r_plane": 60, "r_elbow": 20}), (0.6, {"r_elev": 45, "r_plane": 90, "r_elbow": 120}), (0.75, {"r_elev": 40})], []),
    21: (3.8, [(0.3, {"pelvis_pitch": 65, "b_hip_flex": 70, "b_knee": 60, "r_elev": 70, "r_plane": 90, "r_elbow": 10}),
               (0.5, {**_LEGS_STRAIGHT, "r_elev": 160, "r_plane": 0, "r_elbow": 100}), (0.7, {"r_elev": 70, "r_plane": 90, "r_elbow": 10})], []),
    22: (5.0, [(0.1, {"b_elbow": 90, "b_elev": 15, "b_plane": 85}), (0.9, {})],
         [("l_hip_flex", 55, 6, 0, "pump"), ("r_hip_flex", 55, 6, 0.5, "pump"), ("l_knee", 80, 6, 0, "pump"), ("r_knee", 80, 6, 0.5, "pump"),
          ("jump", 0.05, 12, 0, "pump"), ("l_elev", 25, 6, 0, "swing"), ("r_elev", 25, 6, 0.5, "swing")]),
    23: (5.0, [(0.1, {"b_elbow": 25}), (0.9, {})],
         [("l_hip_flex", 35, 4, 0, "pump"), ("r_hip_flex", 35, 4, 0.5, "pump"), ("l_knee", 50, 4, 0, "pump"), ("r_knee", 50, 4, 0.5, "pump"),
          ("l_elev", 15, 4, 0, "swing"), ("r_elev", 15, 4, 0.5, "swing")]),
    24: (3.6, [(0.0, _SIT), (0.2, _SIT), (0.45, _STAND_UP_LEAN), (0.75, {**_LEGS_STRAIGHT, "b_elev": 6, "b_plane": 30})], []),
    25: (3.6, [(0.25, {**_LEGS_STRAIGHT, "b_elev": 6, "b_plane": 30}), (0.55, _STAND_UP_LEAN), (0.8, _SIT), (1.0, _SIT)], []),
    26: (3.5, [(0.5, {"l_hip_flex": 85, "l_knee": 95, "r_hip_flex": -15, "r_knee": 75, "anchor_left": 0.0, "pelvis_pitch": 6})], []),
    27: (3.5, [(0.2, {"b_elev": 88, "b_plane": 88, "b_elbow": 8}), (0.5, {"pelvis_pitch": 38, "b_hip_flex": 120, "b_knee": 115}),
               (0.8, _LEGS_STRAIGHT)], []),
}  # fmt: skip
LEAD_S = 0.35  # still posture at each end of a clip (UTD clips start and end at rest)


def _channels(name: str) -> list[int]:
    if name.startswith("b_"):
        return [getattr(C, f"l_{name[2:]}"), getattr(C, f"r_{name[2:]}")]
    return [getattr(C, name)]


def perform(action: int, m: Motion, amplitude: float = 1.0) -> Array:
    """Posture channels (T, P) at ``m.t`` (seconds from the clip's start) for one action."""
    _, keys, oscillations = ACTIONS[action]
    base = standing(m)
    duration = float(m.t[-1] - m.t[0]) if len(m.t) > 1 else 1.0
    w = np.clip((m.t - m.t[0] - LEAD_S) / max(duration - 2 * LEAD_S, 1e-3), 0.0, 1.0)
    rest = base[0]
    if keys[0][0] > 0.0:
        keys = [(0.0, {}), *keys]
    # Postures at each key, carried forward channel by channel.
    postures, current = [], rest.copy()
    for _, values in keys:
        current = current.copy()
        for name, value in values.items():
            current[_channels(name)] = value + (rest[C.yaw] if name == "yaw" else 0.0)
        postures.append(current)
    if keys[-1][0] < 1.0:
        keys, postures = [*keys, (1.0, {})], [*postures, rest.copy()]
    times = np.array([k for k, _ in keys])
    # Interpolate key postures with a smooth step between each pair of neighbouring keys.
    segment = np.clip(np.searchsorted(times, w, side="right") - 1, 0, len(times) - 2)
    local = smootherstep((w - times[segment]) / np.maximum(np.diff(times)[segment], 1e-9))
    stacked = np.stack(postures)
    out = stacked[segment] + (stacked[segment + 1] - stacked[segment]) * local[:, None]
    out = rest + amplitude * (out - rest)
    # Which foot keeps its place is one choice per action (switching it mid-way moves the body).
    anchors = [values["anchor_left"] for _, values in keys if "anchor_left" in values]
    out[:, C.anchor_left] = anchors[0] if anchors else rest[C.anchor_left]
    if oscillations:
        inner = times[1:-1] if len(times) > 2 else times
        held = smootherstep((w - inner[0]) / 0.08) * (
            1 - smootherstep((w - inner[-1] + 0.08) / 0.08)
        )
        span = max(inner[-1] - inner[0], 1e-3)
        u = np.clip((w - inner[0]) / span, 0.0, 1.0)
        for name, amp, cycles, phase, kind in oscillations:
            angle = 2 * np.pi * (cycles * u + phase)
            wave = np.sin(angle) if kind == "swing" else 0.5 - 0.5 * np.cos(2 * np.pi * cycles * u)
            out[:, _channels(name)] += (amplitude * amp * held * wave)[:, None]
    return out


def action_duration(action: int, tempo: float) -> float:
    return ACTIONS[action][0] * tempo


# ---- Kinect layouts from the twin's Human3.6M joints ---------------------------------------
_H36M_DIRECT = {
    "head": sk.HEAD, "shoulder_centre": sk.THORAX, "spine_shoulder": sk.THORAX, "spine": sk.SPINE,
    "spine_mid": sk.SPINE, "hip_centre": sk.HIP, "spine_base": sk.HIP,
    "l_shoulder": sk.L_SHOULDER, "l_elbow": sk.L_ELBOW, "l_wrist": sk.L_WRIST,
    "r_shoulder": sk.R_SHOULDER, "r_elbow": sk.R_ELBOW, "r_wrist": sk.R_WRIST,
    "l_hip": sk.L_HIP, "l_knee": sk.L_KNEE, "l_ankle": sk.L_FOOT,
    "r_hip": sk.R_HIP, "r_knee": sk.R_KNEE, "r_ankle": sk.R_FOOT,
}  # fmt: skip


def _unit(v: Array) -> Array:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def kinect_joints(h36m: Array, names: Sequence[str]) -> Array:
    """(T, len(names), 3) Kinect joints (pose frame, metres) placed on the twin's skeleton.

    Joints Human3.6M lacks are put where a Kinect puts them: hands, hand tips and thumbs along the
    forearm, feet in front of the ankles, the neck between the thorax and the nose.
    """
    out = np.empty((h36m.shape[0], len(names), 3))
    up = _unit(h36m[:, sk.THORAX] - h36m[:, sk.HIP])
    forward = _unit(np.cross(h36m[:, sk.L_HIP] - h36m[:, sk.R_HIP], up))
    for k, name in enumerate(names):
        if name in _H36M_DIRECT:
            out[:, k] = h36m[:, _H36M_DIRECT[name]]
        elif name == "neck":
            out[:, k] = h36m[:, sk.THORAX] + 0.5 * (h36m[:, sk.NOSE] - h36m[:, sk.THORAX])
        elif name.endswith("_foot"):
            ankle = h36m[:, sk.L_FOOT if name[0] == "l" else sk.R_FOOT]
            out[:, k] = ankle + 0.10 * forward - 0.03 * up
        else:  # hand, hand_tip, thumb
            side = name[0]
            elbow = h36m[:, sk.L_ELBOW if side == "l" else sk.R_ELBOW]
            wrist = h36m[:, sk.L_WRIST if side == "l" else sk.R_WRIST]
            along = _unit(wrist - elbow)
            reach = {"hand": 0.07, "hand_tip": 0.15, "thumb": 0.05}[name[2:]]
            out[:, k] = wrist + reach * along
            if name.endswith("thumb"):
                out[:, k] += 0.03 * _unit(np.cross(along, up))
    return out

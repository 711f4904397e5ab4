"""The twin's motion library: each MM-Fit exercise (and rest) as posture-channel time series.

Every motion is a function of a ``Motion`` context — sample times, the rep phase (0..1 within each
rep, 0 in the lead-in/out, where the exercise's start posture is held), per-rep amplitude, and the
person's ``Style`` — returning (T, P) channels for ``skeleton_motion.joints_from_channels``.
Angles in degrees. A person's style (tempo, range of motion, arm placement, grip) is drawn once per
participant, so the same person moves alike in every workout and held-out people differ from the
training ones within the same continuous ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from har.data.twin.skeleton import N_CHANNELS, Array, Body, C

# Nominal seconds per rep (scaled by the person's tempo and jittered per rep).
BASE_PERIOD_S: dict[str, float] = {
    "squats": 2.6, "lunges": 2.6, "bicep_curls": 2.3, "situps": 2.8, "pushups": 2.2,
    "tricep_extensions": 2.5, "dumbbell_rows": 2.4, "jumping_jacks": 1.6,
    "dumbbell_shoulder_press": 2.5, "lateral_shoulder_raises": 2.7,
}  # fmt: skip
LYING = frozenset({"situps", "pushups"})


@dataclass(frozen=True)
class Style:
    """How one participant moves (drawn once per participant)."""

    body: Body
    tempo: float  # multiplies every rep period
    down_fraction: float  # share of a rep spent going "out" (eccentric) vs coming back
    amplitude: dict[str, float]  # range of motion per exercise
    face_yaw: float  # standing orientation towards the camera
    lie_yaw: float  # lying exercises are done side-on to the camera
    elbow_rest: float
    arm_plane: float  # offset of the arms' plane (more sideways / more forwards)
    stance: float  # hip abduction standing
    slouch: float
    lean: float  # extra forward trunk lean in bent-over/squat postures
    curl_supination: float
    press_plane: float
    situp_reach: float  # 0 = arms crossed on the chest, 1 = reaching to the knees
    jump_height: float
    mount_roll_deg: tuple[float, float]  # watch mounting roll (left, right) about the forearm

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Style:
        height = rng.uniform(1.55, 1.95)
        return cls(
            body=Body.from_height(height, rng),
            tempo=rng.uniform(0.82, 1.2),
            down_fraction=rng.uniform(0.42, 0.6),
            amplitude={name: rng.uniform(0.85, 1.08) for name in BASE_PERIOD_S},
            face_yaw=rng.normal(0.0, 8.0),
            lie_yaw=rng.choice([-90.0, 90.0]) + rng.normal(0.0, 8.0),
            elbow_rest=rng.uniform(8.0, 20.0),
            arm_plane=rng.uniform(-10.0, 10.0),
            stance=rng.uniform(3.0, 9.0),
            slouch=rng.uniform(0.0, 8.0),
            lean=rng.uniform(-8.0, 8.0),
            curl_supination=rng.uniform(40.0, 85.0),
            press_plane=rng.uniform(10.0, 35.0),
            situp_reach=rng.uniform(0.0, 1.0),
            jump_height=rng.uniform(0.04, 0.09),
            mount_roll_deg=(rng.uniform(-20.0, 20.0), rng.uniform(-20.0, 20.0)),
        )


@dataclass
class Motion:
    """What a motion function sees for one segment."""

    t: Array  # (T,) seconds
    phase: Array  # (T,) 0..1 within the current rep; 0 outside the reps
    rep: Array  # (T,) int rep index (0 outside/first)
    amp: Array  # (T,) range-of-motion factor for the current rep
    style: Style
    rng: np.random.Generator

    @property
    def stroke(self) -> Array:
        """0 -> 1 -> 0 over a rep, the way out taking ``down_fraction`` of it (smooth, C1)."""
        d = self.style.down_fraction
        warped = np.where(
            self.phase < d, 0.5 * self.phase / d, 0.5 + 0.5 * (self.phase - d) / (1 - d)
        )
        return 0.5 - 0.5 * np.cos(2 * np.pi * warped)


def smootherstep(x: Array) -> Array:
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10)


def pulse(x: Array, rise: tuple[float, float], fall: tuple[float, float]) -> Array:
    """Smooth 0 -> 1 over ``rise`` and back to 0 over ``fall`` (same units as x)."""
    up = smootherstep((x - rise[0]) / (rise[1] - rise[0]))
    down = smootherstep((x - fall[0]) / (fall[1] - fall[0]))
    return up * (1 - down)


def _soft_clip(x: Array, lo: float, hi: float, width: float) -> Array:
    """Clip without kinks (a kink in a joint angle is an acceleration spike at the wrist)."""
    x = lo + width * np.logaddexp(0.0, (x - lo) / width)
    return hi - width * np.logaddexp(0.0, (hi - x) / width)


def standing(m: Motion) -> Array:
    """The person's relaxed standing posture, tiled over the segment."""
    s = m.style
    p = np.zeros((len(m.t), N_CHANNELS))
    p[:, C.yaw] = s.face_yaw
    p[:, C.spine_flex] = s.slouch
    p[:, C.anchor_left] = 0.5
    for side in ("l", "r"):
        p[:, getattr(C, f"{side}_hip_abd")] = s.stance
        p[:, getattr(C, f"{side}_knee")] = 3.0
        p[:, getattr(C, f"{side}_elev")] = 6.0
        p[:, getattr(C, f"{side}_plane")] = 30.0 + s.arm_plane
        p[:, getattr(C, f"{side}_elbow")] = s.elbow_rest
    return p


def set_arms(p: Array, **channels: Array | float) -> None:
    """Assign the same arm channels to both arms (``elev=...``, ``elbow=...``)."""
    for name, value in channels.items():
        p[:, getattr(C, f"l_{name}")] = value
        p[:, getattr(C, f"r_{name}")] = value


def set_legs(p: Array, **channels: Array | float) -> None:
    for name, value in channels.items():
        p[:, getattr(C, f"l_{name}")] = value
        p[:, getattr(C, f"r_{name}")] = value


def squats(m: Motion) -> Array:
    p, s, a = standing(m), m.stroke, m.amp
    p[:, C.pelvis_pitch] = (38 + m.style.lean) * a * s
    p[:, C.spine_flex] += 8 * a * s
    set_legs(p, hip_flex=125 * a * s, knee=3 + 112 * a * s, hip_abd=m.style.stance + 8)
    # Arms held out in front, palms facing each other (thumbs up), rising less as the trunk leans.
    set_arms(p, elev=88 - 20 * s, plane=88 + 0.5 * m.style.arm_plane, elbow=8, supination=-10)
    return p


def lunges(m: Motion) -> Array:
    p, s, a = standing(m), m.stroke, m.amp
    left_front = m.rep % 2 == 0
    front_hip, front_knee = 85 * a * s, 3 + 92 * a * s**0.8
    back_hip, back_knee = -15 * a * s, 3 + 72 * a * s**1.2
    p[:, C.l_hip_flex] = np.where(left_front, front_hip, back_hip)
    p[:, C.l_knee] = np.where(left_front, front_knee, back_knee)
    p[:, C.r_hip_flex] = np.where(left_front, back_hip, front_hip)
    p[:, C.r_knee] = np.where(left_front, back_knee, front_knee)
    p[:, C.anchor_left] = np.where(left_front, 0.0, 1.0)  # the back foot stays put
    p[:, C.pelvis_pitch] = 6 * s
    # Dumbbells held at the sides; the arms drift forwards and the elbows give as the body drops.
    set_arms(p, elev=6 + 16 * s, elbow=m.style.elbow_rest + 15 * s)
    return p


def bicep_curls(m: Motion) -> Array:
    p, s, a, st = standing(m), m.stroke, m.amp, m.style
    set_arms(
        p,
        elev=5 + 14 * s,
        plane=80 + st.arm_plane,
        elbow=st.elbow_rest + (138 - st.elbow_rest) * np.minimum(a, 1.0) * s,
        supination=st.curl_supination * s,
    )
    return p


def situps(m: Motion) -> Array:
    p, s, a, st = standing(m), m.stroke, m.amp, m.style
    p[:, C.yaw] = st.lie_yaw
    p[:, C.pelvis_pitch] = -90 + 12 * a * s
    p[:, C.spine_flex] = 68 * a * s
    p[:, C.neck_flex] = 15 + 20 * s
    set_legs(p, hip_flex=50, knee=100, hip_abd=8)
    r = st.situp_reach
    set_arms(
        p,
        elev=(1 - r) * 22 + r * (55 + 25 * s),
        plane=(1 - r) * 112 + r * 88,
        elbow=(1 - r) * 130 + r * 12,
        supination=(1 - r) * -20,
    )
    return p


def pushups(m: Motion) -> Array:
    """A rigid plank pivoting on the toes; the hands stay on the floor (arm angles by 2-link IK)."""
    p, s, a, st = standing(m), m.stroke, m.amp, m.style
    b = st.body
    p[:, C.yaw] = st.lie_yaw
    set_legs(p, hip_flex=0, knee=3, hip_abd=5)
    p[:, C.spine_flex] = 0
    wrist_h, length = 0.04, b.ankle_to_shoulder
    top_h = wrist_h + 0.97 * b.arm
    low_h = 0.15 + 0.1 * (1 - np.minimum(a, 1.0))
    h = top_h - (top_h - low_h) * s
    incline = np.arcsin((h - b.ankle_height) / length)
    top_incline = np.arcsin((top_h - b.ankle_height) / length)
    p[:, C.pelvis_pitch] = 90 - np.rad2deg(incline)
    # Wrist relative to the shoulder in the (towards head, up) plane, then in the trunk's U/F axes.
    # The hands sit a little towards the feet (under the chest), as in a real push-up.
    rel_x = length * np.cos(top_incline) - 0.05 - length * np.cos(incline)
    rel_y = wrist_h - h
    along_u = rel_x * np.cos(incline) + rel_y * np.sin(incline)
    along_f = rel_x * np.sin(incline) - rel_y * np.cos(incline)
    elev_wrist = np.arctan2(along_f, -along_u)
    dist = _soft_clip(np.hypot(along_u, along_f), 0.3 * b.arm, 0.985 * b.arm, 0.01)
    cos_inner = (b.upper_arm**2 + b.forearm**2 - dist**2) / (2 * b.upper_arm * b.forearm)
    elbow = np.pi - np.arccos(np.clip(cos_inner, -1.0, 1.0))
    offset = np.arctan2(b.forearm * np.sin(elbow), b.upper_arm + b.forearm * np.cos(elbow))
    set_arms(
        p, elev=np.rad2deg(elev_wrist - offset), plane=90, elbow=np.rad2deg(elbow), supination=-80
    )
    return p


def tricep_extensions(m: Motion) -> Array:
    p, s, a, st = standing(m), m.stroke, m.amp, m.style
    set_arms(
        p, elev=163 + 0.5 * st.arm_plane, plane=85, rot=-15, elbow=22 + 108 * a * s, supination=15
    )
    return p


def dumbbell_rows(m: Motion) -> Array:
    p, s, a, st = standing(m), m.stroke, m.amp, m.style
    lean = 45 + st.lean
    p[:, C.pelvis_pitch] = lean
    p[:, C.spine_flex] = 20
    set_legs(p, hip_flex=lean + 20, knee=40)
    trunk = lean + 20
    # The elbow drives up and back; the forearm swings from hanging to slightly behind vertical.
    set_arms(p, elev=trunk + 3 - 72 * a * s, plane=82 + st.arm_plane, elbow=10 + 92 * a * s)
    return p


def jumping_jacks(m: Motion) -> Array:
    p, ph, a, st = standing(m), m.phase, m.amp, m.style
    legs = pulse(ph, (0.15, 0.35), (0.65, 0.85))
    arms = pulse(ph, (0.02, 0.48), (0.52, 0.98))
    # Two hops per rep (out, in); the power > 1 keeps take-off and landing sharp but finite.
    hop = np.abs(np.sin(2 * np.pi * ph))
    p[:, C.jump] = st.jump_height * a * hop**1.5
    set_legs(p, hip_abd=st.stance + 18 * a * legs, knee=4 + 10 * hop)
    set_arms(
        p,
        elev=10 + 148 * a * arms,
        plane=5 + 0.5 * st.arm_plane,
        elbow=14 + 10 * arms,
        supination=30 * arms,
    )
    return p


def dumbbell_shoulder_press(m: Motion) -> Array:
    p, s, a, st = standing(m), m.stroke, m.amp, m.style
    set_arms(
        p, elev=88 + 76 * a * s, plane=st.press_plane, rot=90, elbow=98 - 82 * a * s, supination=50
    )
    return p


def lateral_shoulder_raises(m: Motion) -> Array:
    p, s, a, st = standing(m), m.stroke, m.amp, m.style
    set_arms(p, elev=8 + 80 * a * s, plane=18 + st.arm_plane, elbow=st.elbow_rest, supination=-10)
    return p


EXERCISES: dict[str, Callable[[Motion], Array]] = {
    "squats": squats,
    "lunges": lunges,
    "bicep_curls": bicep_curls,
    "situps": situps,
    "pushups": pushups,
    "tricep_extensions": tricep_extensions,
    "dumbbell_rows": dumbbell_rows,
    "jumping_jacks": jumping_jacks,
    "dumbbell_shoulder_press": dumbbell_shoulder_press,
    "lateral_shoulder_raises": lateral_shoulder_raises,
}


def resting(
    m: Motion, lying_with: str | None, event: str | None, event_span: tuple[float, float]
) -> Array:
    """non_activity: relaxed posture with sway, plus at most one everyday movement in ``event_span``.

    Between two sets of the same lying exercise the person stays down (its start posture).
    """
    # Phase is 0 in a rest, so a lying exercise gives its start posture.
    p = EXERCISES[lying_with](m) if lying_with is not None else standing(m)
    t = m.t
    phases = m.rng.uniform(0, 2 * np.pi, 4)
    p[:, C.pelvis_roll] += 1.5 * np.sin(2 * np.pi * 0.21 * t + phases[0])
    p[:, C.pelvis_pitch] += 1.0 * np.sin(2 * np.pi * 0.13 * t + phases[1])
    p[:, C.l_elev] += 3.0 * np.sin(2 * np.pi * 0.31 * t + phases[2])
    p[:, C.r_elev] += 3.0 * np.sin(2 * np.pi * 0.27 * t + phases[3])
    if event is None or lying_with is not None:
        return p
    t0, t1 = event_span
    u = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    env = pulse(t, (t0, t0 + 0.6), (t1 - 0.6, t1))
    if event == "walk":
        distance = m.rng.choice([-1.0, 1.0]) * m.rng.uniform(0.5, 1.4)
        p[:, C.shift_fwd] += distance * (0.5 - 0.5 * np.cos(2 * np.pi * u))
        gait = np.sqrt(np.abs(np.sin(2 * np.pi * u))) * env
        step = np.sin(2 * np.pi * 0.9 * (t - t0))
        p[:, C.l_hip_flex] += 20 * gait * step
        p[:, C.r_hip_flex] -= 20 * gait * step
        p[:, C.l_knee] += 30 * gait * np.maximum(0, np.sin(2 * np.pi * 0.9 * (t - t0) + 1.6))
        p[:, C.r_knee] += 30 * gait * np.maximum(0, -np.sin(2 * np.pi * 0.9 * (t - t0) + 1.6))
        p[:, C.l_elev] -= 14 * gait * step
        p[:, C.r_elev] += 14 * gait * step
        p[:, C.jump] += 0.012 * gait * (0.5 - 0.5 * np.cos(4 * np.pi * 0.9 * (t - t0)))
        for side in ("l", "r"):
            p[:, getattr(C, f"{side}_plane")] += (60 - p[:, getattr(C, f"{side}_plane")]) * env
    elif event == "pick_up":  # bend down to pick up / put down the dumbbells
        p[:, C.pelvis_pitch] += 50 * env
        set_legs(p, hip_flex=65 * env, knee=3 + 55 * env)
        p[:, C.l_elev] += 45 * env
        p[:, C.r_elev] += 45 * env
    elif event == "arm_swing":
        swing = env * 35 * np.sin(2 * np.pi * m.rng.uniform(0.7, 1.1) * (t - t0))
        p[:, C.l_elev] += swing
        p[:, C.r_elev] -= swing
        p[:, C.l_plane] += (85 - p[:, C.l_plane]) * env
        p[:, C.r_plane] += (85 - p[:, C.r_plane]) * env
    elif event == "stretch":  # hands up overhead
        set_arms(p, elev=6 + 160 * env, elbow=m.style.elbow_rest + 10 * env)
    elif event == "drink":  # left hand to the face and back
        p[:, C.l_elev] += 35 * env
        p[:, C.l_plane] += (70 - p[:, C.l_plane]) * env
        p[:, C.l_elbow] += (135 - p[:, C.l_elbow]) * env
        p[:, C.l_supination] += 30 * env
    else:
        raise ValueError(f"unknown rest event {event!r}")
    return p


REST_EVENTS: tuple[str, ...] = ("walk", "pick_up", "arm_swing", "stretch", "drink")
REST_EVENT_WEIGHTS: tuple[float, ...] = (0.35, 0.25, 0.15, 0.1, 0.15)

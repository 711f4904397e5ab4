"""How hard the MM-Fit twin is: ``data.twin=easy|realistic|hard``, each a table of settings.

``easy`` is the twin as it was first written (and byte-for-byte what it still writes): a watch on
the wrist joint computed with ``har.physics`` (the very chain the physics baseline ports), a level
camera, 1–2 cm pose jitter, supination scripted by the exercise phase, participants who differ
little, and each IMU row carrying the NEAREST camera frame. Its numbers say little about real
MM-Fit: real_only reaches macro-F1 ≈ 0.95 and the physics baseline is right by construction.

``realistic`` (the default) adds what real recordings have; every row of its table below is a
setting that reaches the files (tests/data/test_twin_realism.py proves each):

| setting | realistic | what it does |
|---|---|---|
| sensor_model | rigid_body | the watch is a rigid body on the forearm (``twin/watch.py``), not ``har.physics`` |
| watch_offset_cm | (3.0, 2.5) | sensor this far towards the elbow / above the forearm axis (± 30 %) |
| strap_slip_cm, strap_roll_deg | 1.0, 12 | per set the strap slides along and turns about the forearm (slowly) |
| supination_share | 0.75 | the share of the hand's supination the distal forearm (the watch) turns |
| rep_supination_deg, rep_supination_gain | 15, 0.4 | per rep: a random roll offset and a random factor on the scripted supination |
| grip_deg | 20 | per set: a random grip (roll) offset |
| asymmetry | 0.25 | per person: the right arm's range differs from the left by up to this share |
| style_spread | 1.0 | wider per-person tempo, range of motion, posture (0 = easy's spread) |
| arm_gain | (0.15, 1.3) | per person and exercise: arm motion × this (lunges with still arms, ...) |
| camera_pitch_deg, camera_roll_deg | 12, 4 | camera tilt (σ): gravity is not +y in the camera frame |
| camera_distance_m, camera_height_m | (2.6, 5.0), (0.5, 1.7) | per workout |
| pose_error | monocular | per-joint error ≈ 4–5 cm MPJPE, depth × depth_factor, bone lengths per frame |
| pose_error_cm, depth_factor, bone_jitter | 1.9, 2.2, 0.05 | the error's size (see ``twin/camera.py``) |
| swaps_per_min, dropped_frames | 1.5, 0.01 | short left/right limb swaps; share of frames missing |
| frame_column | logger | a row carries the frame SHOWN when it was logged (floor), after a delay |
| watch_delay_ms, log_latency_ms | (20, 70), 8 | per-watch delivery delay; random logging latency (mean) |
| drift_ppm | 60 | per-watch clock rate error (σ) |

``hard`` is ``realistic`` with every nuisance larger (1.2–3×, median 1.5×; the same models). Each preset's full table goes into
the tree's manifest (``twin.json``), and a tree is reused only for the same table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from har.errors import ConfigError


@dataclass(frozen=True)
class TwinPreset:
    name: str = "easy"
    sensor_model: str = "forearm_frame"  # forearm_frame (har.physics) | rigid_body (twin/watch.py)
    watch_offset_cm: tuple[float, float] = (0.0, 0.0)  # (towards the elbow, above the axis)
    strap_slip_cm: float = 0.0
    strap_roll_deg: float = 0.0
    supination_share: float = 1.0
    rep_supination_deg: float = 0.0
    rep_supination_gain: float = 0.0
    grip_deg: float = 0.0
    asymmetry: float = 0.0
    style_spread: float = 0.0
    arm_gain: tuple[float, float] = (1.0, 1.0)
    camera_pitch_deg: float = 0.0
    camera_roll_deg: float = 0.0
    camera_distance_m: tuple[float, float] = (3.6, 4.2)
    camera_height_m: tuple[float, float] = (0.9, 1.3)
    pose_error: str = "jitter"  # jitter (easy's 1–2 cm) | monocular (twin/camera.py)
    pose_error_cm: float = 0.0
    depth_factor: float = 1.0
    bone_jitter: float = 0.0
    swaps_per_min: float = 0.0
    dropped_frames: float = 0.0
    frame_column: str = "nearest"  # nearest (easy) | logger (floor after delay + latency)
    watch_delay_ms: tuple[float, float] = (0.0, 0.0)
    log_latency_ms: float = 0.0
    drift_ppm: float = 0.0

    def table(self) -> dict:
        """The settings as plain JSON values (what the manifest records and compares)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }


EASY = TwinPreset()
REALISTIC = TwinPreset(
    name="realistic",
    sensor_model="rigid_body",
    watch_offset_cm=(3.0, 2.5),
    strap_slip_cm=1.0,
    strap_roll_deg=12.0,
    supination_share=0.75,
    rep_supination_deg=15.0,
    rep_supination_gain=0.4,
    grip_deg=20.0,
    asymmetry=0.25,
    style_spread=1.0,
    arm_gain=(0.15, 1.3),
    camera_pitch_deg=12.0,
    camera_roll_deg=4.0,
    camera_distance_m=(2.6, 5.0),
    camera_height_m=(0.5, 1.7),
    pose_error="monocular",
    pose_error_cm=1.9,
    depth_factor=2.2,
    bone_jitter=0.05,
    swaps_per_min=1.5,
    dropped_frames=0.01,
    frame_column="logger",
    watch_delay_ms=(20.0, 70.0),
    log_latency_ms=8.0,
    drift_ppm=60.0,
)
HARD = dataclasses.replace(
    REALISTIC,
    name="hard",
    watch_offset_cm=(4.0, 3.0),
    strap_slip_cm=1.5,
    strap_roll_deg=18.0,
    rep_supination_deg=22.0,
    rep_supination_gain=0.6,
    grip_deg=30.0,
    asymmetry=0.35,
    style_spread=1.5,
    arm_gain=(0.05, 1.4),
    camera_pitch_deg=18.0,
    camera_roll_deg=6.0,
    pose_error_cm=2.7,
    bone_jitter=0.075,
    swaps_per_min=3.0,
    dropped_frames=0.03,
    watch_delay_ms=(20.0, 110.0),
    log_latency_ms=12.0,
    drift_ppm=90.0,
)
PRESETS: dict[str, TwinPreset] = {p.name: p for p in (EASY, REALISTIC, HARD)}


def preset(name: str) -> TwinPreset:
    if name not in PRESETS:
        raise ConfigError(f"data.twin={name!r} is unknown: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]

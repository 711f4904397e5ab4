"""How much the twin's people and reps differ: the variation ``realistic`` adds on top of ``easy``.

- ``spread_style``: a participant's tempo, rhythm, range of motion and posture drawn from wider
  ranges (``style_spread``), so unseen participants are genuinely harder;
- ``arm_gains`` / ``modulate_arms``: per person and exercise the arms move more or less (``arm_gain``:
  lunges or squats with nearly still arms for some, swinging ones for others) and the right arm's
  range differs from the left's (``asymmetry``);
- ``WatchRoll``: the watch's roll about the forearm per set (grip, the strap turning) and per rep
  (a random supination offset and a random factor on the scripted supination), so the roll is NOT a
  function of the exercise's phase; and the strap sliding along the forearm per set.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from har.data.twin.exercises import BASE_PERIOD_S, Style
from har.data.twin.presets import TwinPreset
from har.data.twin.skeleton import C
from har.data.twin.workout_timeline import Segment
from har.physics import lowpass

Array = np.ndarray
# Exercises where the arms only come along (a person may keep them nearly still).
ARMS_INCIDENTAL = frozenset({"squats", "lunges", "situps"})
_ARM_CHANNELS = ("elev", "plane", "rot", "elbow")
_NO_ARM_CHANGE = frozenset({"pushups"})  # the hands stay on the floor (set by inverse kinematics)


def spread_style(style: Style, rng: np.random.Generator, spread: float) -> Style:
    """``style`` with its person-level settings drawn ``spread`` × wider (0: unchanged)."""
    if spread <= 0:
        return style
    return dataclasses.replace(
        style,
        tempo=float(np.clip(style.tempo * np.exp(rng.normal(0.0, 0.18 * spread)), 0.6, 1.7)),
        down_fraction=float(np.clip(style.down_fraction + rng.normal(0, 0.06 * spread), 0.3, 0.7)),
        amplitude={
            name: a * rng.uniform(1.0 - 0.3 * spread, 1.0 + 0.08 * spread)
            for name, a in style.amplitude.items()
        },
        face_yaw=style.face_yaw + rng.normal(0.0, 15.0 * spread),
        elbow_rest=style.elbow_rest + rng.uniform(-5.0, 15.0) * spread,
        arm_plane=style.arm_plane + rng.normal(0.0, 10.0 * spread),
        stance=style.stance + rng.uniform(0.0, 6.0) * spread,
        slouch=style.slouch + rng.uniform(0.0, 10.0) * spread,
        lean=style.lean + rng.normal(0.0, 8.0 * spread),
        curl_supination=style.curl_supination + rng.normal(0.0, 20.0 * spread),
        press_plane=style.press_plane + rng.normal(0.0, 10.0 * spread),
        jump_height=style.jump_height * rng.uniform(1.0 - 0.4 * spread, 1.0 + 0.4 * spread),
    )


def arm_gains(rng: np.random.Generator, preset: TwinPreset) -> dict[str, tuple[float, float]]:
    """Per exercise, this person's (left, right) arm range-of-motion factors."""
    asym = rng.uniform(-preset.asymmetry, preset.asymmetry)
    gains = {}
    for name in BASE_PERIOD_S:
        lo, hi = preset.arm_gain if name in ARMS_INCIDENTAL else (0.85, 1.15)
        g = rng.uniform(lo, hi) if hi > lo else lo
        gains[name] = (g * (1.0 - 0.5 * asym), g * (1.0 + 0.5 * asym))
    return gains


def modulate_arms(
    channels: Array, segments: list[Segment], t: Array, gains: dict[str, tuple[float, float]]
) -> Array:
    """Scale the arms' motion about their slow posture by each set's gain (faded across sets)."""
    fs = 1.0 / (t[1] - t[0])
    out = channels.copy()
    for side, k in (("l", 0), ("r", 1)):
        gain = np.ones(len(t))
        for seg in segments:
            if seg.activity in gains and seg.activity not in _NO_ARM_CHANGE:
                gain[(t >= seg.start) & (t < seg.end)] = gains[seg.activity][k]
        gain = lowpass(gain, fs, 0.5)
        for name in _ARM_CHANNELS:
            c = getattr(C, f"{side}_{name}")
            base = lowpass(channels[:, c], fs, 0.2)
            out[:, c] = base + gain * (channels[:, c] - base)
    return out


class WatchRoll:
    """Per-set and per-rep roll and strap position of one watch (drawn from its own stream)."""

    def __init__(
        self, segments: list[Segment], t: Array, preset: TwinPreset, rng: np.random.Generator
    ):
        sets = [s for s in segments if s.activity != "non_activity"]
        knots = np.array([s.start for s in sets] + [t[-1]])
        strap, slip = np.zeros(len(knots)), np.zeros(len(knots))
        for k in range(1, len(knots)):  # a random walk that the wearer keeps re-centring
            strap[k] = 0.6 * strap[k - 1] + rng.normal(0.0, preset.strap_roll_deg)
            slip[k] = 0.6 * slip[k - 1] + rng.normal(0.0, preset.strap_slip_cm / 100.0)
        self.strap_deg = np.interp(t, knots, strap)
        self.slip_m = np.interp(t, knots, slip)
        grip = np.zeros(len(t))
        rep_t, rep_offset, rep_gain = [0.0], [0.0], [1.0]
        for seg in sets:
            grip[(t >= seg.start) & (t < seg.end)] = rng.normal(0.0, preset.grip_deg)
            bounds = seg.reps_start + np.concatenate([[0.0], np.cumsum(seg.periods)])
            rep_t += [seg.start, *(0.5 * (bounds[:-1] + bounds[1:])), seg.end]
            n = len(seg.periods)
            rep_offset += [0.0, *rng.normal(0.0, preset.rep_supination_deg, n), 0.0]
            rep_gain += [1.0, *(1.0 + rng.normal(0.0, preset.rep_supination_gain, n)), 1.0]
        fs = 1.0 / (t[1] - t[0])
        self.grip_deg = lowpass(grip, fs, 0.5)
        self.rep_offset_deg = np.interp(t, rep_t, rep_offset)
        self.rep_gain = np.interp(t, rep_t, rep_gain)

    def roll_deg(self, supination: Array, side: str, mount_deg: float, share: float) -> Array:
        """Roll of the watch about the forearm; supination mirrors between the arms."""
        sign = -1.0 if side == "l" else 1.0
        hand = self.rep_gain * supination + self.rep_offset_deg
        return mount_deg + self.strap_deg + self.grip_deg + sign * share * hand

    def offset_m(self, offset_cm: tuple[float, float], rng: np.random.Generator) -> Array:
        """(T, 2): the sensor's place towards the elbow and above the axis (per watch ± 30 %)."""
        along, above = (0.01 * c * rng.uniform(0.7, 1.3) for c in offset_cm)
        return np.column_stack(
            [np.maximum(along + self.slip_m, 0.0), np.full(len(self.slip_m), above)]
        )

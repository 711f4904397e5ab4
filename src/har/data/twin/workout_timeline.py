"""A twin workout's timeline: 10 exercises × 3 sets with rests, rendered to posture channels.

``plan_workout`` lays the sets and rests out on the clock (exercise order, reps, per-rep tempo and
range, rest lengths and everyday movements during rests); ``render_channels`` turns the plan into
(T, P) channels, cross-fading neighbouring segments so posture changes take 1–2.5 s like real ones.
Each exercise segment is: lead-in (start posture held; the fade from the previous posture happens
here), the reps, lead-out. The label covers the reps only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from har.data.twin.exercises import (
    BASE_PERIOD_S,
    EXERCISES,
    LYING,
    REST_EVENT_WEIGHTS,
    REST_EVENTS,
    Motion,
    Style,
    resting,
    smootherstep,
)
from har.data.twin.skeleton import N_CHANNELS, Array

SETS_PER_EXERCISE = 3
MAX_ACTIVE_SHARE = 0.6  # at most this share of the recording is reps (the rest is non_activity)
LEAD_S, LYING_LEAD_S = 0.9, 1.4
BLEND_S, LYING_BLEND_S = 1.4, 2.4
FIRST_REST_S = 3.0  # the recording opens with the person standing still
EVENT_MIN_REST_S = 5.0


@dataclass
class Segment:
    activity: str  # exercise name or "non_activity"
    start: float
    end: float
    lead: float = 0.0
    periods: Array = field(default_factory=lambda: np.zeros(0))
    amps: Array = field(default_factory=lambda: np.zeros(0))
    lying_with: str | None = None  # a rest between two sets of the same lying exercise
    event: str | None = None
    event_span: tuple[float, float] = (0.0, 0.0)
    blend_in: float = 0.0
    blend_out: float = 0.0

    @property
    def reps_start(self) -> float:
        return self.start + self.lead

    @property
    def reps_end(self) -> float:
        return self.reps_start + float(self.periods.sum())


def plan_workout(style: Style, duration_s: float, rng: np.random.Generator) -> list[Segment]:
    """Segments covering [0, duration_s] exactly: rest, set, rest, set, ..., rest.

    Short recordings keep all 30 sets: when the natural minimum (one rep per set, short rests) does
    not fit, every duration is compressed by the same factor (faster motion, but the same layout).
    """
    names = list(BASE_PERIOD_S)
    order = [names[i] for i in rng.permutation(len(names))]
    sets = [name for name in order for _ in range(SETS_PER_EXERCISE)]
    n_sets = len(sets)
    slot = duration_s / n_sets  # one set and one rest

    leads = np.array([LYING_LEAD_S if s in LYING else LEAD_S for s in sets])
    nominal = np.array([BASE_PERIOD_S[s] * style.tempo for s in sets]) * np.exp(
        rng.normal(0, 0.05, n_sets)
    )
    # Reps fill what the set's share of the slot leaves after its lead-in/out and a short rest.
    for_reps = np.minimum(slot - 2 * leads - 2.0, MAX_ACTIVE_SHARE * slot)
    reps = np.maximum(1, np.round(for_reps / nominal)).astype(int)
    periods = [p * np.exp(rng.normal(0, 0.08, n)) for p, n in zip(nominal, reps, strict=True)]
    amps = [
        style.amplitude[s] * (1 + 0.05 * rng.standard_normal(n))
        for s, n in zip(sets, reps, strict=True)
    ]

    # Rests: before the first set, between sets, after the last one.
    lying_with = [None] + [a if a == b and a in LYING else None for a, b in pairwise(sets)] + [None]
    # Cross-fade at each set's start and end (getting down to / up from the floor is slower).
    blend_in = np.array([_blend(s, lying_with[i]) for i, s in enumerate(sets)])
    blend_out = np.array([_blend(s, lying_with[i + 1]) for i, s in enumerate(sets)])
    around_rest = np.concatenate([[0.0], blend_out]) + np.concatenate([blend_in, [0.0]])
    min_rest = np.maximum(0.5 * around_rest + 0.4, 1.6)
    set_lengths = 2 * leads + np.array([p.sum() for p in periods])
    quiet_start = min(FIRST_REST_S, 0.1 * duration_s)  # never squeezed: a still reference
    needed = set_lengths.sum() + min_rest.sum()
    squeeze = min(1.0, (duration_s - quiet_start) / (needed * 1.05))
    leads, min_rest = leads * squeeze, min_rest * squeeze
    min_rest[0] += quiet_start
    blend_in, blend_out = blend_in * squeeze, blend_out * squeeze
    periods = [p * squeeze for p in periods]
    set_lengths = set_lengths * squeeze
    spare = duration_s - set_lengths.sum() - min_rest.sum()
    # Longer rests when switching exercise than between sets of the same one.
    weight = np.array([1.0] + [1.0 if a == b else 2.5 for a, b in pairwise(sets)] + [1.0])
    rests = min_rest + spare * rng.dirichlet(4 * weight)

    segments: list[Segment] = []
    clock = 0.0
    for i in range(n_sets + 1):
        rest = Segment("non_activity", clock, clock + rests[i], lying_with=lying_with[i])
        segments.append(rest)
        clock = rest.end
        if i < n_sets:
            segments.append(
                Segment(
                    sets[i],
                    clock,
                    clock + set_lengths[i],
                    leads[i],
                    periods[i],
                    amps[i],
                    blend_in=blend_in[i],
                    blend_out=blend_out[i],
                )
            )
            clock = segments[-1].end
    segments[-1].end = duration_s  # absorb rounding
    for before, after in pairwise(segments):
        if after.activity != "non_activity":
            before.blend_out = after.blend_in
        else:
            after.blend_in = before.blend_out
    for i, seg in enumerate(segments[::2]):
        if i > 0 and seg.lying_with is None:
            _maybe_add_event(seg, rng, squeeze)
    return segments


def _blend(exercise: str, rest_lying_with: str | None) -> float:
    """Cross-fade between a set and a neighbouring rest: standing up/lying down takes longer."""
    return LYING_BLEND_S if exercise in LYING and rest_lying_with is None else BLEND_S


def _maybe_add_event(rest: Segment, rng: np.random.Generator, squeeze: float) -> None:
    free_from = rest.start + 0.5 * rest.blend_in + 0.2
    free_to = rest.end - 0.5 * rest.blend_out - 0.2
    room = free_to - free_from
    if (
        rest.end - rest.start < EVENT_MIN_REST_S * squeeze
        or room < 2.0 * squeeze
        or rng.random() > 0.7
    ):
        return
    length = rng.uniform(min(2.5 * squeeze, room), min(6.0 * squeeze, room))
    start = rng.uniform(free_from, free_to - length)
    rest.event = REST_EVENTS[rng.choice(len(REST_EVENTS), p=REST_EVENT_WEIGHTS)]
    rest.event_span = (start, start + length)


def render_channels(
    segments: list[Segment], t: Array, style: Style, rng: np.random.Generator
) -> Array:
    """Posture channels (T, P) at times ``t`` (uniform grid from 0), neighbours cross-faded."""
    fs = 1.0 / (t[1] - t[0])
    out = np.zeros((len(t), N_CHANNELS))
    for seg in segments:
        lo, hi = seg.start - 0.5 * seg.blend_in, seg.end + 0.5 * seg.blend_out
        i0, i1 = max(0, int(np.ceil(lo * fs - 1e-9))), min(len(t), int(np.ceil(hi * fs - 1e-9)))
        if i1 <= i0:
            continue
        tt = t[i0:i1]
        weight = np.ones(len(tt))
        if seg.blend_in > 0:
            weight *= smootherstep((tt - lo) / seg.blend_in)
        if seg.blend_out > 0:
            weight *= 1 - smootherstep((tt - (seg.end - 0.5 * seg.blend_out)) / seg.blend_out)
        motion = _motion(seg, tt, style, rng)
        if seg.activity == "non_activity":
            channels = resting(motion, seg.lying_with, seg.event, seg.event_span)
        else:
            channels = EXERCISES[seg.activity](motion)
        out[i0:i1] += weight[:, None] * channels
    return out


def _motion(seg: Segment, tt: Array, style: Style, rng: np.random.Generator) -> Motion:
    phase, rep, amp = np.zeros(len(tt)), np.zeros(len(tt), dtype=int), np.ones(len(tt))
    if len(seg.periods):
        bounds = seg.reps_start + np.concatenate([[0.0], np.cumsum(seg.periods)])
        idx = np.searchsorted(bounds, tt, side="right") - 1
        inside = (idx >= 0) & (idx < len(seg.periods))
        k = idx[inside]
        phase[inside] = (tt[inside] - bounds[k]) / seg.periods[k]
        rep[inside] = k
        amp[inside] = seg.amps[k]
    return Motion(t=tt, phase=phase, rep=rep, amp=amp, style=style, rng=rng)

"""MM-Fit (real or the synthetic twin) as a session source: one workout = one long session."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from har.data import mmfit
from har.data.align import MAX_GAP_S, Session, align
from har.data.mmfit_format import CLASS_NAMES, H36M_JOINTS, PARTICIPANT_OF, SPLITS
from har.data.normalise import HIP, THORAX
from har.data.sources import SPLIT_NAMES, SessionRef, plain
from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class MMFitSource:
    cache_namespace = "mmfit"
    class_names = CLASS_NAMES
    joint_names = H36M_JOINTS
    torso = (HIP, THORAX)
    clips = False
    pose_only = False

    def __init__(
        self,
        data_dir: Path,
        sensor: str,
        rate_hz: float,
        synthetic: dict[str, Any] | None,
        workouts: dict[str, tuple[str, ...]],
    ) -> None:
        self.data_dir = data_dir
        self.sensor = sensor
        self.rate_hz = rate_hz
        self.synthetic = synthetic
        self.workouts = workouts
        self.skipped: dict[str, list[str]] = {}

    def prepare(self) -> None:
        if self.synthetic is not None:
            from har.data.synthetic import ensure_mmfit_twin

            ensure_mmfit_twin(self.data_dir, **self.synthetic)

    def settings(self) -> dict[str, Any]:
        # Unchanged since the first cache format, so existing cache entries stay valid.
        return {
            "reader": "mmfit",
            "sensor": self.sensor,
            "rate_hz": self.rate_hz,
            "max_gap_s": MAX_GAP_S,
        }

    def split_refs(self) -> dict[str, list[SessionRef]]:
        refs: dict[str, list[SessionRef]] = {}
        self.skipped = {split: [] for split in self.workouts}
        for split, workouts in self.workouts.items():
            refs[split] = []
            for workout in workouts:
                files = mmfit.workout_files(self.data_dir, workout, self.sensor)
                if not files.imu.is_file():
                    self.skipped[split].append(workout)
                    continue
                mmfit.require_files(files)
                refs[split].append(
                    SessionRef(workout, PARTICIPANT_OF.get(workout, -1), files.all())
                )
        if any(self.skipped.values()):
            log.warning(
                "skipped workouts without a %s file: %s",
                self.sensor,
                ", ".join(f"{w} ({split})" for split, ws in self.skipped.items() for w in ws),
            )
        for split, listed in refs.items():
            if not listed:
                raise DataError(
                    f"split {split!r} has no usable workout in {self.data_dir} (listed: {', '.join(self.workouts[split])}): "
                    f"set data.{split}_workouts or data.sensor"
                )
        return refs

    def read(self, ref: SessionRef) -> Session:
        return align(mmfit.read_workout(self.data_dir, ref.name, self.sensor), self.rate_hz)


def synthetic_settings(synthetic: Any) -> dict[str, Any] | None:
    synthetic = plain(synthetic)
    if synthetic is None:
        return None
    if not isinstance(synthetic, dict) or set(synthetic) != {"workouts", "minutes", "seed"}:
        raise ConfigError(
            f"data.synthetic={synthetic!r}: expected null or {{workouts, minutes, seed}}"
        )
    return {
        "workouts": int(synthetic["workouts"]),
        "minutes": float(synthetic["minutes"]),
        "seed": int(synthetic["seed"]),
    }


def _workout_id(value: Any) -> str:
    return f"w{value:02d}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def resolve_splits(split: str, *explicit: Sequence[Any] | None) -> dict[str, tuple[str, ...]]:
    """Workouts per split: the named split, with any explicit list taking its part's place."""
    if split not in SPLITS:
        raise ConfigError(f"data.split={split!r} is unknown: choose one of {', '.join(SPLITS)}")
    workouts = {
        name: tuple(_workout_id(w) for w in (SPLITS[split][name] if listed is None else listed))
        for name, listed in zip(SPLIT_NAMES, explicit, strict=True)
    }
    for (a, in_a), (b, in_b) in combinations(workouts.items(), 2):
        if shared := sorted(set(in_a) & set(in_b)):
            raise DataError(
                f"workouts {', '.join(shared)} are in both {a} and {b}: fix data.{a}_workouts/data.{b}_workouts"
            )
    for (a, in_a), (b, in_b) in combinations(workouts.items(), 2):
        people = {PARTICIPANT_OF.get(w, -1) for w in in_a} & {
            PARTICIPANT_OF.get(w, -1) for w in in_b
        } - {-1}
        # A test split sharing people makes the headline score not subject-independent: warn.
        # Train and val sharing people is how every published MM-Fit split is made: just note it.
        level = logging.WARNING if "test" in (a, b) else logging.INFO
        if people:
            log.log(
                level,
                "%s and %s share participants %s (only split=official_unseen has an unseen-subject test)",
                a, b, sorted(people),
            )  # fmt: skip
    return workouts

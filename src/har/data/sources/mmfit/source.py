"""MM-Fit (real or the synthetic twin) as a session source, one workout = one long session, and
its DataModule."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, ClassVar

from har.data.datamodule import SessionDataModule
from har.data.normalise import HIP, THORAX
from har.data.session import MAX_GAP_S, Session
from har.data.sources.base import (
    SPLIT_NAMES,
    GeneratedOnRequest,
    SessionRef,
    choice,
    plain,
    positive,
    stream_names,
    synthetic_settings,
)
from har.data.sources.mmfit import reader as mmfit
from har.data.sources.mmfit.align import align
from har.data.sources.mmfit.format import (
    CLASS_NAMES,
    H36M_JOINTS,
    PARTICIPANT_OF,
    SPLITS,
    WORKOUTS,
    file_name,
)
from har.data.twin.presets import PRESETS
from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass
class MMFitSource(GeneratedOnRequest):
    twin_generator: ClassVar[str] = "har.data.twin.mmfit:ensure_mmfit_twin"
    cache_namespace: ClassVar[str] = "mmfit"
    class_names: ClassVar[tuple[str, ...]] = CLASS_NAMES
    joint_names: ClassVar[tuple[str, ...] | None] = H36M_JOINTS
    torso: ClassVar[tuple[int, int]] = (HIP, THORAX)
    clips: ClassVar[bool] = False
    pose_only: ClassVar[bool] = False

    data_dir: Path
    sensors: tuple[str, ...]
    rate_hz: float
    synthetic: dict[str, Any] | None
    workouts: dict[str, tuple[str, ...]]
    pose_lag_ms: float = 0.0
    skipped: dict[str, list[str]] = field(default_factory=dict, init=False)

    def settings(self) -> dict[str, Any]:
        # Unchanged since the first cache format, so existing cache entries stay valid; a pose lag
        # is added only when set (it moves the pose, so it must key the cache).
        settings = {
            "reader": "mmfit",
            # One stream keeps the first format's value, so existing cache entries stay valid.
            "sensor": self.sensors[0] if len(self.sensors) == 1 else list(self.sensors),
            "rate_hz": self.rate_hz,
            "max_gap_s": MAX_GAP_S,
        }
        return settings | ({"pose_lag_ms": self.pose_lag_ms} if self.pose_lag_ms else {})

    def split_refs(self) -> dict[str, list[SessionRef]]:
        refs: dict[str, list[SessionRef]] = {}
        self.skipped = {split: [] for split in self.workouts}
        for split, workouts in self.workouts.items():
            refs[split] = []
            for workout in workouts:
                files = mmfit.workout_files(self.data_dir, workout, self.sensors)
                if not all(path.is_file() for path in (files.imu, *files.more_imu)):
                    self.skipped[split].append(workout)
                    continue
                mmfit.require_files(files)
                refs[split].append(
                    SessionRef(workout, PARTICIPANT_OF.get(workout, -1), files.all())
                )
        if any(self.skipped.values()):
            log.warning(
                "skipped workouts without a %s file: %s",
                " or ".join(self.sensors),
                ", ".join(f"{w} ({split})" for split, ws in self.skipped.items() for w in ws),
            )
        for split, listed in refs.items():
            if not listed:
                raise DataError(
                    f"split {split!r} has no usable workout in {self.data_dir} (listed: {', '.join(self.workouts[split])}): "
                    f"set data.{split}_workouts or data.sensors"
                )
        return refs

    def read(self, ref: SessionRef) -> Session:
        recording = mmfit.read_workout(self.data_dir, ref.name, self.sensors)
        return align(recording, self.rate_hz, pose_lag_ms=self.pose_lag_ms)


class MMFitDataModule(SessionDataModule):
    """Constructor arguments are exactly the keys of ``conf/data/mmfit.yaml`` (less ``_target_``)."""

    def __init__(
        self,
        data_dir: str | Path,
        dataset_name: str = "mm-fit",
        cache_dir: str | Path | None = None,
        synthetic: Mapping[str, Any] | None = None,
        twin: str | None = None,
        pose_lag_ms: float = 0.0,
        sensors: Sequence[str] = ("sw_l_acc",),
        regress: Sequence[str] = ("sw_l_acc",),
        imu_channels: int = 3,
        n_classes: int = len(CLASS_NAMES),
        joints: Sequence[int] = (14, 15, 16),
        root_joint: int = 0,
        sampling_rate_hz: float = 100,
        sensor_window_length: int = 256,
        stride_seconds: float = 0.2,
        batch_size: int = 64,
        num_workers: int = 0,
        split: str = "default",
        train_workouts: Sequence[str] | None = None,
        val_workouts: Sequence[str] | None = None,
        test_workouts: Sequence[str] | None = None,
        imu_subjects: Any = None,
        imu_subjects_seed: int = 0,
    ) -> None:
        del n_classes  # a claim, checked against the labels by the trial
        self.dataset_name = dataset_name  # informational
        self.sensors = stream_names(sensors, "data.sensors")
        stream_names(regress, "data.regress")  # (used by the model config: R's output streams)
        self.workouts = resolve_splits(
            split, plain(train_workouts), plain(val_workouts), plain(test_workouts)
        )
        source = MMFitSource(
            data_dir=Path(data_dir).expanduser().resolve(),
            sensors=self.sensors,
            rate_hz=positive(sampling_rate_hz, "data.sampling_rate_hz"),
            synthetic=twin_settings(synthetic, twin),
            workouts=self.workouts,
            pose_lag_ms=finite(pose_lag_ms, "data.pose_lag_ms"),
        )
        super().__init__(
            source,
            cache_dir=cache_dir,
            joints=joints,
            root_joint=root_joint,
            sensor_window_length=sensor_window_length,
            stride_seconds=stride_seconds,
            batch_size=batch_size,
            num_workers=num_workers,
            imu_channels=imu_channels,
            imu_subjects=imu_subjects,
            imu_subjects_seed=imu_subjects_seed,
        )

    # ---- participant folds (har.data.sources.base.ParticipantFolds) ----------------------------
    def participants(self) -> list[int]:
        return sorted({PARTICIPANT_OF[w] for w in self._workouts_on_disk()})

    def fold_overrides(self, test: Sequence[int], val: Sequence[int]) -> dict[str, list[Any]]:
        """All three workout lists (they replace data.split's): a participant's every workout."""
        on_disk = self._workouts_on_disk()
        held_out = {*test, *val}
        return {
            "data.train_workouts": [w for w in on_disk if PARTICIPANT_OF[w] not in held_out],
            "data.val_workouts": [w for w in on_disk if PARTICIPANT_OF[w] in val],
            "data.test_workouts": [w for w in on_disk if PARTICIPANT_OF[w] in test],
        }

    def _workouts_on_disk(self) -> list[str]:
        """The workouts (of all 21) holding every data.sensors file, after generating a twin."""
        self.source.prepare()
        root = self.source.data_dir
        found = [
            w for w in WORKOUTS if all((root / w / file_name(w, s)).is_file() for s in self.sensors)
        ]
        if not found:
            raise DataError(
                f"{root} holds no workout with every stream of data.sensors ({', '.join(self.sensors)}): "
                "set data.data_dir"
            )
        return found


def twin_settings(synthetic: Any, twin: str | None) -> dict[str, Any] | None:
    """The twin generator's settings: ``data.synthetic`` plus the preset ``data.twin``."""
    settings = synthetic_settings(synthetic, {"workouts": int, "minutes": float, "seed": int})
    if settings is None:
        return None
    # No preset named (a caller of the class itself): the generator's own default, easy.
    return settings | {"twin": choice("easy" if twin is None else twin, "data.twin", list(PRESETS))}


def finite(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key}={value!r} must be a number")
    return float(value)


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
                "%s and %s share participants %s (split=official_unseen and unseen test on unseen subjects)",
                a, b, sorted(people),
            )  # fmt: skip
    return workouts

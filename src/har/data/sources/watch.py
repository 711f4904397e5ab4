"""Smartwatch shoulder-exercise data (Burns et al. 2018, arXiv 1802.01489), read from its published
file: ``seglearn/data/watch_dataset.npy`` inside the PyPI package ``seglearn`` (BSD licence).

The file is one pickled dict (``np.load(..., allow_pickle=True).item()``; read only from the
installed package or the path given in ``data.data_dir``) holding:

    X          list of 140 arrays (n_i, 6) float64, n_i = 947..2618, sampled at 50 Hz
    X_labels   ax ay az wx wy wz: a 3-axis accelerometer and a 3-axis gyroscope, watch frame
    y          (140,) int, the exercise: index into y_labels
    y_labels   PEN ABD FEL IR ER TRAP ROW (pendulum, abduction, forward elevation, internal and
               external rotation, trapezius extension, upright row)
    subject    (140,) int 1..10, the participant: 14 recordings each (7 exercises x 2 sides)
    side       (140,) float, the exercising arm: 1 right, 0 left (kept as the session name only;
               left-arm recordings are not mirrored)

``har.data.sources.seglearn_file`` is this format's one validator: the dict's keys, types, shapes,
lengths and ranges are checked once, when the file is read (one-line DataError naming the key).

Each recording is one set of repetitions of one exercise, so it is one session whose every sample
carries that label, windowed like MM-Fit's workouts. IMU-only: no pose (``Session.pose`` has zero
joints), so the data set trains ``scenario=real_only`` and the deployed path.

Units, converted here (the framework's IMU units are m/s² and rad/s):
    acc  the file is in g (mean |a| over every sample 1.146; gravity alone would be 1.0), so it
         is multiplied by STANDARD_GRAVITY = 9.80665 m/s² per g
    gyr  the file is in rad/s already (per-axis std 1.0-2.5 over the file, peaks 29 rad/s at the
         sensor's range; deg/s would make ordinary arm motion a few degrees per second): unchanged
Rate: the file's 50 Hz is resampled linearly to ``data.sampling_rate_hz`` when that differs
(``har.data.session.resample``).

Splits are by participant (subject-disjoint): ``data.test_subjects`` and ``data.val_subjects``
name participants, ``data.train_subjects`` defaults to every other one. Leave-one-subject-out
folds set ``data.test_subjects=[k]`` and ``data.val_subjects`` to participants of the remaining
ones; ``SessionDataModule.participants()`` lists them.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from har.data.datamodule import SessionDataModule
from har.data.session import Session, resample
from har.data.sources.base import (
    SPLIT_NAMES,
    SessionRef,
    disjoint_splits,
    integers,
    plain,
    positive,
    stream_names,
)
from har.data.sources.seglearn_file import Recording, read_watch_file
from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)

FILE_NAME = "watch_dataset.npy"
FILE_RATE_HZ = 50.0
STANDARD_GRAVITY = 9.80665  # m/s² per g
# Each stream: its columns of X and the factor to the framework's units (see the module docstring).
STREAMS: dict[str, tuple[slice, float]] = {
    "acc": (slice(0, 3), STANDARD_GRAVITY),
    "gyr": (slice(3, 6), 1.0),
}
_FIX = "install seglearn (pip install seglearn) or set data.data_dir to its watch_dataset.npy"


def published_file(data_dir: str | Path | None) -> Path:
    """The file: ``data_dir`` (the .npy, or a folder holding it), else the installed seglearn's."""
    if data_dir is not None:
        path = Path(data_dir).expanduser().resolve()
        path = path / FILE_NAME if path.is_dir() else path
    else:
        spec = importlib.util.find_spec("seglearn")  # located, not imported (it imports sklearn)
        if spec is None or not spec.submodule_search_locations:
            raise DataError(f"data.data_dir is null and seglearn is not installed: {_FIX}")
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / FILE_NAME
    if not path.is_file():
        raise DataError(f"{path} does not exist: {_FIX}")
    return path


@dataclass
class WatchSource:
    cache_namespace: ClassVar[str] = "watch"
    clips: ClassVar[bool] = False
    pose_only: ClassVar[bool] = False
    joint_names: ClassVar[tuple[str, ...]] = ()  # IMU-only: no pose
    torso: ClassVar[tuple[int, int]] = (0, 0)  # unused without pose

    path: Path
    rate_hz: float
    sensors: tuple[str, ...]
    subjects: dict[str, tuple[int, ...] | None]  # split -> participants (train None: the rest)
    skipped: dict[str, list[str]] = field(default_factory=dict, init=False)
    class_names: tuple[str, ...] = field(default=(), init=False)
    _recordings: dict[str, Recording] = field(default_factory=dict, init=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.path.parent

    def prepare(self) -> None:
        pass  # the file ships with seglearn

    def settings(self) -> dict[str, Any]:
        factors = {name: STREAMS[name][1] for name in self.sensors}
        return {"reader": "watch", "format": 1, "rate_hz": self.rate_hz, "streams": factors}

    def split_refs(self) -> dict[str, list[SessionRef]]:
        self.class_names, recordings = read_watch_file(self.path)
        people = sorted({r.subject for r in recordings})
        chosen = dict(self.subjects)
        for split, listed in chosen.items():
            if listed is not None and (unknown := sorted(set(listed) - set(people))):
                raise ConfigError(
                    f"data.{split}_subjects holds {unknown}: {self.path} has participants {people}"
                )
        if chosen["train"] is None:
            held_out = set(chosen["val"] or ()) | set(chosen["test"] or ())
            chosen["train"] = tuple(p for p in people if p not in held_out)
        disjoint_splits(chosen, "participants", "subjects")
        self._recordings, self.skipped = {}, {split: [] for split in chosen}
        refs: dict[str, list[SessionRef]] = {split: [] for split in chosen}
        for i, rec in enumerate(recordings):
            name = f"s{rec.subject:02d}_{self.class_names[rec.exercise]}_{rec.side}"
            name = name if name not in self._recordings else f"{name}_{i}"
            self._recordings[name] = rec
            for split, members in chosen.items():
                if rec.subject in (members or ()):
                    refs[split].append(SessionRef(name, rec.subject, (self.path,)))
        for split, listed in refs.items():
            if not listed:
                raise DataError(
                    f"split {split!r} has no participant: set data.{split}_subjects (participants {people})"
                )
        return refs

    def read(self, ref: SessionRef) -> Session:
        rec = self._recordings[ref.name]
        imu = np.concatenate(
            [rec.samples[:, STREAMS[s][0]] * STREAMS[s][1] for s in self.sensors], axis=1
        )
        n = len(imu)
        pose = np.zeros((n, 0, 3))
        labels = np.full(n, rec.exercise, dtype=np.int64)
        valid = np.all(np.isfinite(imu), axis=1)
        if abs(self.rate_hz - FILE_RATE_HZ) > 1e-9:
            pose, imu, labels, valid = resample(
                pose, imu, labels, valid, FILE_RATE_HZ, self.rate_hz
            )
        return Session(
            workout=ref.name,
            participant=ref.subject,
            pose=pose.astype(np.float32),
            acc=imu.astype(np.float32),
            labels=labels,
            valid=valid,
            t0_ms=0.0,
            rate_hz=self.rate_hz,
            report={"samples": len(labels), "side": rec.side, "source_rate_hz": FILE_RATE_HZ},
        )


class WatchDataModule(SessionDataModule):
    """Constructor arguments are exactly the keys of ``conf/data/watch.yaml`` (less ``_target_``)."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        dataset_name: str = "watch",
        cache_dir: str | Path | None = None,
        sensors: Sequence[str] = ("acc", "gyr"),
        regress: Sequence[str] = ("acc",),
        imu_channels: int = 6,
        n_classes: int = 7,
        joints: Sequence[int] = (),
        sampling_rate_hz: float = FILE_RATE_HZ,
        sensor_window_length: int = 100,
        stride_seconds: float = 0.5,
        batch_size: int = 64,
        num_workers: int = 0,
        train_subjects: Sequence[int] | None = None,
        val_subjects: Sequence[int] | None = (8,),
        test_subjects: Sequence[int] | None = (9, 10),
    ) -> None:
        del n_classes  # a claim, checked against the file's y_labels by the trial
        self.dataset_name = dataset_name
        self.sensors = stream_names(sensors, "data.sensors", tuple(STREAMS))
        self.regress = stream_names(regress, "data.regress", tuple(STREAMS))
        if plain(joints):
            raise ConfigError("data.joints must be [] for data=watch: the data set has no pose")
        listed = (train_subjects, val_subjects, test_subjects)
        subjects = {
            split: None if value is None else integers(value, f"data.{split}_subjects")
            for split, value in zip(SPLIT_NAMES, map(plain, listed), strict=True)
        }
        if subjects["val"] is None or subjects["test"] is None:
            raise ConfigError("data.val_subjects and data.test_subjects must list participants")
        source = WatchSource(
            path=published_file(data_dir),
            rate_hz=positive(sampling_rate_hz, "data.sampling_rate_hz"),
            sensors=self.sensors,
            subjects=subjects,
        )
        super().__init__(
            source,
            cache_dir=cache_dir,
            joints=(),
            root_joint=0,
            sensor_window_length=sensor_window_length,
            stride_seconds=stride_seconds,
            batch_size=batch_size,
            num_workers=num_workers,
            imu_channels=imu_channels,
        )

    def fold_overrides(self, test: Sequence[int], val: Sequence[int]) -> dict[str, list[Any]]:
        """Participant folds (``har.data.sources.base.ParticipantFolds``): the three subject lists."""
        held_out = {*test, *val}
        train = [p for p in self.participants() if p not in held_out]
        return {
            "data.train_subjects": train,
            "data.val_subjects": list(val),
            "data.test_subjects": list(test),
        }

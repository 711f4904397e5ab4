"""Bring your own data: a documented folder layout any lab can export to, its reader, a converter.

Layout::

    <data_dir>/
      splits.json               optional: {"train": [...], "val": [...], "test": [...]}, entries are
                                subjects ("3") or single sessions ("3/morning"); data.train/val/test win
      <subject>/<session>.npz   one file per recorded session (``write_session`` writes it)

Arrays in each ``.npz``, all on ONE clock (resample pose and IMU to a common rate before export):

    pose         (T, J, 3) float  optional: joint positions, metres, in the pose frame: x right,
                                  y down, z away from the camera (a Kinect's camera space needs
                                  ``sources.kinect_to_pose_frame``); any joint layout. Absent in
                                  IMU-only data: such sessions train the real path only
                                  (scenario=real_only); a scenario that needs pose names them
    imu          (T, C) float     IMU samples (acc m/s², gyro rad/s); absent in pose-only data.
                                  Several streams may be stored as arrays of their own (e.g.
                                  ``sw_l_acc``, ``sw_l_gyr``, (T, 3) each): ``data.sensors`` lists
                                  the arrays read, concatenated in that order (default ``[imu]``)
    labels       (T,) int         class index per sample; -1 = unlabelled (windows centred there
                                  are left out)
    rate_hz      () float         sampling rate of the three arrays
    class_names  (K,) str         the same in every file
    joint_names  (J,) str         optional, the same in every file
    valid        (T,) bool        optional: False on samples no window may touch (holes)

Sessions are windowed like MM-Fit's workouts (centre-sample label, stride ``data.stride_seconds``)
after resampling to ``data.sampling_rate_hz`` if ``rate_hz`` differs (linear for pose and IMU,
nearest sample for labels). Any data set this package reads converts in one command::

    python -m har.data.sources.folder OUT_DIR data=mmfit_synth      # then: data=folder data.data_dir=OUT_DIR
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from har.data.cache import atomic_write
from har.data.datamodule import SessionDataModule
from har.data.session import Session, resample
from har.data.sources.base import (
    SPLIT_NAMES,
    SessionRef,
    integers,
    plain,
    positive,
    require_nonempty,
    stream_names,
)
from har.data.sources.session_file import (
    array_names,
    check_session_arrays,
    layout_names,
    read_session_arrays,
)
from har.errors import ConfigError, DataError, reports_user_errors

log = logging.getLogger(__name__)

SPLITS_FILE = "splits.json"


def write_session(
    root: str | Path,
    subject: str | int,
    session: str,
    *,
    labels: np.ndarray,
    rate_hz: float,
    class_names: Sequence[str],
    pose: np.ndarray | None = None,
    imu: np.ndarray | Mapping[str, np.ndarray] | None = None,
    joint_names: Sequence[str] | None = None,
    valid: np.ndarray | None = None,
) -> Path:
    """Write ``<root>/<subject>/<session>.npz`` in the documented layout (atomically).

    ``pose=None``: an IMU-only session. ``imu``: one array (stored as ``imu``) or named streams
    ({"sw_l_acc": (T, 3), ...}, each stored under its name)."""
    arrays: dict[str, Any] = {
        "labels": np.asarray(labels, dtype=np.int64),
        "rate_hz": np.float64(rate_hz),
        "class_names": np.asarray(list(class_names), dtype=str),
    }
    if pose is not None:
        arrays["pose"] = np.asarray(pose, dtype=np.float32)
    streams = {} if imu is None else imu if isinstance(imu, Mapping) else {"imu": imu}
    for name, values in streams.items():
        arrays[name] = np.asarray(values, dtype=np.float32)
    if joint_names is not None:
        arrays["joint_names"] = np.asarray(list(joint_names), dtype=str)
    if valid is not None:
        arrays["valid"] = np.asarray(valid, dtype=bool)
    check_session_arrays(arrays, f"{subject}/{session}", streams=tuple(streams))
    path = Path(root) / str(subject) / f"{session}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda out: np.savez(out, **arrays))
    return path


def export(datamodule: SessionDataModule, out_dir: str | Path) -> Path:
    """Write every session of a DataModule's splits in the folder layout, with ``splits.json``."""
    out = Path(out_dir)
    datamodule.prepare_data()  # reads (or loads from the cache) every session of every split
    splits: dict[str, list[str]] = {}
    for split, group in datamodule.sessions.items():
        splits[split] = []
        for s in group:
            name = s.workout.rsplit("/", 1)[-1]  # a folder session is named "<subject>/<session>"
            write_session(
                out, s.participant, name, pose=s.pose if s.pose.shape[1] else None,
                labels=s.labels, rate_hz=s.rate_hz, class_names=datamodule.class_names,
                imu=None if datamodule.pose_only else exported_streams(datamodule, s.acc),
                joint_names=datamodule.source.joint_names or None, valid=s.valid,
            )  # fmt: skip
            splits[split].append(f"{s.participant}/{name}")
    (out / SPLITS_FILE).write_text(json.dumps(splits, indent=2) + "\n")
    return out


def exported_streams(datamodule: SessionDataModule, acc: np.ndarray) -> np.ndarray | dict:
    """One stream is exported as ``imu`` (read by data=folder's defaults); several, each 3-axis,
    under their own names (read with ``data.sensors=[...]`` listing them)."""
    sensors = list(getattr(datamodule, "sensors", ()))
    if len(sensors) < 2 or acc.shape[1] != 3 * len(sensors):
        return acc
    return {name: acc[:, 3 * i : 3 * i + 3] for i, name in enumerate(sensors)}


@dataclass
class FolderSource:
    cache_namespace: ClassVar[str] = "folder"
    clips: ClassVar[bool] = False

    data_dir: Path
    rate_hz: float
    sensors: tuple[str, ...]  # the arrays holding IMU streams, concatenated in this order
    imu_columns: tuple[int, ...] | None
    pose_only: bool
    torso: tuple[int, int]
    splits: Mapping[str, list[str] | None]
    skipped: dict[str, list[str]] = field(default_factory=dict, init=False)
    class_names: tuple[str, ...] = field(default=(), init=False)
    joint_names: tuple[str, ...] | None = field(default=None, init=False)

    def prepare(self) -> None:
        pass  # the files are the user's

    def settings(self) -> dict[str, Any]:
        columns = None if self.imu_columns is None else list(self.imu_columns)
        return {
            "reader": "folder",
            "format": 1,
            "rate_hz": self.rate_hz,
            "imu_columns": columns,
            "pose_only": self.pose_only,
            **({} if self.sensors == ("imu",) else {"sensors": list(self.sensors)}),
        }  # (the default sensors add no key: cache entries from before data.sensors stay valid)

    def split_refs(self) -> dict[str, list[SessionRef]]:
        if not self.data_dir.is_dir():
            raise DataError(
                f"data folder {self.data_dir} does not exist: set data.data_dir (layout: har.data.sources.folder)"
            )
        files = {f"{p.parent.name}/{p.stem}": p for p in sorted(self.data_dir.glob("*/*.npz"))}
        if not files:
            raise DataError(
                f"{self.data_dir} holds no <subject>/<session>.npz file (layout: har.data.sources.folder)"
            )
        self._read_metadata(files)
        chosen = self._resolve_splits(files)
        refs: dict[str, list[SessionRef]] = {}
        for split, names in chosen.items():
            refs[split], self.skipped[split] = [], []
            for name in names:
                needed = {"pose"} if self.pose_only else set(self.sensors)
                if not needed <= set(array_names(files[name])):
                    self.skipped[split].append(name)
                    continue
                refs[split].append(SessionRef(name, name.split("/")[0], (files[name],)))
        if skipped := [n for names in self.skipped.values() for n in names]:
            wanted = "pose" if self.pose_only else " and ".join(self.sensors)
            log.warning("skipped sessions without %s: %s", wanted, ", ".join(skipped))
        require_nonempty(refs, self.data_dir, "set data.train/val/test or splits.json")
        return refs

    def _read_metadata(self, files: Mapping[str, Path]) -> None:
        """class_names (the same in every file) and the joint layout (the same in every file
        that has pose; () when none has: IMU-only data)."""
        first: dict[str, tuple[str, tuple[str, ...]]] = {}  # what -> (file, value) seen first
        for name, path in files.items():
            class_names, joint_names = layout_names(path)
            meta = {"class_names": class_names}
            if joint_names is not None:
                meta["joint_names"] = joint_names
            elif "pose" in array_names(path):
                pose = read_session_arrays(path, ("pose",))["pose"]
                if pose.ndim == 3:
                    meta["joint_names"] = tuple(f"joint_{j}" for j in range(pose.shape[1]))
            for what, value in meta.items():
                seen = first.setdefault(what, (name, value))
                if value != seen[1]:
                    raise DataError(
                        f"{path}: {what} differ from {seen[0]}'s: every file must list the same"
                    )
        self.class_names = first["class_names"][1]
        self.joint_names = first.get("joint_names", ("", ()))[1]

    def _resolve_splits(self, files: Mapping[str, Path]) -> dict[str, list[str]]:
        given = dict(self.splits)
        if any(v is None for v in given.values()):
            path = self.data_dir / SPLITS_FILE
            if not path.is_file():
                raise ConfigError(
                    f"data.train/val/test are not all set and {path} does not exist: list subjects or subject/session per split"
                )
            stored = json.loads(path.read_text())
            given = {s: given[s] if given[s] is not None else stored.get(s, []) for s in given}
        chosen, owner = {}, {}
        for split, entries in given.items():
            chosen[split] = []
            for entry in map(str, entries):
                matched = [n for n in files if n == entry or n.split("/")[0] == entry]
                if not matched:
                    raise DataError(
                        f"split {split!r} lists {entry!r}, which matches no <subject>/<session>.npz in {self.data_dir}"
                    )
                for name in matched:
                    if name in owner and owner[name] != split:
                        raise DataError(
                            f"session {name} is in both {owner[name]} and {split}: fix data.{owner[name]}/data.{split}"
                        )
                    owner[name] = split
                    chosen[split].append(name)
        return chosen

    def read(self, ref: SessionRef) -> Session:
        arrays = read_session_arrays(ref.files[0])
        check_session_arrays(arrays, ref.files[0], streams=self.sensors)
        n = len(arrays["labels"])
        # No pose (an IMU-only session): zero joints, which the DataModule reads as "no pose".
        pose = arrays.get("pose", np.zeros((n, 0, 3))).astype(np.float64)
        if self.pose_only:
            imu = np.zeros((n, 0))
        else:
            imu = np.concatenate([arrays[name] for name in self.sensors], axis=1)
        if not self.pose_only and self.imu_columns is not None:
            if max(self.imu_columns) >= imu.shape[1]:
                raise ConfigError(
                    f"data.imu_columns={list(self.imu_columns)} but {ref.files[0]} has {imu.shape[1]} IMU columns"
                )
            imu = imu[:, list(self.imu_columns)]
        labels = arrays["labels"].astype(np.int64)
        valid = arrays.get("valid", np.ones(len(labels), bool)).astype(bool)
        rate = float(arrays["rate_hz"])
        if abs(rate - self.rate_hz) > 1e-9:
            pose, imu, labels, valid = resample(
                pose, imu.astype(np.float64), labels, valid, rate, self.rate_hz
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
            report={"samples": len(labels), "source_rate_hz": rate},
        )


class FolderDataModule(SessionDataModule):
    """Constructor arguments are exactly the keys of ``conf/data/folder.yaml`` (less ``_target_``)."""

    def __init__(
        self,
        data_dir: str | Path,
        dataset_name: str = "folder",
        cache_dir: str | Path | None = None,
        sensors: Sequence[str] = ("imu",),
        regress: Sequence[str] = ("imu",),
        imu_channels: int = 3,
        imu_columns: Sequence[int] | None = None,
        pose_only: bool = False,
        n_classes: int = 11,
        joints: Sequence[int] = (14, 15, 16),
        root_joint: int = 0,
        torso_joints: Sequence[int] = (0, 8),
        sampling_rate_hz: float = 100,
        sensor_window_length: int = 256,
        stride_seconds: float = 0.2,
        batch_size: int = 64,
        num_workers: int = 0,
        train: Sequence[str | int] | None = None,
        val: Sequence[str | int] | None = None,
        test: Sequence[str | int] | None = None,
    ) -> None:
        del n_classes  # a claim, checked against the files' class_names by the trial
        self.dataset_name = dataset_name
        self.sensors = stream_names(sensors, "data.sensors")
        stream_names(regress, "data.regress")  # R's output streams (used by the model config)
        torso = integers(torso_joints, "data.torso_joints")
        if len(torso) != 2:
            raise ConfigError(f"data.torso_joints={list(torso)}: give two joints (e.g. hip, neck)")
        columns = plain(imu_columns)
        source = FolderSource(
            data_dir=Path(data_dir).expanduser().resolve(),
            rate_hz=positive(sampling_rate_hz, "data.sampling_rate_hz"),
            sensors=self.sensors,
            imu_columns=None if columns is None else integers(columns, "data.imu_columns"),
            pose_only=bool(pose_only),
            torso=(torso[0], torso[1]),
            splits={s: plain(v) for s, v in zip(SPLIT_NAMES, (train, val, test), strict=True)},
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
        )

    def participants(self) -> list[str]:  # participant folds: sources.base.ParticipantFolds
        found = sorted({p.parent.name for p in self.source.data_dir.glob("*/*.npz")})
        if not found:
            raise DataError(f"{self.source.data_dir} holds no <subject>/<session>.npz file")
        return found

    def fold_overrides(self, test: Sequence[str], val: Sequence[str]) -> dict[str, list[Any]]:
        test, val = [str(s) for s in test], [str(s) for s in val]
        train = [s for s in self.participants() if s not in {*test, *val}]
        return {"data.train": train, "data.val": val, "data.test": test}


@reports_user_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m har.data.sources.folder OUT_DIR [Hydra overrides, e.g. data=mmfit_synth]``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") or "=" in argv[0]:
        print(main.__doc__, file=sys.stderr)
        return 2
    from hydra.utils import instantiate

    from har.data.inspect import compose

    datamodule = instantiate(compose(argv[1:]).data, _recursive_=False)
    out = export(datamodule, argv[0])
    sensors = list(getattr(datamodule, "sensors", ()))
    streams = f" data.sensors=[{','.join(sensors)}]" if len(sensors) > 1 else ""
    print(
        f"{out}: {sum(len(s) for s in datamodule.sessions.values())} sessions; train with data=folder data.data_dir={out}{streams}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

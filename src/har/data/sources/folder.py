"""Bring your own data: a documented folder layout any lab can export to, its reader, a converter.

Layout::

    <data_dir>/
      splits.json               optional: {"train": [...], "val": [...], "test": [...]}, entries are
                                subjects ("3") or single sessions ("3/morning"); data.train/val/test win
      <subject>/<session>.npz   one file per recorded session (``write_session`` writes it)

Arrays in each ``.npz``, all on ONE clock (resample pose and IMU to a common rate before export):

    pose         (T, J, 3) float  joint positions, metres, in the pose frame: x right, y down,
                                  z away from the camera (a Kinect's camera space needs
                                  ``sources.kinect_to_pose_frame``); any joint layout
    imu          (T, C) float     IMU samples (acc m/s², gyro rad/s); absent in pose-only data
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
from har.data.session import Session, interpolate
from har.data.sources.base import (
    SPLIT_NAMES,
    SessionRef,
    integers,
    plain,
    positive,
    require_nonempty,
    uniform_clock,
)
from har.errors import ConfigError, DataError, reports_user_errors

log = logging.getLogger(__name__)

SPLITS_FILE = "splits.json"


def write_session(
    root: str | Path,
    subject: str | int,
    session: str,
    *,
    pose: np.ndarray,
    labels: np.ndarray,
    rate_hz: float,
    class_names: Sequence[str],
    imu: np.ndarray | None = None,
    joint_names: Sequence[str] | None = None,
    valid: np.ndarray | None = None,
) -> Path:
    """Write ``<root>/<subject>/<session>.npz`` in the documented layout (atomically)."""
    arrays: dict[str, Any] = {
        "pose": np.asarray(pose, dtype=np.float32),
        "labels": np.asarray(labels, dtype=np.int64),
        "rate_hz": np.float64(rate_hz),
        "class_names": np.asarray(list(class_names), dtype=str),
    }
    if imu is not None:
        arrays["imu"] = np.asarray(imu, dtype=np.float32)
    if joint_names is not None:
        arrays["joint_names"] = np.asarray(list(joint_names), dtype=str)
    if valid is not None:
        arrays["valid"] = np.asarray(valid, dtype=bool)
    _check_arrays(arrays, f"{subject}/{session}")
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
            write_session(
                out, s.participant, s.workout, pose=s.pose, labels=s.labels, rate_hz=s.rate_hz,
                class_names=datamodule.class_names, imu=None if datamodule.pose_only else s.acc,
                joint_names=datamodule.source.joint_names, valid=s.valid,
            )  # fmt: skip
            splits[split].append(f"{s.participant}/{s.workout}")
    (out / SPLITS_FILE).write_text(json.dumps(splits, indent=2) + "\n")
    return out


def _check_arrays(arrays: Mapping[str, np.ndarray], where: str) -> None:
    pose, labels = arrays["pose"], arrays["labels"]
    n = len(labels)
    problems = []
    if pose.ndim != 3 or pose.shape[2] != 3 or len(pose) != n:
        problems.append(f"pose has shape {pose.shape}, expected (T={n}, J, 3)")
    if labels.ndim != 1 or n < 2:
        problems.append(f"labels has shape {labels.shape}, expected (T,) with T >= 2")
    if "imu" in arrays and (arrays["imu"].ndim != 2 or len(arrays["imu"]) != n):
        problems.append(f"imu has shape {arrays['imu'].shape}, expected (T={n}, C)")
    if "valid" in arrays and arrays["valid"].shape != (n,):
        problems.append(f"valid has shape {arrays['valid'].shape}, expected ({n},)")
    if len(labels) and not (labels.min() >= -1 and labels.max() < len(arrays["class_names"])):
        problems.append(
            f"labels lie in {labels.min()}..{labels.max()}, expected -1..{len(arrays['class_names']) - 1}"
        )
    if not float(arrays["rate_hz"]) > 0:
        problems.append(f"rate_hz is {arrays['rate_hz']}")
    if problems:
        raise DataError(f"{where}: {'; '.join(problems)} (layout: har.data.sources.folder)")


@dataclass
class FolderSource:
    cache_namespace: ClassVar[str] = "folder"
    clips: ClassVar[bool] = False

    data_dir: Path
    rate_hz: float
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
        }

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
                if not self.pose_only and "imu" not in np.load(files[name]).files:
                    self.skipped[split].append(name)
                    continue
                refs[split].append(SessionRef(name, name.split("/")[0], (files[name],)))
        if skipped := [n for names in self.skipped.values() for n in names]:
            log.warning("skipped sessions without an imu array: %s", ", ".join(skipped))
        require_nonempty(refs, self.data_dir, "set data.train/val/test or splits.json")
        return refs

    def _read_metadata(self, files: Mapping[str, Path]) -> None:
        first = None
        for name, path in files.items():
            with np.load(path) as content:
                meta = (
                    tuple(str(c) for c in content["class_names"]),
                    tuple(str(j) for j in content["joint_names"]) if "joint_names" in content.files else None,
                )  # fmt: skip
            if first is None:
                first = (name, meta)
            elif meta != first[1]:
                raise DataError(
                    f"{path}: class_names/joint_names differ from {first[0]}'s: every file must list the same"
                )
        assert first is not None
        self.class_names = first[1][0]
        if first[1][1] is not None:
            self.joint_names = first[1][1]
        else:
            with np.load(files[first[0]]) as content:
                self.joint_names = tuple(f"joint_{j}" for j in range(content["pose"].shape[1]))

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
        with np.load(ref.files[0]) as content:
            arrays = {key: content[key] for key in content.files}
        _check_arrays(arrays, str(ref.files[0]))
        pose = arrays["pose"].astype(np.float64)
        imu = arrays.get("imu", np.zeros((len(pose), 0)))
        if self.pose_only:
            imu = np.zeros((len(pose), 0))
        elif self.imu_columns is not None:
            if max(self.imu_columns) >= imu.shape[1]:
                raise ConfigError(
                    f"data.imu_columns={list(self.imu_columns)} but {ref.files[0]} has {imu.shape[1]} IMU columns"
                )
            imu = imu[:, list(self.imu_columns)]
        labels = arrays["labels"].astype(np.int64)
        valid = arrays.get("valid", np.ones(len(labels), bool)).astype(bool)
        rate = float(arrays["rate_hz"])
        if abs(rate - self.rate_hz) > 1e-9:
            pose, imu, labels, valid = _resample(
                pose, imu.astype(np.float64), labels, valid, rate, self.rate_hz
            )
        valid = valid & np.all(np.isfinite(pose), axis=(1, 2)) & np.all(np.isfinite(imu), axis=1)
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


def _resample(
    pose: np.ndarray,
    imu: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    rate: float,
    target: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Everything onto ``target`` Hz: linear for signals, nearest sample for labels; a new sample
    is valid when both old samples around it are."""
    t = np.arange(len(labels)) / rate
    clock = uniform_clock(t[-1], target)
    pose_flat, _ = interpolate(clock, t, pose.reshape(len(pose), -1))
    imu_new, _ = interpolate(clock, t, imu) if imu.shape[1] else (np.zeros((len(clock), 0)), None)
    nearest = np.clip(np.rint(clock * rate).astype(np.int64), 0, len(labels) - 1)
    left = np.clip(np.floor(clock * rate).astype(np.int64), 0, len(labels) - 1)
    right = np.clip(left + 1, 0, len(labels) - 1)
    return (
        pose_flat.reshape(len(clock), -1, 3),
        imu_new,
        labels[nearest],
        valid[left] & valid[right],
    )


class FolderDataModule(SessionDataModule):
    """Constructor arguments are exactly the keys of ``conf/data/folder.yaml`` (less ``_target_``)."""

    def __init__(
        self,
        data_dir: str | Path,
        dataset_name: str = "folder",
        cache_dir: str | Path | None = None,
        sensor: str = "imu",
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
        self.dataset_name, self.sensor = dataset_name, sensor
        torso = integers(torso_joints, "data.torso_joints")
        if len(torso) != 2:
            raise ConfigError(f"data.torso_joints={list(torso)}: give two joints (e.g. hip, neck)")
        columns = plain(imu_columns)
        source = FolderSource(
            data_dir=Path(data_dir).expanduser().resolve(),
            rate_hz=positive(sampling_rate_hz, "data.sampling_rate_hz"),
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
    print(
        f"{out}: {sum(len(s) for s in datamodule.sessions.values())} sessions; train with data=folder data.data_dir={out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

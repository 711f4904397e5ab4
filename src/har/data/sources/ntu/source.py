"""NTU RGB+D 60/120 skeletons as a POSE-ONLY data set: samples, splits, source, DataModule.

Files ``SsssCcccPpppRrrrAaaa.skeleton`` (setup, camera, performer, replication, action) in the root,
in ``nturgb+d_skeletons/`` or in any folder one level deep (NTU-120 ships a second folder); their
text format and the main-body choice are ``har.data.sources.ntu.skeleton_file``'s. The published samples with
missing skeletons are skipped (lists shipped in ``har/data/sources/ntu/resources``: see ``read_sample_list``).
Joints below ``min_tracking_state`` are replaced by interpolation over time. The 30 fps frames are
resampled to ``data.sampling_rate_hz``.

Pose-only: the DataModule's batches are ``{"pose": (B, J, 3, T), "label": (B,), "mask": (B, T)}``
with NTU's own action classes; ``joints`` picks the arm that matches the target sensor (left
shoulder/elbow/wrist [4, 5, 6] for the left-wrist watch of MM-Fit, right [8, 9, 10]). It is meant
as the secondary data set of a run on paired data (see ``NTUDataModule``).
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from har.data.datamodule import SessionDataModule
from har.data.session import MAX_GAP_S, Session, interpolate
from har.data.sources.base import (
    GeneratedOnRequest,
    SessionRef,
    choice,
    integers,
    kinect_to_pose_frame,
    plain,
    positive,
    require_nonempty,
    synthetic_settings,
    uniform_clock,
)
from har.data.sources.ntu.skeleton_file import FPS, KINECT_V2_JOINTS, main_body, parse_skeleton
from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)

TORSO = (0, 20)  # spine base -> spine shoulder
SAMPLE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
EDITIONS = {"ntu60": (17, 60), "ntu120": (32, 120)}  # last setup, last action
CROSS_SUBJECT_TRAIN = {
    "ntu60": (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38),
    "ntu120": (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46,
               47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
               89, 91, 92, 93, 94, 95, 97, 98, 100, 103),
}  # fmt: skip
SPLITS = ("cross_subject", "cross_view", "cross_setup")  # view: train cameras 2, 3; setup: even


def action_names() -> tuple[str, ...]:
    text = (
        resources.files("har.data.sources.ntu")
        .joinpath("resources/ntu_action_names.txt")
        .read_text()
    )
    return tuple(line for line in text.splitlines() if line and not line.startswith("#"))


def read_sample_list(source: str | Path) -> frozenset[str]:
    """Sample names in a list file: ``ntu60``/``ntu120`` (shipped) or a path to any text file.

    Every ``SsssCcccPpppRrrrAaaa`` in the text counts; headers, comments and blank lines do not,
    so the official ``NTU_RGBD*_samples_with_missing_skeletons.txt`` can be used as it is.
    """
    if str(source) in EDITIONS:
        name = f"resources/{source}_missing_skeletons.txt"
        text = resources.files("har.data.sources.ntu").joinpath(name).read_text()
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataError(
                f"missing-skeleton list {path} does not exist: set data.missing_skeletons to ntu60, ntu120, a file or null"
            )
        text = path.read_text()
    return frozenset(match.group(0) for match in SAMPLE.finditer(text))


def sample_session(
    path: Path, label: int, rate_hz: float, min_tracking_state: int
) -> Session | None:
    """One sample's main body on the ``rate_hz`` clock, or None if it has no usable body."""
    n_frames, tracks = parse_skeleton(path)
    body = main_body(tracks)
    if body is None or len(body.frames) < 2:
        return None
    joints = body.joints.copy()
    weak = body.tracking < min_tracking_state
    for j in np.flatnonzero(weak.any(axis=0) & ~weak.all(axis=0)):  # interpolate weak joints
        good = ~weak[:, j]
        for axis in range(3):
            joints[:, j, axis] = np.interp(body.frames, body.frames[good], joints[good, j, axis])
    frame_t = body.frames / FPS
    clock = frame_t[0] + uniform_clock(frame_t[-1] - frame_t[0], rate_hz)
    flat, span = interpolate(clock, frame_t, joints.reshape(len(joints), -1))
    pose = kinect_to_pose_frame(flat.reshape(len(clock), -1, 3))
    name = SAMPLE.search(path.name).group(0)
    return Session(
        workout=name,
        participant=int(name[9:12]),
        pose=pose.astype(np.float32),
        acc=np.zeros((len(clock), 0), np.float32),
        labels=np.full(len(clock), label, dtype=np.int64),
        valid=span <= MAX_GAP_S + 1e-9,
        t0_ms=float(clock[0] * 1000.0),
        rate_hz=float(rate_hz),
        report={
            "frames": n_frames,
            "frames_with_main_body": len(body.frames),
            "bodies": len(tracks),
            "joints_below_tracking_state": int(weak.sum()),
            "samples": len(clock),
        },
    )


def find_samples(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise DataError(
            f"NTU folder {root} does not exist: set env.data_dir (or data.data_dir) to the folder "
            "holding nturgb+d_skeletons/, or use data=ntu_synth"
        )
    found: dict[str, Path] = {}
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        for path in sorted(folder.glob("*.skeleton")):
            if match := SAMPLE.fullmatch(path.stem):
                found.setdefault(match.group(0), path)
    return found


@dataclass
class NTUSource(GeneratedOnRequest):
    twin_generator: ClassVar[str] = "har.data.twin.ntu:ensure_ntu_twin"
    cache_namespace: ClassVar[str] = "ntu"
    joint_names: ClassVar[tuple[str, ...] | None] = KINECT_V2_JOINTS
    torso: ClassVar[tuple[int, int]] = TORSO
    clips: ClassVar[bool] = True
    pose_only: ClassVar[bool] = True

    data_dir: Path
    synthetic: dict[str, int] | None
    edition: str
    missing_list: str | None  # read when listing: a synthetic tree writes its own
    actions: tuple[int, ...]
    rate_hz: float
    min_tracking_state: int
    split: str
    val_subjects: tuple[int, ...]
    skipped: dict[str, list[str]] = field(default_factory=dict, init=False)
    class_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = action_names()
        self.class_names = tuple(names[a - 1] for a in self.actions)

    def settings(self) -> dict[str, Any]:
        return {
            "reader": "ntu",
            "format": 1,
            "rate_hz": self.rate_hz,
            "actions": list(self.actions),  # a sample's label is its action's position here
            "min_tracking_state": self.min_tracking_state,
        }

    def split_of(self, setup: int, camera: int, performer: int) -> str:
        if performer in self.val_subjects:
            return "val"
        if self.split == "cross_subject":
            train = performer in CROSS_SUBJECT_TRAIN[self.edition]
        elif self.split == "cross_view":
            train = camera in (2, 3)
        else:
            train = setup % 2 == 0
        return "train" if train else "test"

    def split_refs(self) -> dict[str, list[SessionRef]]:
        last_setup, _ = EDITIONS[self.edition]
        refs: dict[str, list[SessionRef]] = {"train": [], "val": [], "test": []}
        self.skipped = {split: [] for split in refs}
        missing = frozenset() if self.missing_list is None else read_sample_list(self.missing_list)
        for name, path in find_samples(self.data_dir).items():
            setup, camera, performer, _, action = map(int, SAMPLE.fullmatch(name).groups())
            if setup > last_setup or action not in self.actions:
                continue
            split = self.split_of(setup, camera, performer)
            if name in missing:
                self.skipped[split].append(name)
                continue
            label = self.actions.index(action)
            refs[split].append(SessionRef(name, performer, (path,), {"label": label}))
        log.info(
            "NTU: skipped %d samples of the missing-skeleton list",
            sum(map(len, self.skipped.values())),
        )
        require_nonempty(
            refs, self.data_dir, "check data.split, data.val_subjects and data.actions"
        )
        return refs

    def read(self, ref: SessionRef) -> Session | None:
        label = int(ref.meta["label"])
        return sample_session(ref.files[0], label, self.rate_hz, self.min_tracking_state)


class NTUDataModule(SessionDataModule):
    """Pose-only windows of NTU; constructor arguments are the keys of ``conf/data/ntu60.yaml``.

    Interface for the secondary-data scenario: build it from ``cfg.data.secondary`` (a config of
    this form, e.g. ``+data@data.secondary=ntu_synth``) with ``instantiate(..., _recursive_=False)``,
    call ``prepare_data()``/``setup()``, check ``check_pairs_with(primary_datamodule)`` (same rate
    and joint count, since the same regressor sees both) and draw ``train_dataloader()`` batches:
    ``{"pose": (B, J, 3, T) float32, "label": (B,) int64 in 0..num_classes-1, "mask": (B, T) bool}``
    with ``class_names``/``num_classes`` of its own (a separate head), no ``"acc"``.
    """

    def __init__(
        self,
        data_dir: str | Path,
        dataset_name: str = "ntu-rgbd",
        cache_dir: str | Path | None = None,
        synthetic: Mapping[str, Any] | None = None,
        edition: str = "ntu60",
        missing_skeletons: str | None = "ntu60",
        pose_only: bool = True,
        imu_channels: int = 0,
        actions: Sequence[int] | None = None,
        n_classes: int = 60,
        joints: Sequence[int] = (4, 5, 6),
        root_joint: int = 0,
        min_tracking_state: int = 1,
        sampling_rate_hz: float = 100,
        sensor_window_length: int = 256,
        clip_windows: str = "centre",
        stride_seconds: float = 0.5,
        batch_size: int = 64,
        num_workers: int = 0,
        split: str = "cross_subject",
        val_subjects: Sequence[int] = (38,),
    ) -> None:
        del n_classes, imu_channels  # claims, checked by the trial
        if not pose_only:
            raise ConfigError("data.pose_only=false: NTU RGB+D has no IMU, it is pose-only")
        self.dataset_name = dataset_name
        edition = choice(edition, "data.edition", tuple(EDITIONS))
        actions_ = plain(actions)
        chosen = (
            tuple(range(1, EDITIONS[edition][1] + 1))
            if actions_ is None
            else integers(actions_, "data.actions")
        )
        if (
            not chosen
            or not all(1 <= a <= EDITIONS[edition][1] for a in chosen)
            or len(set(chosen)) < len(chosen)
        ):
            raise ConfigError(
                f"data.actions={list(chosen)}: list distinct action ids of {edition}, or null for all"
            )
        split = choice(split, "data.split", SPLITS)
        if (split, edition) in (("cross_view", "ntu120"), ("cross_setup", "ntu60")):
            log.warning("data.split=%s is not a published protocol of %s", split, edition)
        source = NTUSource(
            data_dir=Path(data_dir).expanduser().resolve(),
            synthetic=synthetic_settings(synthetic, {"performers": int, "setups": int, "seed": int}),
            edition=edition,
            missing_list=None if missing_skeletons is None else str(missing_skeletons),
            actions=chosen,
            rate_hz=positive(sampling_rate_hz, "data.sampling_rate_hz"),
            min_tracking_state=int(min_tracking_state),
            split=split,
            val_subjects=integers(val_subjects, "data.val_subjects"),
        )  # fmt: skip
        super().__init__(
            source,
            cache_dir=cache_dir,
            joints=joints,
            root_joint=root_joint,
            sensor_window_length=sensor_window_length,
            stride_seconds=stride_seconds,
            batch_size=batch_size,
            num_workers=num_workers,
            imu_channels=0,
            clip_windows=clip_windows,
        )


def main(argv: list[str] | None = None) -> int:
    """``python -m har.data.sources.ntu.source FOLDER``: time the parsing of every .skeleton file in FOLDER."""
    parser = argparse.ArgumentParser(
        prog="python -m har.data.sources.ntu.source", description=main.__doc__
    )
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    paths = list(find_samples(args.folder).values())
    started = time.perf_counter()
    frames = sum(parse_skeleton(path)[0] for path in paths)
    elapsed = time.perf_counter() - started
    print(
        f"{len(paths)} files, {frames} frames: {elapsed:.2f} s, {1000 * elapsed / max(len(paths), 1):.2f} s per 1,000 files"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

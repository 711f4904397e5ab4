"""UTD-MHAD (Chen, Jafari, Kehtarnavaz 2015): reader, clip alignment, session source, DataModule.

Files ``a{action}_s{subject}_t{trial}_{inertial,skeleton}.mat`` (no zero padding), in ``Inertial/``
and ``Skeleton/`` folders, flat in one folder, or any mix one level deep; other modalities
(``_depth.mat``) are ignored. ``d_iner`` is (T, 6): acc x, y, z in g and gyro x, y, z (deg/s,
unverified) at 50 Hz; ``d_skel`` is (20, 3, T_s): Kinect v1 joints at about 30 fps.

Alignment: a clip's two streams start and stop together but their lengths are not exactly 50:30,
so the skeleton frames are spread evenly over the inertial clip's span (both stretched to one
common length, the data set's own convention) and both are resampled linearly to
``data.sampling_rate_hz`` (default 50 Hz: the inertial samples themselves). Units: ``units=si``
converts acc to m/s² and gyro to rad/s (like MM-Fit); ``raw`` keeps g and deg/s.

A clip is one action: its windows follow the pad-or-crop rule of ``har.data.clip_windows``.
Protocol: cross-subject, train 1 3 5 7 / test 2 4 6 8; the validation subject is taken out of the
training four (``data.val_subjects``, default 7). The wrist sensor pairs with the right shoulder,
elbow and wrist (joints 8, 9, 10) for actions 1-21 (``actions=wrist``, the default); actions 22-27
have the sensor on the right thigh (``actions=thigh`` with ``joints=[16, 17, 18]``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.io

from har.data.datamodule import SessionDataModule
from har.data.session import MAX_GAP_S, Session, interpolate
from har.data.sources.base import (
    SPLIT_NAMES,
    GeneratedOnRequest,
    SessionRef,
    choice,
    disjoint_splits,
    integers,
    kinect_to_pose_frame,
    plain,
    positive,
    require_nonempty,
    stream_names,
    synthetic_settings,
    uniform_clock,
)
from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)

ACTION_NAMES: tuple[str, ...] = (
    "right arm swipe to the left", "right arm swipe to the right", "right hand wave",
    "two hand front clap", "right arm throw", "cross arms in the chest", "basketball shoot",
    "right hand draw x", "right hand draw circle (clockwise)",
    "right hand draw circle (counter clockwise)", "draw triangle", "bowling (right hand)",
    "front boxing", "baseball swing from right", "tennis right hand forehand swing",
    "arm curl (two arms)", "tennis serve", "two hand push", "right hand knock on door",
    "right hand catch an object", "right hand pick up and throw", "jogging in place",
    "walking in place", "sit to stand", "stand to sit", "forward lunge (left foot forward)",
    "squat (two arms stretch out)",
)  # fmt: skip
ACTION_SETS: dict[str, tuple[int, ...]] = {
    "wrist": tuple(range(1, 22)),  # sensor on the right wrist
    "thigh": tuple(range(22, 28)),  # sensor on the right thigh
    "all": tuple(range(1, 28)),
}
KINECT_V1_JOINTS: tuple[str, ...] = (
    "head", "shoulder_centre", "spine", "hip_centre", "l_shoulder", "l_elbow", "l_wrist",
    "l_hand", "r_shoulder", "r_elbow", "r_wrist", "r_hand", "l_hip", "l_knee", "l_ankle",
    "l_foot", "r_hip", "r_knee", "r_ankle", "r_foot",
)  # fmt: skip
TORSO = (3, 1)  # hip centre -> shoulder centre
SUBJECTS, TRIALS = tuple(range(1, 9)), tuple(range(1, 5))
KNOWN_MISSING = frozenset({(8, 1, 4), (23, 6, 4), (27, 8, 4)})  # (action, subject, trial)
INERTIAL_HZ = 50.0
G = 9.80665
SENSOR_COLUMNS = {"acc": (0, 1, 2), "gyr": (3, 4, 5)}  # data.sensors: columns of d_iner
FILE_PATTERN = re.compile(r"^a(\d+)_s(\d+)_t(\d+)_(inertial|skeleton)\.mat$", re.IGNORECASE)
ClipId = tuple[int, int, int]


def clip_name(clip: ClipId) -> str:
    return "a{}_s{}_t{}".format(*clip)


@dataclass
class ClipFiles:
    inertial: Path | None = None
    skeleton: Path | None = None


def find_clips(root: Path) -> dict[ClipId, ClipFiles]:
    """Every clip file in ``root`` and its immediate subfolders (Inertial/, Skeleton/, ...)."""
    if not root.is_dir():
        raise DataError(
            f"UTD-MHAD folder {root} does not exist: set env.data_dir (or data.data_dir) to the "
            "folder holding Inertial/ and Skeleton/, or use data=utd_synth"
        )
    clips: dict[ClipId, ClipFiles] = {}
    folders = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    for folder in folders:
        for path in sorted(folder.glob("*.mat")):
            match = FILE_PATTERN.match(path.name)
            if match is None:
                continue
            clip: ClipId = (int(match[1]), int(match[2]), int(match[3]))
            files = clips.setdefault(clip, ClipFiles())
            modality = match[4].lower()
            if getattr(files, modality) is not None:
                raise DataError(
                    f"{clip_name(clip)} has two {modality} files, {getattr(files, modality)} and "
                    f"{path}: keep one copy of the data set under {root}"
                )
            setattr(files, modality, path)
    return clips


def read_clip(inertial: Path, skeleton: Path) -> tuple[np.ndarray, np.ndarray]:
    """``d_iner`` (T, 6) and ``d_skel`` transposed to (T_s, 20, 3), as stored (g, deg/s, metres)."""
    iner = _load_array(inertial, "d_iner")
    if iner.ndim != 2 or iner.shape[1] != 6 or iner.shape[0] < 2:
        raise DataError(
            f"{inertial}: d_iner has shape {iner.shape}, expected (T, 6) (acc xyz, gyro xyz): "
            "replace the file with the published one"
        )
    skel = _load_array(skeleton, "d_skel")
    if skel.ndim != 3 or skel.shape[:2] != (20, 3) or skel.shape[2] < 2:
        raise DataError(
            f"{skeleton}: d_skel has shape {skel.shape}, expected (20, 3, T) (Kinect v1 joints, "
            "xyz, frames): replace the file with the published one"
        )
    return iner.astype(np.float64), skel.transpose(2, 0, 1).astype(np.float64)


def _load_array(path: Path, key: str) -> np.ndarray:
    try:
        content = scipy.io.loadmat(path)
    # scipy's parser fails on damaged bytes in many ways (MatReadError, IndexError, struct and
    # zlib errors, ...): each means the file is unreadable, never a bug to show as a traceback.
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path} is not a readable .mat file ({reason}): re-download it") from None
    if key not in content:
        found = ", ".join(k for k in content if not k.startswith("__"))
        raise DataError(f"{path} holds no {key!r} (found: {found}): is it a UTD-MHAD file?")
    array = np.asarray(content[key])
    if array.dtype.kind not in "iuf":
        raise DataError(
            f"{path}: {key} holds {array.dtype}, expected real numbers: re-download the file"
        )
    return array


def align_clip(
    name: str,
    subject: int,
    label: int,
    inertial: np.ndarray,
    skeleton: np.ndarray,
    rate_hz: float,
    columns: Sequence[int],
    units: str,
) -> Session:
    """Both streams of one clip on one ``rate_hz`` clock spanning the inertial samples."""
    duration = (len(inertial) - 1) / INERTIAL_HZ
    imu = inertial[:, list(columns)]
    if units == "si":
        imu = imu * np.where(np.asarray(columns) < 3, G, np.pi / 180.0)
    # Frames where Kinect lost the body hold zeros (or NaN): leave them out and interpolate.
    seen = np.all(np.isfinite(skeleton), axis=(1, 2)) & np.any(skeleton != 0, axis=(1, 2))
    if seen.sum() < 2:
        raise DataError(f"{name}: the skeleton file has fewer than two frames with joints")
    frame_t = np.linspace(0.0, duration, len(skeleton))
    clock = uniform_clock(duration, rate_hz)
    acc, _ = interpolate(clock, np.arange(len(inertial)) / INERTIAL_HZ, imu)
    pose_flat, span = interpolate(clock, frame_t[seen], skeleton[seen].reshape(int(seen.sum()), -1))
    pose = kinect_to_pose_frame(pose_flat.reshape(len(clock), -1, 3))
    fps = (len(skeleton) - 1) / duration if duration > 0 else 0.0
    if not 15.0 <= fps <= 60.0:
        log.warning(
            "%s: %d skeleton frames over %.2f s (%.0f fps): check the pair",
            name,
            len(skeleton),
            duration,
            fps,
        )
    seen_t = frame_t[seen]
    inside = (clock >= seen_t[0] - MAX_GAP_S) & (clock <= seen_t[-1] + MAX_GAP_S)
    valid = np.all(np.isfinite(acc), axis=1) & (span <= MAX_GAP_S + 1e-9) & inside
    return Session(
        workout=name,
        participant=subject,
        pose=pose.astype(np.float32),
        acc=acc.astype(np.float32),
        labels=np.full(len(clock), label, dtype=np.int64),
        valid=valid,
        t0_ms=0.0,
        rate_hz=float(rate_hz),
        report={
            "inertial_samples": len(inertial),
            "skeleton_frames": len(skeleton),
            "skeleton_frames_without_body": int((~seen).sum()),
            "skeleton_fps_implied": round(fps, 2),
            "samples": len(clock),
        },
    )


@dataclass
class UTDSource(GeneratedOnRequest):
    twin_generator: ClassVar[str] = "har.data.twin.utd:ensure_utd_twin"
    cache_namespace: ClassVar[str] = "utd"
    joint_names: ClassVar[tuple[str, ...] | None] = KINECT_V1_JOINTS
    torso: ClassVar[tuple[int, int]] = TORSO
    clips: ClassVar[bool] = True
    pose_only: ClassVar[bool] = False

    data_dir: Path
    synthetic: dict[str, int] | None
    sensors: tuple[str, ...]
    units: str
    actions: tuple[int, ...]
    rate_hz: float
    subjects: Mapping[str, tuple[int, ...]]
    skipped: dict[str, list[str]] = field(default_factory=dict, init=False)
    class_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.class_names = tuple(ACTION_NAMES[a - 1] for a in self.actions)

    def settings(self) -> dict[str, Any]:
        return {
            "reader": "utd",
            "format": 1,
            # The first format's names, so existing cache entries stay valid.
            "sensor": "_".join(self.sensors)
            if len(self.sensors) == 1 or self.sensors == ("acc", "gyr")
            else list(self.sensors),
            "units": self.units,
            "rate_hz": self.rate_hz,
            "actions": list(self.actions),  # the label of a clip is its action's position here
        }

    def split_refs(self) -> dict[str, list[SessionRef]]:
        found = find_clips(self.data_dir)
        trials = sorted({t for _, _, t in found}) or list(TRIALS)
        refs: dict[str, list[SessionRef]] = {}
        absent: list[str] = []
        self.skipped = {}
        for split, subjects in self.subjects.items():
            refs[split], self.skipped[split] = [], []
            for action in self.actions:
                for subject in subjects:
                    for trial in trials:
                        clip = (action, subject, trial)
                        files = found.get(clip)
                        if files is None:
                            if clip not in KNOWN_MISSING:
                                absent.append(clip_name(clip))
                        elif files.inertial is None or files.skeleton is None:
                            self.skipped[split].append(clip_name(clip))
                        else:
                            refs[split].append(
                                SessionRef(
                                    clip_name(clip),
                                    subject,
                                    (files.inertial, files.skeleton),
                                    {"label": self.actions.index(action)},
                                )
                            )
        if absent:
            log.warning(
                "%d UTD-MHAD clips are absent (beyond the 3 known missing): %s",
                len(absent),
                _few(absent),
            )
        if skipped := [c for names in self.skipped.values() for c in names]:
            log.warning("skipped clips with only one of inertial/skeleton: %s", _few(skipped))
        require_nonempty(refs, self.data_dir, "check data.*_subjects, data.actions and the files")
        return refs

    def read(self, ref: SessionRef) -> Session:
        inertial, skeleton = read_clip(*ref.files)
        return align_clip(
            ref.name,
            int(ref.subject),
            int(ref.meta["label"]),
            inertial,
            skeleton,
            self.rate_hz,
            [column for name in self.sensors for column in SENSOR_COLUMNS[name]],
            self.units,
        )


def _few(names: list[str], shown: int = 12) -> str:
    return ", ".join(names[:shown]) + (f" ... ({len(names)} in all)" if len(names) > shown else "")


def resolve_actions(actions: Any) -> tuple[int, ...]:
    actions = plain(actions)
    if isinstance(actions, str):
        return ACTION_SETS[choice(actions, "data.actions", tuple(ACTION_SETS))]
    chosen = integers(actions, "data.actions")
    if (
        not chosen
        or not all(1 <= a <= len(ACTION_NAMES) for a in chosen)
        or len(set(chosen)) < len(chosen)
    ):
        raise ConfigError(
            f"data.actions={list(chosen)}: list distinct action ids 1..27, or wrist/thigh/all"
        )
    return chosen


class UTDDataModule(SessionDataModule):
    """Constructor arguments are exactly the keys of ``conf/data/utd.yaml`` (less ``_target_``)."""

    def __init__(
        self,
        data_dir: str | Path,
        dataset_name: str = "utd-mhad",
        cache_dir: str | Path | None = None,
        synthetic: Mapping[str, Any] | None = None,
        sensors: Sequence[str] = ("acc",),
        regress: Sequence[str] = ("acc",),
        units: str = "si",
        imu_channels: int = 3,
        actions: str | Sequence[int] = "wrist",
        n_classes: int = 21,
        joints: Sequence[int] = (8, 9, 10),
        root_joint: int = 3,
        sampling_rate_hz: float = INERTIAL_HZ,
        sensor_window_length: int = 100,
        clip_windows: str = "centre",
        stride_seconds: float = 0.5,
        batch_size: int = 32,
        num_workers: int = 0,
        train_subjects: Sequence[int] = (1, 3, 5),
        val_subjects: Sequence[int] = (7,),
        test_subjects: Sequence[int] = (2, 4, 6, 8),
    ) -> None:
        del n_classes  # a claim, checked against the selected actions by the trial
        self.dataset_name = dataset_name
        self.sensors = stream_names(sensors, "data.sensors", tuple(SENSOR_COLUMNS))
        stream_names(regress, "data.regress", tuple(SENSOR_COLUMNS))  # R's output (model config)
        subjects = {
            split: integers(listed, f"data.{split}_subjects")
            for split, listed in zip(SPLIT_NAMES, (train_subjects, val_subjects, test_subjects), strict=True)
        }  # fmt: skip
        disjoint_splits(subjects, "subjects", "subjects")
        actions_ = resolve_actions(actions)
        if set(actions_) & set(ACTION_SETS["thigh"]) and list(plain(joints)) == [8, 9, 10]:
            log.warning(
                "data.actions include thigh-sensor actions (22-27) but data.joints are the right arm's: consider joints=[16, 17, 18]"
            )
        source = UTDSource(
            data_dir=Path(data_dir).expanduser().resolve(),
            synthetic=synthetic_settings(synthetic, {"subjects": int, "trials": int, "seed": int}),
            sensors=self.sensors,
            units=choice(units, "data.units", ("si", "raw")),
            actions=actions_,
            rate_hz=positive(sampling_rate_hz, "data.sampling_rate_hz"),
            subjects=subjects,
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
            clip_windows=clip_windows,
        )

"""Write tiny MM-Fit-format workouts with chosen content, for the data tests.

Both streams run on their OWN clocks, as in the published data: pose at ``fps`` with absolute frame
numbers from ``first_frame`` and no timestamps; IMU rows at a jittered ``imu_hz`` with millisecond
timestamps shifted by ``clock_offset_ms``, each row carrying the number of the frame nearest to it.
``pose_fn(t)`` and ``acc_fn(t)`` give the content at true time ``t`` (seconds from frame
``first_frame``), so a test knows the exact signal at every IMU millisecond:
``t = (timestamp_ms - clock_offset_ms) / 1000``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har.data.sources.mmfit.format import file_name

# A standing Human3.6M skeleton in millimetres (y up); torso hip(0)->thorax(8) is 500 mm long.
STANDING_MM = np.array(
    [
        [0, 900, 0], [-100, 900, 0], [-100, 500, 0], [-100, 80, 0], [100, 900, 0], [100, 500, 0],
        [100, 80, 0], [0, 1150, 0], [0, 1400, 0], [0, 1500, 0], [0, 1600, 0], [180, 1400, 0],
        [200, 1130, 0], [210, 880, 0], [-180, 1400, 0], [-200, 1130, 0], [-210, 880, 0],
    ],
    dtype=np.float64,
)  # fmt: skip
TORSO_MM = 500.0


def still_pose(t: np.ndarray) -> np.ndarray:
    return np.broadcast_to(STANDING_MM, (len(t), 17, 3)).copy()


def gravity_acc(t: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [
            np.sin(2 * np.pi * 0.5 * t),
            np.cos(2 * np.pi * 0.3 * t),
            9.81 + 0.3 * np.sin(2 * np.pi * 0.2 * t),
        ]
    )


@dataclass
class Written:
    """What was written, so a test can alter an array and save it again."""

    folder: Path
    pose_path: Path
    imu_path: Path
    labels_path: Path
    pose: np.ndarray  # (3, F, 18) as stored
    imu: np.ndarray  # (N, 5) as stored
    first_frame: int
    fps: float
    clock_offset_ms: float

    def frame_ms(self, frame: float) -> float:
        """True IMU-clock time of a video frame."""
        return (frame - self.first_frame) / self.fps * 1000.0 + self.clock_offset_ms


def write_workout(
    root: Path,
    workout: str = "w01",
    *,
    seconds: float = 8.0,
    fps: float = 30.0,
    first_frame: int = 1234,
    imu_hz: float = 103.0,
    jitter_ms: float = 2.0,
    clock_offset_ms: float = 1.6e12,
    imu_lead_s: float = 0.0,
    pose_fn: Callable[[np.ndarray], np.ndarray] = still_pose,
    acc_fn: Callable[[np.ndarray], np.ndarray] = gravity_acc,
    segments: Sequence[tuple] = (),
    sensor: str = "sw_l_acc",
    seed: int = 0,
) -> Written:
    """Write ``<root>/<workout>/`` with pose_3d, one IMU stream and labels; ``segments`` are CSV rows.

    ``imu_lead_s`` starts the IMU that long before the video (and stops it as long after), as the
    watches do, so the uniform clock is limited by the pose span.
    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / workout
    folder.mkdir(parents=True, exist_ok=True)

    frames = first_frame + np.arange(int(seconds * fps) + 1)
    frame_t = (frames - first_frame) / fps
    pose_xyz = pose_fn(frame_t)  # (F, 17, 3)
    pose = np.empty((3, len(frames), 18))
    pose[:, :, 0] = frames
    pose[:, :, 1:] = pose_xyz.transpose(2, 0, 1)

    t = np.arange(-imu_lead_s, seconds + imu_lead_s, 1.0 / imu_hz)
    t = np.sort(t + rng.uniform(-jitter_ms, jitter_ms, len(t)) / 1000.0)
    imu = np.column_stack(
        [first_frame + np.round(t * fps), t * 1000.0 + clock_offset_ms, acc_fn(t)]
    )

    written = Written(
        folder=folder,
        pose_path=folder / file_name(workout, "pose_3d"),
        imu_path=folder / file_name(workout, sensor),
        labels_path=folder / file_name(workout, "labels", "csv"),
        pose=pose,
        imu=imu,
        first_frame=first_frame,
        fps=fps,
        clock_offset_ms=clock_offset_ms,
    )
    np.save(written.pose_path, pose)
    np.save(written.imu_path, imu)
    write_labels(written.labels_path, segments)
    return written


def write_labels(path: Path, rows: Sequence[tuple]) -> None:
    Path(path).write_text("".join(",".join(str(field) for field in row) + "\n" for row in rows))


def write_split(root: Path, workouts: Sequence[str], **kwargs) -> dict[str, Written]:
    """Several workouts with distinct content (seed per workout)."""
    return {w: write_workout(root, w, seed=i, **kwargs) for i, w in enumerate(workouts)}


TINY_SPLIT = {"train_workouts": ["w01", "w02"], "val_workouts": ["w14"], "test_workouts": ["w09"]}
TINY_SETS = [(1250, 1330, 8, "squats"), (1360, 1420, 6, "bicep_curls")]


def write_tiny_dataset(root: Path, seconds: float = 8.0, **kwargs) -> dict[str, Written]:
    """The four workouts of ``TINY_SPLIT``, each with two exercise sets."""
    workouts = [w for split in TINY_SPLIT.values() for w in split]
    return write_split(root, workouts, seconds=seconds, segments=TINY_SETS, **kwargs)


def tiny_datamodule_kwargs(data_dir: Path, cache_dir: Path | None, **overrides) -> dict:
    """MMFitDataModule arguments (the keys of conf/data/mmfit.yaml) sized for ``write_tiny_dataset``."""
    kwargs = {
        "data_dir": data_dir,
        "dataset_name": "tiny",
        "cache_dir": cache_dir,
        "synthetic": None,
        "sensors": ["sw_l_acc"],
        "joints": [14, 15, 16],
        "root_joint": 0,
        "sampling_rate_hz": 50,
        "sensor_window_length": 32,
        "stride_seconds": 0.2,
        "batch_size": 8,
        "num_workers": 0,
        "split": "default",
        **TINY_SPLIT,
    }
    kwargs.update(overrides)
    return kwargs

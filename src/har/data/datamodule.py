"""Lightning DataModule for MM-Fit (real or the synthetic twin): paired pose/IMU windows.

Each split's sessions are concatenated into one contiguous tensor per stream, so a batch is
gathered with one indexing op per stream (``WindowDataset.__getitems__``), never a per-window loop.
Batch contract: ``{"pose": (B, J, 3, T), "acc": (B, C, T), "label": (B,)}``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset

from har.data import mmfit
from har.data.align import MAX_GAP_S, Session, align
from har.data.cache import SessionCache, session_key
from har.data.mmfit_format import CLASS_NAMES, PARTICIPANT_OF, SPLITS
from har.data.normalise import AccStats, body_scale, fit_acc_stats, save_stats
from har.data.windows import WindowIndex, build_index, stride_samples
from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")
NUM_POSE_JOINTS = 17


class WindowDataset(Dataset):
    """Windows over one split's concatenated streams; ``__getitems__`` gathers a whole batch."""

    def __init__(
        self, acc: torch.Tensor, pose: torch.Tensor, root: torch.Tensor, index: WindowIndex
    ) -> None:
        self.acc = acc  # (N, C) standardised
        self.pose = pose  # (N, J, 3) body-scaled, not centred
        self.root = root  # (N, 3) body-scaled root joint trajectory
        self.start = torch.from_numpy(index.start)
        self.label = torch.from_numpy(index.label)
        self.offsets = torch.arange(index.window_length)
        self.centre = index.window_length // 2

    def __len__(self) -> int:
        return len(self.start)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self.__getitems__([i]).items()}

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        chosen = torch.as_tensor(indices, dtype=torch.long)
        start = self.start[chosen]
        samples = start[:, None] + self.offsets  # (B, T)
        # Centre on the root joint at the window's centre sample: one fixed point per window, so
        # whole-body translation within the window (squats, jumps) stays in the input.
        pose = self.pose[samples] - self.root[start + self.centre][:, None, None, :]
        return {
            "pose": pose.permute(0, 2, 3, 1).contiguous(),  # (B, T, J, 3) -> (B, J, 3, T)
            "acc": self.acc[samples].transpose(1, 2).contiguous(),  # (B, T, C) -> (B, C, T)
            "label": self.label[chosen],
        }


def _already_batched(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch


class MMFitDataModule(pl.LightningDataModule):
    """Constructor arguments are exactly the keys of ``conf/data/mmfit.yaml`` (less ``_target_``)."""

    num_classes = len(CLASS_NAMES)
    class_names = CLASS_NAMES

    def __init__(
        self,
        data_dir: str | Path,
        dataset_name: str = "mm-fit",
        cache_dir: str | Path | None = None,
        synthetic: Mapping[str, Any] | None = None,
        sensor: str = "sw_l_acc",
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
    ) -> None:
        super().__init__()
        self.dataset_name = dataset_name  # informational
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser().resolve()
        if self.cache_dir is not None and self.cache_dir.is_relative_to(self.data_dir):
            raise ConfigError(
                f"data.cache_dir={self.cache_dir} lies inside data.data_dir: derived files never go beside the raw files"
            )
        self.synthetic = _synthetic_settings(synthetic)
        self.sensor = sensor
        self.joints = [_joint(value, "data.joints") for value in _plain(joints)]
        if not self.joints:
            raise ConfigError(
                "data.joints is empty: list the Human3.6M joints (0..16) fed to the regressor"
            )
        self.root_joint = _joint(root_joint, "data.root_joint")
        self.sampling_rate_hz = _positive(sampling_rate_hz, "data.sampling_rate_hz")
        self.sensor_window_length = int(
            _positive(sensor_window_length, "data.sensor_window_length")
        )
        self.stride_seconds = _positive(stride_seconds, "data.stride_seconds")
        self.batch_size = int(_positive(batch_size, "data.batch_size"))
        self.num_workers = int(num_workers)
        self.workouts = _resolve_splits(
            split, _plain(train_workouts), _plain(val_workouts), _plain(test_workouts)
        )

        self.num_joints = len(self.joints)
        # ``imu_channels`` and ``n_classes`` are what the config claims; after setup
        # ``imu_channels`` is what the files hold and the trial checks both claims against
        # ``imu_channels``/``num_classes`` (har.training.validate.validate_against_data).
        del n_classes
        self.imu_channels = int(imu_channels)
        self.sessions: dict[str, list[Session]] = {}
        self.acc_stats: AccStats | None = None
        self.windows: dict[str, WindowIndex] = {}
        self.window_counts: dict[str, list[int]] = {}
        self.datasets: dict[str, WindowDataset] = {}
        self._session_keys: dict[str, list[str]] = {}
        self._cache = SessionCache(None if self.cache_dir is None else self.cache_dir / "mmfit")

    # ---- Lightning hooks -------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Generate the twin if configured, then read, align and cache every split's sessions."""
        self._load_sessions()

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return  # idempotent: Lightning calls setup once per stage
        sessions = self._load_sessions()
        self.acc_stats = fit_acc_stats(sessions["train"])
        self.imu_channels = len(self.acc_stats.mean)
        if self._cache.root is not None:
            digest = hashlib.sha256(" ".join(self._session_keys["train"]).encode()).hexdigest()[:32]
            save_stats(self.acc_stats, self._cache.root / f"stats-{digest}")
        stride = stride_samples(self.stride_seconds, self.sampling_rate_hz)
        for split, split_sessions in sessions.items():
            index = build_index(split_sessions, self.sensor_window_length, stride, split)
            self.windows[split] = index
            self.window_counts[split] = index.class_counts(self.num_classes)
            self.datasets[split] = self._dataset(split_sessions, index)
            log.info(
                "%s: %d workouts, %d samples, %d windows (%d samples invalid)",
                split, len(split_sessions), index.session_offsets[-1], len(index),
                sum(int((~s.valid).sum()) for s in split_sessions),
            )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        # Seeded from torch's seed, so lightning's seed_everything fixes the shuffling order.
        generator = torch.Generator().manual_seed(torch.initial_seed())
        return self._loader("train", shuffle=True, generator=generator)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    # ---- building ----------------------------------------------------------------------------
    def _load_sessions(self) -> dict[str, list[Session]]:
        if self.sessions:
            return self.sessions
        if self.synthetic is not None:
            from har.data.synthetic import ensure_mmfit_twin

            ensure_mmfit_twin(self.data_dir, **self.synthetic)
        settings = {
            "reader": "mmfit",
            "sensor": self.sensor,
            "rate_hz": self.sampling_rate_hz,
            "max_gap_s": MAX_GAP_S,
        }
        sessions: dict[str, list[Session]] = {}
        skipped: list[str] = []
        for split, workouts in self.workouts.items():
            sessions[split], self._session_keys[split] = [], []
            for workout in workouts:
                files = mmfit.workout_files(self.data_dir, workout, self.sensor)
                if not files.imu.is_file():
                    skipped.append(f"{workout} ({split})")
                    continue
                mmfit.require_files(files)
                key = session_key(workout, files.all(), settings)
                sessions[split].append(
                    self._cache.get_or_build(key, lambda w=workout: self._build(w))
                )
                self._session_keys[split].append(key)
        if skipped:
            log.warning("skipped workouts without a %s file: %s", self.sensor, ", ".join(skipped))
        for split, split_sessions in sessions.items():
            if not split_sessions:
                raise DataError(
                    f"split {split!r} has no usable workout in {self.data_dir} (listed: {', '.join(self.workouts[split])}): "
                    f"set data.{split}_workouts or data.sensor"
                )
        self.sessions = sessions
        return sessions

    def _build(self, workout: str) -> Session:
        return align(mmfit.read_workout(self.data_dir, workout, self.sensor), self.sampling_rate_hz)

    def _dataset(self, sessions: list[Session], index: WindowIndex) -> WindowDataset:
        assert self.acc_stats is not None
        scales = [body_scale(s.pose, s.workout) for s in sessions]
        pose = np.concatenate(
            [s.pose[:, self.joints] / scale for s, scale in zip(sessions, scales, strict=True)]
        )
        root = np.concatenate(
            [s.pose[:, self.root_joint] / scale for s, scale in zip(sessions, scales, strict=True)]
        )
        acc = np.concatenate([self.acc_stats.apply(s.acc) for s in sessions])
        return WindowDataset(
            acc=torch.from_numpy(acc),
            pose=torch.from_numpy(pose.astype(np.float32)),
            root=torch.from_numpy(root.astype(np.float32)),
            index=index,
        )

    def _loader(
        self, split: str, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> DataLoader:
        self.setup()
        dataset = self.datasets[split]
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=generator,
            # A last training batch of one window would break BatchNorm; evaluation sees all windows.
            drop_last=shuffle and len(dataset) > self.batch_size,
            collate_fn=_already_batched,  # __getitems__ returns the finished batch
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )


# ---- config checks ---------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Hydra ListConfig/DictConfig -> plain list/dict (other values unchanged)."""
    if isinstance(value, (ListConfig, DictConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _joint(value: Any, key: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not 0 <= value < NUM_POSE_JOINTS
    ):
        raise ConfigError(f"{key} holds {value!r}: Human3.6M joint indices are integers 0..16")
    return int(value)


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{key}={value!r} must be a positive number")
    return float(value)


def _synthetic_settings(synthetic: Any) -> dict[str, Any] | None:
    synthetic = _plain(synthetic)
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


def _resolve_splits(split: str, *explicit: Sequence[Any] | None) -> dict[str, tuple[str, ...]]:
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
